import logging
import sys

from benediff.figures.lvm import trajectory_figure

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

trajectory_figure(
    dict(zip(snakemake.params.regions, snakemake.input)),
    snakemake.params.factors,
    snakemake.params.n_trials,
    snakemake.output[0],
    draw_seed=snakemake.config["seed"],
    config=snakemake.config,
    seed=snakemake.config["seed"],
)
