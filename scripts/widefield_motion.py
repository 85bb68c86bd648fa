import logging
import sys

from benediff.widefield.pipeline import run_motion, warn_to_log

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
warn_to_log()

run_motion(snakemake.input.movie, snakemake.output[0], snakemake.params.cfg, snakemake.params.fmt)
