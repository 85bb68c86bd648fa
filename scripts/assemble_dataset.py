from benediff.assemble import assemble_dataset
from benediff.jobs import start

start(snakemake)

assemble_dataset(
    snakemake.output[0],
    session=snakemake.wildcards.session,
    inputs=dict(snakemake.input.items()),
    sources=snakemake.params.sources,
    image_size=snakemake.params.image_size,
    neural_noise=snakemake.params.config["dataset"].get("neural_noise", 0.0),  # absent when 0
    config=snakemake.params.config,
)
