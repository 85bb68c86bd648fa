"""Linear encoder and variance guidance (eq. 7–8, Algorithm 1)."""

import numpy as np
import pytest
import torch

from benediff.video.encoder import EncoderError, LinearEncoder
from benediff.video.guidance import (GuidanceError, VarianceGuidance, draw_negatives,
                                     log_p_factor, trajectory_variance)

torch.set_num_threads(1)


def fitted_encoder(n_factors=3, frame_shape=(1, 2, 2), seed=0, alpha=1e-6):
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(400, *frame_shape))
    w = rng.normal(size=(n_factors, int(np.prod(frame_shape))))
    latents = frames.reshape(400, -1) @ w.T + 0.5
    return LinearEncoder(alpha=alpha, standardise=False).fit(frames, latents), w


def test_encoder_recovers_planted_map_and_noise_covariance():
    rng = np.random.default_rng(1)
    frames = rng.normal(size=(5000, 1, 2, 2))
    w = np.array([[1.0, 0, 0, 2], [0, -1, 0, 0]])
    noise = rng.normal(scale=[0.1, 0.3], size=(5000, 2))
    latents = frames.reshape(5000, -1) @ w.T + np.array([3.0, -1.0]) + noise
    enc = LinearEncoder(alpha=1e-3, standardise=False).fit(frames, latents)
    np.testing.assert_allclose(enc.W_enc_, w, atol=0.02)
    np.testing.assert_allclose(enc.bias_, [3.0, -1.0], atol=0.02)
    np.testing.assert_allclose(np.diag(enc.Q_), [0.01, 0.09], rtol=0.1)
    assert enc.score(frames, latents)["r2"] > 0.9


def test_torch_forward_matches_predict_in_clip_layout():
    enc, _ = fitted_encoder()
    clips = torch.randn(2, 1, 5, 2, 2, dtype=torch.float64)  # (B, C, F, h, w)
    frames = clips[0].permute(1, 0, 2, 3).numpy()  # (F, C, h, w)
    np.testing.assert_allclose(enc.torch_forward(clips)[0].numpy(), enc.predict(frames), atol=1e-10)


def test_encoder_dimension_mismatch_errors():
    enc, _ = fitted_encoder(frame_shape=(1, 2, 2))
    with pytest.raises(EncoderError, match=r"shape \(1, 4, 4\).*\(1, 2, 2\)"):
        enc.torch_forward(torch.zeros(1, 1, 3, 4, 4))
    with pytest.raises(EncoderError, match="10 frames but the VAE latents have 9"):
        LinearEncoder().fit(np.zeros((10, 4)), np.zeros((9, 2)))
    with pytest.raises(EncoderError, match="not fitted"):
        LinearEncoder().predict(np.zeros((3, 4)))


def test_encoder_save_load_roundtrip(tmp_path):
    enc, _ = fitted_encoder()
    enc.save(tmp_path / "enc.h5", region="VIS_R")
    back = LinearEncoder.load(tmp_path / "enc.h5")
    np.testing.assert_array_equal(back.W_enc_, enc.W_enc_)
    assert back.frame_shape_ == (1, 2, 2) and back.metadata_ == {"region": "VIS_R"}


def test_standardised_encoder_outputs_factors_in_their_own_units(tmp_path):
    rng = np.random.default_rng(4)
    frames = rng.normal(size=(2000, 1, 2, 2))
    latents = frames.reshape(2000, -1)[:, :2] * np.array([0.1, 10.0])  # scales differ 100×
    enc = LinearEncoder(alpha=1e-6, standardise=True).fit(frames, latents)
    np.testing.assert_allclose(enc.predict(frames).std(0), [1.0, 1.0], rtol=1e-3)
    raw = LinearEncoder(alpha=1e-6, standardise=False).fit(frames, latents)
    np.testing.assert_allclose(enc.predict(frames) * enc.latent_scale_, raw.predict(frames), atol=1e-6)
    assert enc.score(frames, latents)["r2"] > 0.999
    enc.save(tmp_path / "enc.h5")
    back = LinearEncoder.load(tmp_path / "enc.h5")
    assert back.standardise and np.allclose(back.predict(frames), enc.predict(frames))


def test_trajectory_variance_is_population_variance():
    z = torch.tensor([[[0.0, 1.0], [2.0, 1.0]]])  # (1, F=2, D=2)
    assert trajectory_variance(z).tolist() == [[1.0, 0.0]]


