import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.video.pipeline import generate, generation_inputs

start(snakemake)
torch.set_num_threads(snakemake.threads)

p = snakemake.params
# outputs: results/video/<session>/<region>/generated/<method>/<factor>.h5, one per factor, in order
first = snakemake.output.h5[0].split("/")
region, method = first[-4], first[-2]
device = resolve_device(p.device, p.gpu_fallback)
for i, factor in enumerate(p.factors):
    generate(
        method,
        region=region,
        factor=factor,
        **generation_inputs(snakemake.input),
        out_h5=snakemake.output.h5[i],
        out_mp4=snakemake.output.mp4[i],
        cfg=p.cfgs[i],
        seed=p.seed,
        device=device,
    )
