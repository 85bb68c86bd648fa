import torch

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.widefield.pipeline import run_hemo, warn_to_log

start(snakemake)
warn_to_log()
torch.set_num_threads(snakemake.threads)

run_hemo(snakemake.input[0], snakemake.output[0], snakemake.params.cfg,
         resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
         motion_h5=snakemake.input.motion)
