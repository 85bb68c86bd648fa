from benediff.jobs import start
from benediff.widefield.landmarks import run_guess
from benediff.widefield.pipeline import warn_to_log

start(snakemake)
warn_to_log()

run_guess(snakemake.input.movie, snakemake.input.atlas, snakemake.output.json,
          snakemake.output.png, snakemake.params.cfg, snakemake.params.fmt,
          motion_h5=snakemake.input.motion,
          title=f"{snakemake.wildcards.session}: starting guess for landmarks.json; check it, "
          "edit it with `benediff landmarks`")
