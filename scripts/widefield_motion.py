from benediff.jobs import start
from benediff.widefield.pipeline import run_motion, warn_to_log

start(snakemake)
warn_to_log()

run_motion(snakemake.input.movie, snakemake.output[0], snakemake.params.cfg, snakemake.params.fmt)
