from benediff.figures.widefield import run_qc
from benediff.jobs import start
from benediff.widefield.pipeline import warn_to_log

start(snakemake)
warn_to_log()

run_qc(snakemake.input.locanmf, snakemake.input.atlas, snakemake.input.motion,
       snakemake.input.hemo, snakemake.output[0], snakemake.wildcards.session,
       snakemake.params.cfg, snakemake.params.config,
       labels_h5=snakemake.input.labels or None, trials_csv=snakemake.input.trials)
