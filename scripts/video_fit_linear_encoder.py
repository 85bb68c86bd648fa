from benediff.jobs import start
from benediff.video.pipeline import fit_linear_encoder

start(snakemake)

fit_linear_encoder(
    snakemake.input.latents,
    snakemake.input.vae,
    snakemake.output.encoder,
    snakemake.output.metrics,
    snakemake.params.cfg,
)
