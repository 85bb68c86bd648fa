import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import train_video_ae

start(snakemake)
torch.set_num_threads(snakemake.threads)

train_video_ae(
    snakemake.input.dataset,
    snakemake.output.model,
    snakemake.output.metrics,
    snakemake.params.cfg,
    seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
    checkpoint_dir=snakemake.params.checkpoint_dir,
)
