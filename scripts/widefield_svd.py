import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.widefield.pipeline import run_svd, warn_to_log

start(snakemake)
warn_to_log()
torch.set_num_threads(snakemake.threads)

run_svd(snakemake.input.movie, snakemake.input.motion, snakemake.input.atlas,
        snakemake.input.trials, snakemake.output[0], snakemake.params.cfg,
        resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
        snakemake.params.fmt)
