"""Rule simulate_session: simulate one session's raw inputs into its resources directory."""

import logging
import sys
from pathlib import Path

from benediff.simulate import SimParams, simulate_session

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

simulate_session(Path(snakemake.output.truth).parent, SimParams.from_dict(snakemake.params.sim))
