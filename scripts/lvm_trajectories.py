from benediff.figures.lvm import trajectory_figure
from benediff.jobs import start

start(snakemake)

trajectory_figure(
    dict(zip(snakemake.params.regions, snakemake.input)),
    snakemake.params.factors,
    snakemake.params.n_trials,
    snakemake.output[0],
    draw_seed=snakemake.params.seed,
    config=snakemake.params.config,
    seed=snakemake.params.seed,
)
