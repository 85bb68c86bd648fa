import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import generate_unguided

start(snakemake)
torch.set_num_threads(snakemake.threads)

factors = snakemake.params.factors
generate_unguided(
    region=snakemake.wildcards.region,
    factors=factors,
    latents_path=snakemake.input.latents,
    ae_path=snakemake.input.ae,
    vae_path=snakemake.input.vae,
    encoder_path=snakemake.input.encoder,
    model_path=snakemake.input.model,
    out_h5=dict(zip(factors, snakemake.output.h5)),
    out_mp4=snakemake.output.mp4,
    cfg=snakemake.params.cfg,
    seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
)
