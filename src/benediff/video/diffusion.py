"""Gaussian diffusion process (schedule, q_sample, ε-loss) and the DDPM / DDIM samplers.

The samplers follow diffusers' DDPMScheduler (variance "fixed_small", x̂0 clipping) and
DDIMScheduler (set_alpha_to_one, "leading" timestep spacing, use_clipped_model_output: with
clipping on, ε is re-derived from the clipped x̂0 before the DDIM update, as in GLIDE, so x̂0 and
ε stay consistent) step for step, but run on this module's own betas, so sampling uses exactly
the schedule the model was trained with (cosine with β capped at 0.9999 as in the public code;
diffusers caps at 0.999).
"""

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from benediff.jobs import Progress

SCHEDULES = ("cosine", "linear")
LOSSES = ("mse", "l1")
SAMPLERS = ("ddpm", "ddim")
COSINE_S = 0.008
MAX_BETA = 0.9999


class DiffusionConfigError(ValueError):
    """Unknown schedule / loss / sampler or impossible step counts."""


class SamplingError(ValueError):
    """NaN or inf appeared during sampling."""


def cosine_betas(timesteps: int, s: float = COSINE_S) -> torch.Tensor:
    """Nichol & Dhariwal cosine schedule: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2)."""
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    f = torch.cos((x / timesteps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bars = f / f[0]
    return (1 - alpha_bars[1:] / alpha_bars[:-1]).clamp(0, MAX_BETA)


def linear_betas(timesteps: int) -> torch.Tensor:
    """DDPM's linear schedule, rescaled so any T spans the same noise range as T = 1000."""
    scale = 1000 / timesteps
    return torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)


class GaussianDiffusion:
    """The forward process and training loss; tensors are float64 on CPU, cast on use."""

    def __init__(self, timesteps=200, schedule="cosine", loss="mse", clip_sample=1.0):
        if schedule not in SCHEDULES:
            raise DiffusionConfigError(
                f"diffusion schedule={schedule!r} is unknown; use one of {SCHEDULES}"
            )
        if loss not in LOSSES:
            raise DiffusionConfigError(f"diffusion loss={loss!r} is unknown; use one of {LOSSES}")
        if int(timesteps) < 2:
            raise DiffusionConfigError(f"diffusion timesteps={timesteps} must be at least 2")
        self.config = dict(
            timesteps=int(timesteps), schedule=schedule, loss=loss, clip_sample=clip_sample
        )
        self.timesteps, self.loss_type, self.clip_sample = int(timesteps), loss, clip_sample
        make_betas = cosine_betas if schedule == "cosine" else linear_betas
        self.betas = make_betas(self.timesteps)
        self.alphas = 1 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)

    def _gather(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        out = values.to(like.device)[t.to(like.device).long()].to(like.dtype)
        return out.view(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0, t, noise):
        """x_t = √ᾱ_t · x0 + √(1−ᾱ_t) · noise (t indexes 0 … T−1)."""
        alpha_bar = self._gather(self.alpha_bars, t, x0)
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise

    def loss(self, model, x0, cond=None, generator=None, cond_keep=None):
        """ε-prediction loss at uniformly drawn t (random numbers from ``generator``)."""
        gen_device = generator.device if generator is not None else x0.device
        t = torch.randint(0, self.timesteps, (len(x0),), generator=generator, device=gen_device)
        t = t.to(x0.device)
        noise = _randn(x0.shape, generator, x0.device, x0.dtype)
        eps = model(self.q_sample(x0, t, noise), t, cond=cond, cond_keep=cond_keep)
        loss_fn = F.mse_loss if self.loss_type == "mse" else F.l1_loss
        return loss_fn(eps.float(), noise.float())


# --------------------------------------------------------------------------------------------
# sampling


def sampling_timesteps(timesteps: int, num_steps: int | None) -> list[int]:
    """Descending timesteps with diffusers' "leading" spacing: (0, r, 2r, …) reversed, r = T // n."""
    num_steps = timesteps if num_steps is None else int(num_steps)
    if not 1 <= num_steps <= timesteps:
        raise DiffusionConfigError(
            f"num_steps={num_steps} must be between 1 and the diffusion timesteps ({timesteps})"
        )
    ratio = timesteps // num_steps
    return [i * ratio for i in reversed(range(num_steps))]


def sample(
    model,
    diffusion: GaussianDiffusion,
    shape,
    *,
    sampler="ddpm",
    num_steps=None,
    generator=None,
    device="cpu",
    cond=None,
    eps_hook=None,
    progress=True,
    eta=0.0,
):
    """Draw x0 of ``shape`` (B, C, F, H, W) from pure noise.

    eps_hook(x_t, t, eps, alpha_bar_t) → eps' runs every step before the update (guidance, CFG).
    The network runs under no_grad; the hook may enable grad itself. NaN/inf → SamplingError
    naming the step.
    """
    if sampler not in SAMPLERS:
        raise DiffusionConfigError(f"sampler={sampler!r} is unknown; use one of {SAMPLERS}")
    device = torch.device(device)
    steps = sampling_timesteps(diffusion.timesteps, num_steps)
    ratio = diffusion.timesteps // len(steps)
    update = _ddpm_update if sampler == "ddpm" else _ddim_update
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = _randn(shape, generator, device)
            if cond is not None:
                cond = cond.to(device)
            line = Progress(f"{sampler} sampling", len(steps))
            for i, t in enumerate(tqdm(steps, desc=f"{sampler} sampling", disable=not progress)):
                x = _sample_step(
                    model, diffusion, x, t, t - ratio, cond, eps_hook, update, generator, eta, i
                )
                line.update(i + 1)
    finally:
        model.train(was_training)
    return x


def _sample_step(model, diffusion, x, t, prev_t, cond, eps_hook, update, generator, eta, index):
    alpha_bar = float(diffusion.alpha_bars[t])
    t_batch = torch.full((len(x),), t, device=x.device, dtype=torch.long)
    eps = model(x, t_batch, cond=cond)
    _check_finite(eps, index, t, "the model's ε prediction")
    if eps_hook is not None:
        eps = eps_hook(x, t, eps, alpha_bar).detach()
        _check_finite(eps, index, t, "ε after eps_hook (guidance)")
    alpha_bar_prev = float(diffusion.alpha_bars[prev_t]) if prev_t >= 0 else 1.0
    x0 = (x - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)
    if diffusion.clip_sample:
        x0 = x0.clamp(-diffusion.clip_sample, diffusion.clip_sample)
        eps = (x - math.sqrt(alpha_bar) * x0) / math.sqrt(1 - alpha_bar)  # DDIM then stays consistent
    x = update(x, eps, x0, alpha_bar, alpha_bar_prev, prev_t, generator, eta)
    _check_finite(x, index, t, "the updated sample")
    return x


def _ddpm_update(x, eps, x0, alpha_bar, alpha_bar_prev, prev_t, generator, eta):
    """Posterior mean of q(x_{t'} | x_t, x̂0) plus σ·noise, σ² = β̃ (fixed_small)."""
    alpha = alpha_bar / alpha_bar_prev
    beta = 1 - alpha
    coef_x0 = math.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar)
    coef_xt = math.sqrt(alpha) * (1 - alpha_bar_prev) / (1 - alpha_bar)
    mean = coef_x0 * x0 + coef_xt * x
    if prev_t < 0:
        return mean
    variance = max((1 - alpha_bar_prev) / (1 - alpha_bar) * beta, 1e-20)
    return mean + math.sqrt(variance) * _randn(x.shape, generator, x.device, x.dtype)


def _ddim_update(x, eps, x0, alpha_bar, alpha_bar_prev, prev_t, generator, eta):
    """DDIM (Song et al. 2021, eq. 12); eta = 0 is deterministic."""
    sigma = eta * math.sqrt(
        (1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)
    )
    direction = math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0)) * eps
    x_prev = math.sqrt(alpha_bar_prev) * x0 + direction
    if eta > 0:
        x_prev = x_prev + sigma * _randn(x.shape, generator, x.device, x.dtype)
    return x_prev


def _randn(shape, generator, device, dtype=torch.float32):
    """Noise drawn on the generator's device (CPU generator → reproducible on any device)."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(tuple(shape), generator=generator, device=gen_device, dtype=dtype).to(device)


def check_finite(tensor, message: str, error=None) -> None:
    """Raise ``error`` (default :class:`SamplingError`) with ``message`` when ``tensor`` holds
    NaN or inf."""
    if not torch.isfinite(tensor).all():
        raise (error or SamplingError)(message)


def _check_finite(tensor, index, t, what):
    check_finite(tensor, f"sampling step {index} (diffusion timestep t={t}): {what} contains "
                 "NaN or inf; lower the guidance scale, check the model checkpoint, or use "
                 "clip_sample")