import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import encode_frame_latents

start(snakemake)
torch.set_num_threads(snakemake.threads)

encode_frame_latents(
    snakemake.input.dataset,
    snakemake.input.ae,
    snakemake.output[0],
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
)
