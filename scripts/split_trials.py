import logging
import sys

from benediff.assemble import split_from_trials_table

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

split_from_trials_table(
    snakemake.input.trials,
    snakemake.output[0],
    blocks=snakemake.params.blocks,
    seed=snakemake.params.seed,
)
