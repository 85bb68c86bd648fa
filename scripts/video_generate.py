import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import generate, generation_inputs

start(snakemake)
torch.set_num_threads(snakemake.threads)

generate(
    snakemake.wildcards.method,
    region=snakemake.wildcards.region,
    factor=snakemake.wildcards.factor,
    **generation_inputs(snakemake.input),
    out_h5=snakemake.output.h5,
    out_mp4=snakemake.output.mp4,
    cfg=snakemake.params.cfg,
    seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
)
