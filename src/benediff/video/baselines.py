"""Generation baselines (paper §3.2.1): naive latent manipulation and classifier-free guidance.

Both manipulate factor d the same way: factor d follows a reference trajectory stretched to the
factor's observed range, every other factor is held at its first-frame value.
"""

from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch import nn

from benediff.checkpoint import array_digest, load_model_file, save_model_file
from benediff.device import torch_device
from benediff.training import Fit, Loop, train

CHECKPOINT_NAME = "naive_decoder.ckpt"


class BaselineError(ValueError):
    """Inputs of a generation baseline disagree in shape or index."""


def manipulated_trajectory(reference, factor: int, value_range) -> np.ndarray:
    """(F, D) condition: factor ``factor`` swept over ``value_range`` along the shape of its
    reference trajectory, the others frozen at their first-frame values."""
    reference = np.asarray(reference, dtype=np.float32)
    n_bins, n_factors = reference.shape
    if not 0 <= factor < n_factors:
        raise BaselineError(f"factor index {factor} is out of range for {n_factors} factors "
                            f"(valid: 0..{n_factors - 1})")
    z = np.repeat(reference[:1], n_bins, axis=0)
    track = reference[:, factor]
    span = track.max() - track.min()
    unit = (track - track.min()) / span if span > 0 else np.linspace(0, 1, n_bins)
    lo, hi = value_range
    z[:, factor] = lo + (hi - lo) * unit
    return z


class NaiveDecoder(nn.Module):
    """p(Y | Z): bidirectional GRU over the latent trajectory, then spatio-temporal 3D convs.

    Z (B, F, D) → clip (B, C, F, h, w) in the diffusion model's (normalised) latent space.
    """

    def __init__(self, n_factors: int, clip_shape, hidden: int = 32, channels: int = 16):
        super().__init__()
        self.out_channels, self.height, self.width = clip_shape
        self.channels = channels
        self.config = {"n_factors": n_factors, "clip_shape": list(clip_shape),
                       "hidden": hidden, "channels": channels}
        self.gru = nn.GRU(n_factors, hidden, batch_first=True, bidirectional=True)
        self.to_grid = nn.Linear(2 * hidden, channels * self.height * self.width)
        self.convs = nn.Sequential(
            nn.Conv3d(channels, channels, 3, padding=1), nn.GroupNorm(4, channels), nn.SiLU(),
            nn.Conv3d(channels, channels, 3, padding=1), nn.GroupNorm(4, channels), nn.SiLU(),
            nn.Conv3d(channels, self.out_channels, 1),
        )

    def forward(self, z):
        h, _ = self.gru(z)
        grid = rearrange(self.to_grid(h), "b f (c h w) -> b c f h w",
                         c=self.channels, h=self.height, w=self.width)
        return self.convs(grid)


def train_naive_decoder(latents, clips, *, hidden=32, channels=16, epochs=60, batch_size=8,
                        lr=3e-3, seed=0, device="cpu", checkpoint_dir=None,
                        checkpoint_every=1) -> NaiveDecoder:
    """Fit ``NaiveDecoder`` by MSE on (Z trajectory (n, F, D), clip (n, C, F, h, w)) pairs.

    Run by :func:`benediff.training.train`: with ``checkpoint_dir`` it is saved every
    ``checkpoint_every`` epochs (and at a SIGTERM) and a restarted run resumes exactly."""
    latents = torch.as_tensor(np.asarray(latents), dtype=torch.float32)
    clips = torch.as_tensor(np.asarray(clips), dtype=torch.float32)
    if latents.ndim != 3 or clips.ndim != 5 or latents.shape[:2] != (clips.shape[0], clips.shape[2]):
        raise BaselineError(
            f"naive decoder needs latents (n, F, D) and clips (n, C, F, h, w) with the same n and "
            f"F; got {tuple(latents.shape)} and {tuple(clips.shape)}")
    torch.manual_seed(seed)
    device = torch_device(device)
    model = NaiveDecoder(latents.shape[2], (clips.shape[1], *clips.shape[3:]), hidden, channels)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)

    def batches(_epoch):
        return torch.randperm(len(latents), generator=order).split(batch_size)

    def step(_epoch, idx):
        loss = nn.functional.mse_loss(model(latents[idx].to(device)), clips[idx].to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    fingerprint = dict(model=model.config, batch_size=batch_size, lr=lr, seed=seed,
                       data=array_digest(latents.numpy(), clips.numpy()))
    loop = Loop("naive decoder training", epochs, fingerprint=fingerprint,
                checkpoint=Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None,
                checkpoint_every=checkpoint_every)
    train(loop, Fit(step, batches, {"model": model, "optimiser": optimiser, "order": order},
                    model))
    return model.eval()


@torch.no_grad()
def naive_generate(model: NaiveDecoder, trajectory, device="cpu") -> np.ndarray:
    """Decode one manipulated trajectory (F, D) into a clip (C, F, h, w)."""
    z = torch.as_tensor(np.asarray(trajectory), dtype=torch.float32)[None]
    device = torch_device(device)
    return model.to(device)(z.to(device))[0].cpu().numpy()


class GuidedByCondition(nn.Module):
    """Classifier-free guidance (Ho & Salimans 2022): ε = (1+w)·ε(x, t, Z) − w·ε(x, t, ∅).

    The wrapped model treats ``cond=None`` as the dropped (unconditional) condition.
    """

    def __init__(self, model: nn.Module, weight: float):
        super().__init__()
        self.model, self.weight = model, float(weight)

    def forward(self, x, t, cond=None):
        if cond is None:
            raise BaselineError("classifier-free guidance needs a condition trajectory (B, F, D)")
        conditional = self.model(x, t, cond)
        if self.weight == 0:
            return conditional
        return (1 + self.weight) * conditional - self.weight * self.model(x, t, None)


def save_naive_decoder(path, model: NaiveDecoder, **meta) -> None:
    """The naive decoder's file: constructor arguments, weights and ``meta`` (e.g. factor names),
    laid out as every model file (:func:`benediff.checkpoint.save_model_file`)."""
    save_model_file(path, "NaiveDecoder", model_kwargs=model.config, config=meta,
                    state_dict=model.state_dict())


def load_naive_decoder(path) -> NaiveDecoder:
    """A naive decoder written by :func:`save_naive_decoder`, in eval mode (also a file of the
    layout before the model files had a kind: ``config``, ``state``, ``meta``)."""
    saved = load_model_file(path, ("NaiveDecoder",), default_kind="NaiveDecoder")
    if "state_dict" not in saved:  # the earlier layout
        saved = {"model_kwargs": saved["config"], "state_dict": saved["state"]}
    model = NaiveDecoder(**saved["model_kwargs"])
    model.load_state_dict(saved["state_dict"])
    return model.eval()
