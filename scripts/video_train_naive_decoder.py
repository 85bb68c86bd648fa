import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import train_naive

start(snakemake)
torch.set_num_threads(snakemake.threads)

train_naive(
    snakemake.input.latents,
    snakemake.input.vae,
    snakemake.output[0],
    snakemake.params.cfg,
    seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
)
