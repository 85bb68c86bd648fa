import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.widefield.pipeline import run_locanmf, warn_to_log

start(snakemake)
warn_to_log()
torch.set_num_threads(snakemake.threads)

run_locanmf(snakemake.input.hemo, snakemake.input.atlas, snakemake.output[0],
            snakemake.params.cfg,
            resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
            snakemake.params.seed)
