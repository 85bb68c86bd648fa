"""Variance guidance (eq. 8, Algorithm 1): steer sampling toward one latent factor.

log p(c_d | Y_t) is a softmax over trajectory variances: the variance over time of factor d
(through the frozen linear encoder) against K negatives drawn uniformly from the other factors,
with temperature τ. Its gradient, taken by autograd on a detached copy of Y_t, shifts the
predicted noise: ε' = ε − s·√(1−ᾱ_t)·∇ log p. ``VarianceGuidance`` is an ``eps_hook`` for
:func:`benediff.video.diffusion.sample`.
"""

from collections.abc import Callable

import torch

from benediff.video.diffusion import check_finite

INPUTS = ("x_t", "x0")

# Algorithm 1 as the paper writes it (method ``ours_literal``): no guidance scale (s = 1), the
# classifier on the noisy Y_t, τ = 1 (the paper gives none), DDPM over all T steps, and no
# clipping of x̂0. The tuned defaults (``video.guidance``) differ in each; config/README.md has
# the reasons with their numbers.
LITERAL_ALGORITHM_1 = {"scale": 1.0, "tau": 1.0, "input": "x_t", "clip_sample": 0.0}


class GuidanceError(ValueError):
    """Bad guidance settings, or a non-finite value appeared during guided sampling."""


def trajectory_variance(z: torch.Tensor) -> torch.Tensor:
    """Population variance over time of each factor: (B, F, D) → (B, D)."""
    return z.var(dim=1, unbiased=False)


def draw_negatives(n_factors: int, factor: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """K indices drawn uniformly, with replacement, from {0..D−1} \\ {factor}."""
    others = torch.tensor([j for j in range(n_factors) if j != factor], dtype=torch.long)
    pick = torch.randint(len(others), (k,), generator=generator)
    return others[pick]


def log_p_factor(z: torch.Tensor, factor: int, negatives: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 8 for each batch element: log softmax of [s_d, s_{j_1}, …, s_{j_K}]/τ at s_d. (B,)"""
    s = trajectory_variance(z)
    logits = torch.cat([s[:, factor:factor + 1], s[:, negatives]], dim=1) / tau
    return logits[:, 0] - torch.logsumexp(logits, dim=1)


class VarianceGuidance:
    """Callable ``eps_hook(x_t, t, eps, alpha_bar_t) -> eps'`` implementing Algorithm 1 step 1.

    ``classifier`` maps a sample batch (B, C, F, h, w) to factor trajectories (B, F, D),
    differentiably (e.g. ``LinearEncoder.torch_forward``). ``input="x0"`` feeds the classifier
    the predicted clean sample x̂0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t instead of x_t; ``n_negatives``
    0 draws D − 1. Defaults are the config's (``video.guidance`` in the schema).
    """

    def __init__(self, classifier: Callable, factor: int, n_factors: int, *, scale: float = 250.0,
                 tau: float = 5.0, n_negatives: int = 0, input: str = "x0", seed: int = 0):
        if n_factors < 2:
            raise GuidanceError(f"guidance needs at least 2 latent factors, the encoder has {n_factors}")
        if not 0 <= factor < n_factors:
            raise GuidanceError(f"factor index {factor} is out of range for {n_factors} factors "
                                f"(valid: 0..{n_factors - 1}); check video.figures / factor names")
        if input not in INPUTS:
            raise GuidanceError(f"video.guidance.input = {input!r}; allowed values: {list(INPUTS)}")
        if tau <= 0:
            raise GuidanceError(f"video.guidance.tau must be > 0, got {tau}")
        self.classifier, self.factor, self.n_factors = classifier, factor, n_factors
        self.scale, self.tau, self.input = float(scale), float(tau), input
        self.n_negatives = n_factors - 1 if not n_negatives else int(n_negatives)
        self.generator = torch.Generator().manual_seed(seed)
        self.history: list[dict] = []

    def gradient(self, x_t, eps, alpha_bar_t) -> torch.Tensor:
        """∇_{x_t} Σ_b log p(c_d | Y_t^b), with fresh negatives; ε is held constant."""
        negatives = draw_negatives(self.n_factors, self.factor, self.n_negatives, self.generator)
        with torch.enable_grad():
            x = x_t.detach().clone().requires_grad_(True)
            y = x if self.input == "x_t" else _predict_x0(x, eps.detach(), alpha_bar_t)
            logp = log_p_factor(self.classifier(y), self.factor, negatives, self.tau)
            (grad,) = torch.autograd.grad(logp.sum(), x)
        self.history.append({"log_p": logp.detach().mean().item()})
        return grad

    def __call__(self, x_t, t, eps, alpha_bar_t):
        alpha_bar_t = torch.as_tensor(alpha_bar_t, dtype=x_t.dtype, device=x_t.device)
        _check_finite(eps, "model noise prediction", t)
        grad = self.gradient(x_t, eps, alpha_bar_t)
        _check_finite(grad, "guidance gradient", t)
        return eps - self.scale * torch.sqrt(1 - alpha_bar_t) * grad


def _predict_x0(x_t, eps, alpha_bar_t):
    return (x_t - torch.sqrt(1 - alpha_bar_t) * eps) / torch.sqrt(alpha_bar_t)


def _check_finite(x, what, t):
    check_finite(x, f"{what} became NaN/inf at diffusion step t={int(t)}; lower "
                 "video.guidance.scale or raise video.guidance.tau", GuidanceError)