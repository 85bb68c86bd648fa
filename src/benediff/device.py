"""The torch device of a job: from config, with a declared fallback when no GPU is visible."""

import logging
import os

log = logging.getLogger(__name__)


class DeviceError(RuntimeError):
    pass


def resolve_device(requested: str = "cpu", fallback: str = "warn") -> str:
    """Map config ``device`` (cpu | cuda | cuda:N | auto) to a usable torch device string.

    ``cuda`` without a visible GPU follows ``fallback``: ``warn`` runs on CPU with a warning
    (e.g. a SLURM node whose GPUs are not CUDA devices), ``fail`` raises.
    """
    import torch

    requested = "auto" if requested is None else str(requested)
    if requested not in ("cpu", "cuda", "auto") and not requested.startswith("cuda:"):
        raise DeviceError(f"device {requested!r} is not one of cpu, cuda, cuda:N, auto")
    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return requested if requested.startswith("cuda") else "cuda"
    if requested == "auto":
        return "cpu"
    message = ("config device is 'cuda' but torch sees no CUDA GPU "
               f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}, "
               f"torch {torch.__version__})")
    if fallback == "fail":
        raise DeviceError(message + "; install a CUDA build of torch, run on a GPU node, "
                          "or set device: cpu (or gpu_fallback: warn)")
    message += "; falling back to CPU (gpu_fallback: warn)"
    log.warning(message)
    print(f"WARNING: {message}", flush=True)  # a job's stdout reaches the console
    return "cpu"


def torch_device(requested="cpu"):
    """``resolve_device`` for library code: a ``torch.device``, and an error (no silent
    fallback) when CUDA is asked for but absent; the job scripts decide fallbacks first."""
    import torch

    return torch.device(resolve_device(requested, fallback="fail"))


def job_environment() -> dict:
    """Scheduler facts of the running job, recorded in provenance (proves where a job ran)."""
    keys = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES",
            "SLURMD_NODENAME")
    return {k.lower(): os.environ[k] for k in keys if k in os.environ}
