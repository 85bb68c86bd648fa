import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import train_cfg_vdm

start(snakemake)
torch.set_num_threads(snakemake.threads)

train_cfg_vdm(
    snakemake.input.latents,
    snakemake.input.vae,
    snakemake.output[0],
    snakemake.params.cfg,
    snakemake.params.cfg_cfg,
    seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
    checkpoint_dir=snakemake.params.checkpoint_dir,
)
