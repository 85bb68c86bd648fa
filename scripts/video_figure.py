import logging
import sys

from benediff.figures.video import make_figure

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

make_figure(
    snakemake.params.settings["kind"],
    dict(zip(snakemake.params.entries, snakemake.input)),
    snakemake.output[0],
    snakemake.params.settings,
    config=snakemake.params.config,
    seed=snakemake.params.seed,
)
