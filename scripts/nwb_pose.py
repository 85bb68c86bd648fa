from benediff.behavior.nwb_inputs import import_nwb_pose
from benediff.jobs import start

start(snakemake)

import_nwb_pose(snakemake.input[0], snakemake.output.h5, snakemake.output.times,
                name=snakemake.params.name, session=snakemake.wildcards.session)
