from benediff.jobs import start
from benediff.widefield.pipeline import run_atlas, warn_to_log

start(snakemake)
warn_to_log()

run_atlas(snakemake.input.atlas, snakemake.input.landmarks, snakemake.input.movie,
          snakemake.output[0], snakemake.params.cfg, snakemake.params.fmt,
          motion_h5=snakemake.input.motion)
