from benediff.jobs import start
from benediff.widefield.pipeline import run_neural, warn_to_log

start(snakemake)
warn_to_log()

run_neural(snakemake.input.locanmf, snakemake.input.atlas, snakemake.input.trials,
           snakemake.output[0], snakemake.wildcards.session, snakemake.params.cfg,
           snakemake.params.config, regions=snakemake.params.regions)
