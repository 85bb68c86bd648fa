from benediff.assemble import import_behavenet_dataset
from benediff.jobs import start

start(snakemake)

import_behavenet_dataset(
    snakemake.output[0],
    session=snakemake.wildcards.session,
    session_config=snakemake.params.session_config,
    behaviors=snakemake.params.behaviors,
    regions=snakemake.params.regions,
    split=snakemake.params.split,
    config=snakemake.params.config,
)
