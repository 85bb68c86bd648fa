"""Motion correction, ΔF/F + approximate SVD, haemodynamic correction on planted data."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from benediff.widefield.hemo import hemo_correct, interpolate_violet
from benediff.widefield.motion import apply_shifts, phase_correlation
from benediff.widefield.readers import ArrayReader
from benediff.widefield.stream import estimate_motion
from benediff.widefield.svd import compress

torch.set_num_threads(1)


def texture(rng, shape, sigma=1.0):
    img = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return (img - img.min()) / np.ptp(img) * 1000 + 500


def test_phase_correlation_recovers_planted_shifts():
    rng = np.random.default_rng(0)
    big = texture(rng, (96, 96))
    truth = rng.uniform(-3, 3, size=(40, 2))
    frames = np.stack([ndimage.shift(big, s, order=3)[16:80, 16:80] for s in truth])
    est = phase_correlation(big[16:80, 16:80], frames)
    assert np.corrcoef(est[:, 0], truth[:, 0])[0, 1] > 0.95
    assert np.corrcoef(est[:, 1], truth[:, 1])[0, 1] > 0.95
    assert np.median(np.abs(est - truth)) < 0.25
    corrected = apply_shifts(frames, est)
    inner = (slice(8, -8), slice(8, -8))
    before = np.abs(frames - big[16:80, 16:80]).mean()
    after = np.abs(corrected[:, inner[0], inner[1]] - big[16:80, 16:80][inner]).mean()
    assert after < 0.3 * before


def test_estimate_motion_streams_per_channel():
    rng = np.random.default_rng(1)
    big = texture(rng, (80, 80))
    n = 30
    truth = rng.uniform(-2, 2, size=(n, 2))
    blue = np.stack([ndimage.shift(big, s, order=3)[10:70, 10:70] for s in truth])
    violet = 0.5 * blue
    raw = np.empty((2 * n, 60, 60), np.float32)
    raw[0::2], raw[1::2] = blue, violet
    refs, shifts = estimate_motion(ArrayReader(raw), 2, [0, 1], nref=5, chunk=7)
    assert shifts.shape == (2, n, 2)
    rel = shifts[0] - shifts[0].mean(0)
    assert np.corrcoef(rel[:, 0], truth[:, 0] - truth[:, 0].mean())[0, 1] > 0.95
    np.testing.assert_allclose(shifts[0], shifts[1], atol=1e-6)


def planted_movie(rng, n_t=600, shape=(20, 24), rank=4, noise=0.001):
    """Interleaved 2-channel uint16-range movie F = F0·(1 + maps·traces) with distinct channels."""
    p = shape[0] * shape[1]
    maps = rng.random((2, rank, p)) * 0.05
    traces = ndimage.gaussian_filter1d(rng.normal(size=(2, rank, n_t)), 3, axis=-1)
    traces -= traces.mean(-1, keepdims=True)
    f0 = rng.uniform(800, 1200, size=p)
    dff = np.einsum("crp,crt->ctp", maps, traces) + noise * rng.normal(size=(2, n_t, p))
    movie = f0 * (1 + dff)
    raw = np.empty((2 * n_t, *shape), np.float32)
    raw[0::2] = movie[0].reshape(n_t, *shape)
    raw[1::2] = movie[1].reshape(n_t, *shape)
    return raw


def r2(x, ref):
    return 1 - np.sum((x - ref) ** 2) / np.sum((ref - ref.mean()) ** 2)


def test_svd_matches_exact_svd_and_keeps_channels_interleaved():
    rng = np.random.default_rng(2)
    K = 8  # planted rank: 4 per channel
    raw = planted_movie(rng)
    shape = raw.shape[1:]
    res = compress(ArrayReader(raw), 2, [0, 1], k=K, bin_size=5, chunk=50)
    assert res.U.shape == (*shape, K) and res.SVT.shape == (K, raw.shape[0])
    flat = raw.reshape(raw.shape[0], -1)
    dff = np.empty_like(flat)
    for c in range(2):
        dff[c::2] = flat[c::2] / flat[c::2].mean(0) - 1
    recon = (res.U.reshape(-1, K) @ res.SVT).T
    u, s, vt = np.linalg.svd(dff, full_matrices=False)
    exact = (u[:, :K] * s[:K]) @ vt[:K]
    assert r2(recon, exact) > 0.99
    assert r2(recon, dff) > 0.99
    for c in range(2):  # each channel's columns reconstruct that channel's frames
        assert r2(recon[c::2], dff[c::2]) > 0.99
        assert r2(recon[c::2], dff[1 - c::2]) < 0.5
    U = res.U.reshape(-1, K)
    np.testing.assert_allclose(U.T @ U, np.eye(K), atol=1e-4)


def test_svd_swapped_channel_order_swaps_columns():
    rng = np.random.default_rng(3)
    raw = planted_movie(rng, n_t=200)
    a = compress(ArrayReader(raw), 2, [0, 1], k=8, bin_size=5)
    b = compress(ArrayReader(raw), 2, [1, 0], k=8, bin_size=5)
    ra = a.U.reshape(-1, 8) @ a.SVT
    rb = b.U.reshape(-1, 8) @ b.SVT
    np.testing.assert_allclose(ra[:, 0::2], rb[:, 1::2], atol=2e-3)


def test_trial_baseline_uses_trial_starts():
    rng = np.random.default_rng(4)
    raw = planted_movie(rng, n_t=200)
    raw[0::2][:100] *= 1.5  # first half brighter: recording mean and trial baseline differ
    starts = np.array([0, 100])
    res = compress(ArrayReader(raw), 2, [0, 1], k=6, bin_size=5, baseline="trial",
                   baseline_frames=10, trial_starts=starts)
    flat = raw[0::2].reshape(200, -1)
    expected = 0.5 * (flat[0:10].mean(0) + flat[100:110].mean(0))
    np.testing.assert_allclose(res.F0[0].ravel(), expected, rtol=1e-5)
    med = compress(ArrayReader(raw), 2, [0, 1], k=6, bin_size=5, baseline="trial_median",
                   baseline_frames=10, trial_starts=starts)
    expected = 0.5 * (np.median(flat[0:10], 0) + np.median(flat[100:110], 0))
    np.testing.assert_allclose(med.F0[0].ravel(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="trial start"):
        compress(ArrayReader(raw), 2, [0, 1], k=6, baseline="trial")


def hemo_simulation(rng, n_t=3000, fs=30.0, shape=(24, 24)):
    """Blue = neural + haemodynamics (pixel gain), violet = haemodynamics only."""
    p = shape[0] * shape[1]
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    neural_map = np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / 20.0).ravel()
    hemo_map = 0.5 + 0.5 * np.exp(-((yy - 14) ** 2 + (xx - 14) ** 2) / 80.0).ravel()
    events = (rng.random(n_t) < 0.02) * rng.uniform(0.5, 1.5, n_t)
    neural = np.convolve(events, np.exp(-np.arange(60) / 8.0))[:n_t]
    t = np.arange(n_t) / fs
    hemo = ndimage.gaussian_filter1d(rng.normal(size=n_t), 6) * 25 + np.sin(2 * np.pi * 1.5 * t)
    gain_b = rng.uniform(0.8, 1.2, p)
    blue = 0.02 * np.outer(neural, neural_map) + 0.06 * np.outer(hemo, hemo_map * gain_b)
    violet = 0.06 * np.outer(hemo, hemo_map)
    noise = 0.001 * rng.normal(size=(2, n_t, p))
    raw = np.empty((2 * n_t, *shape), np.float32)
    raw[0::2] = (1000 * (1 + blue + noise[0])).reshape(n_t, *shape)
    raw[1::2] = (1000 * (1 + violet + noise[1])).reshape(n_t, *shape)
    return raw, neural, neural_map > 0.5


def test_hemo_correction_recovers_planted_neural_trace():
    rng = np.random.default_rng(5)
    raw, neural, roi = hemo_simulation(rng)
    res = compress(ArrayReader(raw), 2, [0, 1], k=20, chunk=500)
    U = res.U.reshape(-1, res.U.shape[-1])
    blue, violet = res.SVT[:, 0::2], res.SVT[:, 1::2]
    out = hemo_correct(U, blue, violet, fs=30.0)
    corrected = U[roi].mean(0) @ out.SVT
    uncorrected = U[roi].mean(0) @ blue
    assert np.corrcoef(corrected, neural)[0, 1] >= 0.9
    assert np.corrcoef(uncorrected, neural)[0, 1] < 0.6
    assert out.T.shape == (20, 20) and out.r.shape == (U.shape[0],)
    assert np.allclose(out.SVT.mean(1), 0, atol=1e-4)


def test_hemo_regression_matches_per_pixel_definition():
    rng = np.random.default_rng(6)
    U = np.linalg.qr(rng.normal(size=(50, 5)))[0]
    blue, violet = rng.normal(size=(2, 5, 400))
    out = hemo_correct(U, blue, violet, fs=30.0, highpass=0, lowpass=0)
    b0 = blue - blue.mean(1, keepdims=True)
    v0 = violet - violet.mean(1, keepdims=True)
    a, b = U @ b0, U @ v0
    r = (a * b).sum(1) / ((b * b).sum(1) + 1e-10)
    np.testing.assert_allclose(out.r, r, rtol=1e-4)
    T = np.linalg.pinv(U) @ np.diag(r) @ U
    np.testing.assert_allclose(out.T, T, atol=1e-5)
    expected = b0 - T @ v0
    np.testing.assert_allclose(out.SVT, expected - expected.mean(1, keepdims=True), atol=1e-4)


def test_interpolate_violet_halfway():
    v = np.array([[0.0, 2.0, 4.0]])
    np.testing.assert_allclose(interpolate_violet(v, True), [[0.0, 1.0, 3.0]])
    np.testing.assert_allclose(interpolate_violet(v, False), [[1.0, 3.0, 4.0]])
