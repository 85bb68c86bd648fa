from benediff.figures.behavior import make_fig1b
from benediff.jobs import start

start(snakemake)

fig1b = snakemake.params.fig1b
make_fig1b(
    snakemake.input[0],
    snakemake.output.pdf,
    snakemake.output.csv,
    regions=snakemake.params.regions,
    n_folds=fig1b["n_folds"],
    alpha=fig1b["alpha"],
    seed=snakemake.params.seed,
    config=snakemake.params.stage_config,
)
