"""Acceptance: guided sampling (Algorithm 1) moves trajectory variance toward the chosen factor.

The denoiser is the exact ε-predictor for Gaussian data x0 ~ N(0, σ²I), so unguided sampling is
calibrated and any change in the factors' variance comes from the guidance term alone.
"""

import numpy as np
import pytest
import torch

from benediff.video.diffusion import GaussianDiffusion, sample
from benediff.video.encoder import LinearEncoder
from benediff.video.guidance import VarianceGuidance, trajectory_variance

torch.set_num_threads(1)
SIGMA = 0.3
SHAPE = (8, 1, 20, 4, 4)  # (B, C, F, h, w)


class GaussianDenoiser(torch.nn.Module):
    def __init__(self, diffusion):
        super().__init__()
        self.alpha_bars = diffusion.alpha_bars

    def forward(self, x, t, cond=None):
        ab = self.alpha_bars[t].to(x.dtype).view(-1, 1, 1, 1, 1)
        return (1 - ab).sqrt() * x / (ab * SIGMA**2 + 1 - ab)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    frames = rng.uniform(-1, 1, size=(500, 1, 4, 4))
    w_enc = rng.normal(size=(3, 16)) / 4
    encoder = LinearEncoder(alpha=1e-3, standardise=False).fit(frames, frames.reshape(500, -1) @ w_enc.T)
    diffusion = GaussianDiffusion(timesteps=100)
    return encoder, diffusion, GaussianDenoiser(diffusion)


def factor_variances(setup, hook, sampler="ddpm"):
    encoder, diffusion, model = setup
    x = sample(model, diffusion, SHAPE, sampler=sampler, num_steps=20,
               generator=torch.Generator().manual_seed(1), eps_hook=hook, progress=False)
    assert torch.isfinite(x).all()
    return trajectory_variance(encoder.torch_forward(x.double())).mean(0).numpy()


def guide(setup, factor, **kwargs):
    encoder = setup[0]
    return VarianceGuidance(encoder.torch_forward, factor, 3, seed=2, **{"input": "x_t", **kwargs})


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("factor", [0, 2])
def test_guidance_raises_target_and_lowers_other_factors(setup, factor, sampler):
    unguided = factor_variances(setup, None, sampler)
    guided = factor_variances(setup, guide(setup, factor, scale=100, tau=0.1), sampler)
    others = [j for j in range(3) if j != factor]
    assert guided[factor] > 3 * unguided[factor]
    assert guided[others].mean() < unguided[others].mean()


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_guidance_on_predicted_x0_raises_target(setup, sampler):
    unguided = factor_variances(setup, None, sampler)
    guided = factor_variances(setup, guide(setup, 0, scale=30, tau=0.1, input="x0"), sampler)
    assert guided[0] > 3 * unguided[0]


def test_guided_sampling_is_reproducible(setup):
    a = factor_variances(setup, guide(setup, 1, scale=10))
    b = factor_variances(setup, guide(setup, 1, scale=10))
    np.testing.assert_array_equal(a, b)
