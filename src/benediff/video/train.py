"""Training of the video diffusion model with EMA weights and exact checkpoint/resume.

A run is a pure function of its config: the data order of step k is drawn from (seed, epoch),
the noise and timesteps come from one torch.Generator whose state is checkpointed with the
model, EMA, optimiser and AMP scaler by the one loop of :mod:`benediff.training` (every
``checkpoint_every`` steps, at the end and at a SIGTERM), so a killed job restarted with the
same arguments ends with the same weights as an uninterrupted run (CPU).
"""

import copy
from pathlib import Path

import numpy as np
import torch

from benediff.device import torch_device
from benediff.video.autoencoder import FrameAutoencoder
from benediff.checkpoint import array_digest, load_model_file, save_model_file
from benediff.training import Fit, Loop, epoch_order, train
from benediff.video.diffusion import GaussianDiffusion
from benediff.video.unet3d import UNet3D

CHECKPOINT_NAME = "diffusion.ckpt"
MODEL_CLASSES = {"UNet3D": UNet3D, "FrameAutoencoder": FrameAutoencoder}
GRAD_CLIP = 1.0
CLIP_SLACK = 1.5  # normalised held-out latents may overshoot the training range a little


class TrainingDataError(ValueError):
    """Latent clips or conditions with the wrong shape or values."""


def train_diffusion(
    latent_clips: np.ndarray,
    *,
    model_config: dict,
    diffusion_config: dict,
    steps: int,
    batch_size: int,
    lr: float,
    ema_decay: float,
    seed: int,
    device="cpu",
    checkpoint_dir=None,
    checkpoint_every: int = 100,
    cond: np.ndarray | None = None,
    cond_dropout: float = 0.0,
    progress: bool = True,
):
    """Train UNet3D(**model_config) on normalised latent clips (n_clips, C, F, h, w).

    cond (n_clips, F, cond_dim) trains a conditional model whose condition is dropped per sample
    with probability cond_dropout (classifier-free guidance). Returns (ema_model, history) with
    history a list of {"step", "loss"}.
    """
    diffusion = GaussianDiffusion(**diffusion_config)
    clips, cond = _check_data(latent_clips, cond, model_config, diffusion.clip_sample)
    device = torch_device(device)
    torch.manual_seed(seed)
    model = UNet3D(**model_config).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")  # AMP only on GPU
    generator = torch.Generator().manual_seed(seed)
    run_config = dict(
        model=model.config, diffusion=_training_keys(diffusion.config), batch_size=batch_size, lr=lr,
        ema_decay=ema_decay, seed=seed, cond_dropout=cond_dropout,
        data=array_digest(clips), cond=None if cond is None else array_digest(cond),
    )  # fmt: skip
    state = dict(model=model, ema=ema, optimiser=optimiser, scaler=scaler, generator=generator)

    def step(step_index, idx):
        return _train_step(state, diffusion, clips, cond, idx, cond_dropout, ema_decay, device)

    def batches(step_index):  # one batch per step; epochs wrap across steps
        return [_batch_indices(len(clips), batch_size, seed, step_index)]

    def end(step_index, losses):
        return {"step": step_index + 1, "loss": losses[0]}

    loop = Loop("diffusion training", steps, unit="step",
                checkpoint=Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None,
                checkpoint_every=checkpoint_every, fingerprint=run_config, show="loss",
                bar=progress)
    history = train(loop, Fit(step, batches, state, model, end))
    return ema.eval(), history


def _training_keys(diffusion_config: dict) -> dict:
    """The diffusion settings that change training (clip_sample only affects sampling)."""
    return {k: v for k, v in diffusion_config.items() if k != "clip_sample"}


def _check_data(latent_clips, cond, model_config, clip_sample):
    clips = np.asarray(latent_clips, dtype=np.float32)
    channels = model_config.get("channels", 1)
    if clips.ndim != 5 or clips.shape[1] != channels or len(clips) == 0:
        raise TrainingDataError(
            f"latent clips have shape {clips.shape}; expected (n_clips, {channels}, frames, h, w) with "
            "model channels = autoencoder latent_channels"
        )
    if not np.isfinite(clips).all():
        raise TrainingDataError("latent clips contain NaN or inf; re-encode the behaviour clips")
    peak = float(np.abs(clips).max())
    if clip_sample and peak > CLIP_SLACK * clip_sample:
        raise TrainingDataError(
            f"latent clips reach |x| = {peak:.2f} but the sampler clips x̂0 to ±{clip_sample}; "
            "normalise them with autoencoder.fit_latent_scale/normalise_latents or raise "
            "diffusion clip_sample (null disables clipping)"
        )
    if cond is None:
        return torch.from_numpy(clips), None
    cond = np.asarray(cond, dtype=np.float32)
    cond_dim = model_config.get("cond_dim")
    expected = (len(clips), clips.shape[2], cond_dim)
    if cond.shape != expected:
        raise TrainingDataError(
            f"condition has shape {cond.shape}; expected (n_clips, frames, cond_dim) = {expected} "
            "(set model cond_dim to the number of latent factors)"
        )
    return torch.from_numpy(clips), torch.from_numpy(cond)


def _batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of step ``step``: epochs are seeded permutations, batches wrap across epochs."""
    start = step * batch_size
    epoch, offset = divmod(start, n)
    idx = []
    while len(idx) < batch_size:
        perm = epoch_order(seed, epoch, n)
        idx.extend(perm[offset : offset + batch_size - len(idx)].tolist())
        epoch, offset = epoch + 1, 0
    return np.asarray(idx)


def _train_step(state, diffusion, clips, cond, idx, cond_dropout, ema_decay, device) -> float:
    model, optimiser, scaler, generator = (
        state["model"],
        state["optimiser"],
        state["scaler"],
        state["generator"],
    )
    model.train()
    x0 = clips[idx].to(device)
    batch_cond = keep = None
    if cond is not None:
        batch_cond = cond[idx].to(device)
        keep = (torch.rand(len(idx), generator=generator) >= cond_dropout).float().to(device)
    with torch.autocast(
        device_type=device.type, dtype=torch.float16, enabled=device.type == "cuda"
    ):
        loss = diffusion.loss(model, x0, cond=batch_cond, generator=generator, cond_keep=keep)
    optimiser.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimiser)
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    scaler.step(optimiser)
    scaler.update()
    _update_ema(state["ema"], model, ema_decay)
    return float(loss.detach())


@torch.no_grad()
def _update_ema(ema, model, decay):
    for ema_p, p in zip(ema.parameters(), model.parameters()):
        ema_p.lerp_(p, 1 - decay)


# --------------------------------------------------------------------------------------------
# model files


def save_model(path, model, config: dict) -> None:
    """Write weights + constructor arguments + a caller config (e.g. latent scale) atomically
    (:func:`benediff.checkpoint.save_model_file`, the model's class name as its kind)."""
    kind = type(model).__name__
    if kind not in MODEL_CLASSES:
        raise TypeError(f"save_model supports {sorted(MODEL_CLASSES)}, not {kind}")
    save_model_file(path, kind, model_kwargs=model.config, config=config,
                    state_dict=model.state_dict())


def load_model(path):
    """Return (model in eval mode on CPU, config) from a file written by save_model."""
    saved = load_model_file(path, tuple(MODEL_CLASSES))
    model = MODEL_CLASSES[saved["kind"]](**saved["model_kwargs"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved["config"]