def test_log_p_hand_computed():
    # variances s = [1, 0, 4]; factor 0 against negatives [2, 1], tau = 2
    z = torch.tensor([[[1.0, 0.0, 2.0], [-1.0, 0.0, -2.0]]])
    logp = log_p_factor(z, 0, torch.tensor([2, 1]), tau=2.0)
    expected = 0.5 - np.log(np.exp(0.5) + np.exp(2.0) + np.exp(0.0))
    assert logp.item() == pytest.approx(expected, rel=1e-6)


def test_negatives_exclude_target_and_cover_others():
    gen = torch.Generator().manual_seed(0)
    draws = torch.cat([draw_negatives(4, 2, 5, gen) for _ in range(50)])
    assert set(draws.tolist()) == {0, 1, 3}


def closed_form_gradient(clip, w_enc, bias, factor, negatives, tau):
    """docs/METHOD.md §4: ∂/∂s_d = (1−p₊)/τ, ∂/∂s_j = −Σ_{k: j_k=j} p_k/τ; ∂s_j/∂Y_l = 2/L (ẑ_lj − z̄_j) w_j."""
    frames = clip[0].transpose(1, 0, 2, 3).reshape(clip.shape[2], -1)  # (L, M)
    z = frames @ w_enc.T + bias
    n_bins = len(z)
    s = z.var(axis=0)
    idx = np.concatenate([[factor], negatives])
    p = np.exp(s[idx] / tau) / np.exp(s[idx] / tau).sum()
    ds = np.zeros(len(s))
    ds[factor] += (1 - p[0]) / tau
    for k, j in enumerate(negatives):
        ds[j] -= p[k + 1] / tau
    grad_frames = (2 / n_bins) * ((z - z.mean(0)) * ds) @ w_enc  # (L, M)
    return grad_frames.reshape(n_bins, clip.shape[1], *clip.shape[3:]).transpose(1, 0, 2, 3)[None]


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_autograd_gradient_matches_closed_form(tau):
    enc, _ = fitted_encoder(n_factors=4, frame_shape=(2, 2, 2))
    clip = torch.randn(1, 2, 7, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    guide = VarianceGuidance(enc.torch_forward, factor=1, n_factors=4, tau=tau, n_negatives=5, seed=9,
                             input="x_t")
    negatives = draw_negatives(4, 1, 5, torch.Generator().manual_seed(9)).numpy()
    grad = guide.gradient(clip, torch.zeros_like(clip), torch.tensor(0.5, dtype=torch.float64))
    expected = closed_form_gradient(clip.numpy(), enc.W_enc_, enc.bias_, 1, negatives, tau)
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_hook_shifts_eps_by_scaled_gradient_and_x0_input_rescales():
    enc, _ = fitted_encoder()
    x = torch.randn(1, 1, 6, 2, 2, dtype=torch.float64)
    eps = torch.zeros_like(x)
    ab = torch.tensor(0.36, dtype=torch.float64)
    on_xt = VarianceGuidance(enc.torch_forward, 0, 3, scale=2.0, seed=1, input="x_t")
    on_x0 = VarianceGuidance(enc.torch_forward, 0, 3, scale=2.0, seed=1, input="x0")
    grad = VarianceGuidance(enc.torch_forward, 0, 3, seed=1, input="x_t").gradient(x, eps, ab)
    np.testing.assert_allclose(on_xt(x, 10, eps, ab).numpy(), (-2.0 * 0.8 * grad).numpy())
    # with eps = 0, x̂0 = x/0.6, so d log p/dx = (1/0.6) ∇ log p evaluated at x/0.6
    grad_at_x0 = VarianceGuidance(enc.torch_forward, 0, 3, seed=1, input="x_t").gradient(x / 0.6, eps, ab)
    np.testing.assert_allclose(on_x0(x, 10, eps, ab).numpy(), (-2.0 * 0.8 * grad_at_x0 / 0.6).numpy())


def test_guidance_bad_settings_and_nan_errors():
    enc, _ = fitted_encoder()
    with pytest.raises(GuidanceError, match="factor index 3 is out of range for 3 factors"):
        VarianceGuidance(enc.torch_forward, 3, 3)
    with pytest.raises(GuidanceError, match="allowed values"):
        VarianceGuidance(enc.torch_forward, 0, 3, input="noisy")
    guide = VarianceGuidance(enc.torch_forward, 0, 3)
    x = torch.randn(1, 1, 4, 2, 2)
    with pytest.raises(GuidanceError, match="NaN/inf at diffusion step t=17"):
        guide(x, 17, torch.full_like(x, float("nan")), 0.5)
