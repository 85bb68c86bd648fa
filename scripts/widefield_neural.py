import logging
import sys

from benediff.widefield.pipeline import run_neural, warn_to_log

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
warn_to_log()

run_neural(snakemake.input.locanmf, snakemake.input.atlas, snakemake.input.trials,
           snakemake.output[0], snakemake.wildcards.session, snakemake.params.cfg,
           snakemake.params.config)
