"""Rule simulate_session: simulate one session's raw inputs into its resources directory."""

from pathlib import Path

from benediff.jobs import start
from benediff.simulate import SimParams, simulate_session

start(snakemake)

simulate_session(Path(snakemake.output.truth).parent, SimParams.from_dict(snakemake.params.sim))
