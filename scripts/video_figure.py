from benediff.figures.video import make_figure
from benediff.jobs import start

start(snakemake)

make_figure(
    snakemake.params.settings["kind"],
    dict(zip(snakemake.params.entries, snakemake.input)),
    snakemake.output[0],
    snakemake.params.settings,
    config=snakemake.params.config,
    seed=snakemake.params.seed,
)
