import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import generate_unguided, generation_inputs

start(snakemake)
torch.set_num_threads(snakemake.threads)

factors = snakemake.params.factors
generate_unguided(
    region=snakemake.wildcards.region,
    factors=factors,
    **generation_inputs(snakemake.input),
    out_h5=dict(zip(factors, snakemake.output.h5)),
    out_mp4=snakemake.output.mp4,
    cfg=snakemake.params.cfg,
    seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
)
