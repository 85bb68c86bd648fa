"""Per-frame convolutional video autoencoder: behaviour frames → small latent grid → frames.

Frames are (B, C_views, S, S) in [0, 1]; latents are (B, c, h, w) with h = w = latent_size.
Each halving of the resolution is one stride-2 convolution, so S / latent_size must be a power
of two. The decoder mirrors the encoder and ends in a sigmoid.
"""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benediff.checkpoint import array_digest
from benediff.device import torch_device
from benediff.training import Fit, Loop, epoch_order, train

MAX_CHANNEL_MULT = 4
CHECKPOINT_NAME = "autoencoder.ckpt"


class AutoencoderConfigError(ValueError):
    """Autoencoder sizes that cannot work together (e.g. image and latent size)."""


def _groups(channels: int) -> int:
    return math.gcd(8, channels)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
        nn.GroupNorm(_groups(c_out), c_out),
        nn.SiLU(),
    )


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1),
        nn.GroupNorm(_groups(c_out), c_out),
        nn.SiLU(),
    )


class FrameAutoencoder(nn.Module):
    """Per-frame conv encoder/decoder: (B, C, S, S) in [0,1] ↔ latent (B, c, h, w)."""

    def __init__(
        self, in_channels=2, image_size=32, latent_size=8, latent_channels=1, base_channels=16
    ):
        super().__init__()
        n_down = _n_downsamplings(image_size, latent_size)
        self.config = dict(
            in_channels=in_channels,
            image_size=image_size,
            latent_size=latent_size,
            latent_channels=latent_channels,
            base_channels=base_channels,
        )
        widths = [base_channels * min(2**i, MAX_CHANNEL_MULT) for i in range(n_down + 1)]
        encoder = [nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.SiLU()]
        encoder += [_down(widths[i], widths[i + 1]) for i in range(n_down)]
        encoder += [nn.Conv2d(widths[-1], latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)
        decoder = [nn.Conv2d(latent_channels, widths[-1], 3, padding=1), nn.SiLU()]
        decoder += [_up(widths[i + 1], widths[i]) for i in reversed(range(n_down))]
        decoder += [nn.Conv2d(widths[0], in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        expected = (
            self.config["in_channels"],
            self.config["image_size"],
            self.config["image_size"],
        )
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise AutoencoderConfigError(
                f"frames of shape {tuple(x.shape)} do not fit the autoencoder, which expects "
                f"(batch, {expected[0]}, {expected[1]}, {expected[2]}); "
                "set video autoencoder in_channels/image_size to match the behaviour clips"
            )
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c, s = self.config["latent_channels"], self.config["latent_size"]
        if z.ndim != 4 or tuple(z.shape[1:]) != (c, s, s):
            raise AutoencoderConfigError(
                f"latents of shape {tuple(z.shape)} do not fit the autoencoder, which expects "
                f"(batch, {c}, {s}, {s}); latent_channels/latent_size must match the trained model"
            )
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _n_downsamplings(image_size: int, latent_size: int) -> int:
    ratio = image_size / latent_size
    n = int(round(math.log2(ratio))) if ratio >= 1 else -1
    if latent_size < 1 or n < 0 or 2**n * latent_size != image_size:
        raise AutoencoderConfigError(
            f"image_size={image_size} / latent_size={latent_size} is not a power of two; "
            "choose latent_size so that image_size = latent_size · 2^k (e.g. 128 → 4 or 8)"
        )
    return n


# --------------------------------------------------------------------------------------------
# training


def train_autoencoder(
    images_train: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device="cpu",
    checkpoint_dir=None,
    checkpoint_every: int = 1,
    progress: bool = True,
    model_config: dict | None = None,
    micro_batch: int | None = None,
) -> FrameAutoencoder:
    """Fit a FrameAutoencoder to uint8 frames (n_frames, C, S, S) by pixel MSE with Adam.

    ``model_config`` holds latent_size / latent_channels / base_channels (in_channels and
    image_size come from the data). With ``checkpoint_dir`` the run is saved every
    ``checkpoint_every`` epochs (and at a SIGTERM) by :func:`benediff.training.train`; a restarted
    run resumes from there (same config required) and ends with the same weights. Each epoch
    visits the frames in an order fixed by (seed, epoch).

    ``micro_batch`` frames at most go through the network at once (None:
    :func:`auto_micro_batch`): a larger batch's gradient is accumulated over its micro-batches
    (:func:`train_step`), the same as the whole batch's up to float rounding, with one optimiser
    step per batch. It bounds the step's activation memory; a batch no larger than
    ``micro_batch`` runs as before, bit for bit.
    """
    images_train = _check_frames(images_train)
    device = torch_device(device)
    _, channels, size, _ = images_train.shape
    model_kwargs = {**(model_config or {}), "in_channels": channels, "image_size": size}
    torch.manual_seed(seed)
    model = FrameAutoencoder(**model_kwargs).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    if micro_batch is None:
        micro_batch = auto_micro_batch(model.config["base_channels"], size)
    if micro_batch < 1:
        raise AutoencoderConfigError(f"micro_batch={micro_batch}; it must be at least 1")
    run_config = dict(
        model=model.config, batch_size=batch_size, lr=lr, seed=seed, data=array_digest(images_train)
    )
    if micro_batch < batch_size:  # equal up to rounding: a resumed run must split as it did
        run_config["micro_batch"] = micro_batch
    frames = torch.from_numpy(images_train)

    def batches(epoch):
        order = epoch_order(seed, epoch, len(frames))
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]

    def step(_epoch, idx):
        return train_step(model, optimiser, frames, idx, micro_batch, device)

    def end(_epoch, losses):
        return {"mse": sum(losses) / len(frames)}

    ckpt = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    loop = Loop("autoencoder training", epochs, checkpoint=ckpt, checkpoint_every=checkpoint_every,
                fingerprint=run_config, show="mse", note="mse", bar=progress)
    train(loop, Fit(step, batches, {"model": model, "optimiser": optimiser}, model, end))
    return model.eval()


# activations of one micro-batch: frames × base_channels × image_size² at most (the first
# layer's width at full resolution, where most of a step's activations are): 16 frames of the
# study's 32 channels × 128 px (one step ≈ 0.5 GB instead of ≈ 2 GB at batch 64), whole
# batches of 128 frames at the demo's 16 channels × 64 px
MICRO_BATCH_BUDGET = 2**23


def auto_micro_batch(base_channels: int, image_size: int) -> int:
    """Frames per forward/backward pass when ``micro_batch`` is not set: as many as keep
    frames × base_channels × image_size² within :data:`MICRO_BATCH_BUDGET` (at least one)."""
    return max(1, MICRO_BATCH_BUDGET // (base_channels * image_size**2))


def train_step(model, optimiser, frames: torch.Tensor, idx, micro_batch: int, device) -> float:
    """One Adam step on the uint8 ``frames[idx]`` by pixel MSE, the batch's mean over all its
    frames, its gradient accumulated over micro-batches of ``micro_batch`` frames (each
    micro-batch's mean loss weighted by its share of the batch); returns the loss × frames."""
    optimiser.zero_grad(set_to_none=True)
    total, n = 0.0, len(idx)
    for start in range(0, n, micro_batch):
        part = idx[start : start + micro_batch]
        batch = frames[part].to(device).float() / 255.0
        loss = F.mse_loss(model(batch), batch)
        (loss if len(part) == n else loss * (len(part) / n)).backward()
        total += loss.item() * len(part)
    optimiser.step()
    return total


def _check_frames(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    square = images.ndim == 4 and images.shape[2] == images.shape[3]
    if images.dtype != np.uint8 or not square or len(images) == 0:
        raise AutoencoderConfigError(
            f"images_train has dtype {images.dtype} and shape {images.shape}; expected a non-empty "
            "uint8 array (n_frames, views, S, S) of square frames (dataset images/ group)"
        )
    return np.ascontiguousarray(images)


# --------------------------------------------------------------------------------------------
# encoding whole frame sets, latent normalisation


@torch.no_grad()
def encode_frames(
    model: FrameAutoencoder, frames: np.ndarray, *, batch_size=256, device="cpu"
) -> np.ndarray:
    """uint8 (or [0,1] float) frames (n, C, S, S) → float32 latents (n, c, h, w)."""
    return _map_batches(model, model.encode, _to_unit(frames), batch_size, device)


@torch.no_grad()
def decode_latents(
    model: FrameAutoencoder, latents: np.ndarray, *, batch_size=256, device="cpu"
) -> np.ndarray:
    """float latents (n, c, h, w) → float32 frames (n, C, S, S) in [0, 1]."""
    return _map_batches(
        model, model.decode, np.asarray(latents, dtype=np.float32), batch_size, device
    )


def _to_unit(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames.astype(np.float32) / 255.0
    return frames.astype(np.float32)


def _map_batches(model, fn, array: np.ndarray, batch_size: int, device) -> np.ndarray:
    if len(array) == 0:
        raise AutoencoderConfigError(
            "no frames/latents to encode or decode: the input array is empty"
        )
    device = torch_device(device)
    was_training = model.training
    model.eval().to(device)
    parts = [
        fn(torch.from_numpy(array[i : i + batch_size]).to(device)).cpu().numpy()
        for i in range(0, len(array), batch_size)
    ]
    model.train(was_training)
    return np.concatenate(parts).astype(np.float32)


def fit_latent_scale(latents: np.ndarray) -> dict:
    """Per-latent-channel centre and scale that map training frame latents (n, c, h, w) into [-1, 1].

    The samplers clip x̂0 to [-1, 1] (as the public code did), hence max-abs scaling rather than
    unit variance. Returns JSON-ready {"mean": [c], "scale": [c]}.
    """
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 4 or len(latents) == 0:
        raise AutoencoderConfigError(
            f"fit_latent_scale got shape {latents.shape}; pass frame latents (n, c, h, w) from encode_frames"
        )
    axes = (0, 2, 3)
    mean = latents.mean(axis=axes)
    centred = latents - mean[None, :, None, None]
    scale = np.abs(centred).max(axis=axes)
    scale = np.where(scale > 0, scale, 1.0)
    return {"mean": mean.tolist(), "scale": scale.tolist()}


def normalise_latents(latents: np.ndarray, stats: dict) -> np.ndarray:
    """Frame latents (n, c, h, w) → normalised float32 using fit_latent_scale's stats."""
    mean, scale = _stats_arrays(stats, latents)
    return ((latents - mean) / scale).astype(np.float32)


def denormalise_latents(latents: np.ndarray, stats: dict) -> np.ndarray:
    mean, scale = _stats_arrays(stats, latents)
    return (latents * scale + mean).astype(np.float32)


def _stats_arrays(stats: dict, latents: np.ndarray):
    mean = np.asarray(stats["mean"], dtype=np.float64)
    if latents.ndim != 4 or latents.shape[1] != len(mean):
        raise AutoencoderConfigError(
            f"latents of shape {latents.shape} do not match the {len(mean)}-channel latent scale; "
            "pass frame latents (n, c, h, w) from the same autoencoder"
        )
    return (
        mean[None, :, None, None],
        np.asarray(stats["scale"], dtype=np.float64)[None, :, None, None],
    )


# --------------------------------------------------------------------------------------------
# metrics


def psnr(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over whole arrays in [0, data_range]."""
    x, y = _same_shape(x, y)
    mse = np.mean((x - y) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def ssim(x: np.ndarray, y: np.ndarray, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Mean SSIM of the 2-D images in the last two axes (Wang et al. 2004, Gaussian window).

    Matches skimage's structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=...) averaged over all leading axes: statistics by a
    Gaussian window of radius int(3.5·σ + 0.5), computed only where the window fits.
    """
    x, y = _same_shape(x, y)
    radius = int(3.5 * sigma + 0.5)
    if x.ndim < 2 or min(x.shape[-2:]) < 2 * radius + 1:
        raise ValueError(
            f"ssim needs images of at least {2 * radius + 1}×{2 * radius + 1} pixels, got {x.shape}"
        )
    x = torch.from_numpy(x.reshape(-1, 1, *x.shape[-2:]))
    y = torch.from_numpy(y.reshape(-1, 1, *y.shape[-2:]))
    blur = _gaussian_blur_valid(sigma, radius)
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return float((num / den).mean(dim=(1, 2, 3)).mean())


def _gaussian_blur_valid(sigma: float, radius: int):
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    rows, cols = kernel.view(1, 1, -1, 1), kernel.view(1, 1, 1, -1)
    return lambda img: F.conv2d(F.conv2d(img, rows), cols)


def _same_shape(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"metric inputs differ in shape: {x.shape} vs {y.shape}")
    return x, y
