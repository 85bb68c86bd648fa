from benediff.assemble import assemble_dataset
from benediff.jobs import start

start(snakemake)

assemble_dataset(
    snakemake.output[0],
    session=snakemake.wildcards.session,
    inputs=dict(snakemake.input.items()),
    sources=snakemake.params.sources,
    image_size=snakemake.params.image_size,
    neural_noise=snakemake.params.neural_noise,
    config=snakemake.params.config,
)
