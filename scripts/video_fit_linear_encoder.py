import logging
import sys

from benediff.video.pipeline import fit_linear_encoder

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

fit_linear_encoder(
    snakemake.input.latents,
    snakemake.input.vae,
    snakemake.output.encoder,
    snakemake.output.metrics,
    snakemake.params.cfg,
)
