import logging
import sys

import torch

from benediff.device import resolve_device
from benediff.video.pipeline import encode_frame_latents

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
torch.set_num_threads(snakemake.threads)

encode_frame_latents(
    snakemake.input.dataset,
    snakemake.input.ae,
    snakemake.output[0],
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
)
