import logging
import sys

from benediff.assemble import assemble_dataset

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

assemble_dataset(
    snakemake.output[0],
    session=snakemake.wildcards.session,
    inputs=dict(snakemake.input.items()),
    sources=snakemake.params.sources,
    image_size=snakemake.params.image_size,
    config=snakemake.params.config,
)
