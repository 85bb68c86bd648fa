"""benchmarks/decoder_noise.py: a behaviour carried by a tiny share of noise-free activity is
decoded perfectly, and lost once noise of a few percent is added; a large one survives."""

import importlib.util
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("decoder_noise", ROOT / "benchmarks" / "decoder_noise.py")
decoder_noise = importlib.util.module_from_spec(spec)
spec.loader.exec_module(decoder_noise)


def _trials(rng, mixing, n_trials, n=150, fs=30.0):
    """Two behaviours (a slow one and 3 Hz 'breathing'); four components mixing a calcium-filtered
    slow behaviour (unit scale) with the filtered breathing at 1 % amplitude (~1e-4 variance)."""
    t = np.arange(n) / fs
    alpha = np.exp(-1 / (fs * 0.4))
    xs, us = [], []
    for _ in range(n_trials):
        slow = np.convolve(rng.standard_normal(n + 30), np.ones(30) / 30, "valid")[:n]
        breath = np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 2 * np.pi))
        u = np.stack([slow / slow.std(), breath], 1)
        xs.append(lfilter([1 - alpha], [1, -alpha], u, axis=0) @ mixing)
        us.append(u)
    return xs, us


def test_the_small_behaviour_needs_noise_free_data():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((2, 4)) * np.array([[1.0], [0.01]])
    x_tr, u_tr = _trials(rng, mixing, 40)
    x_te, u_te = _trials(rng, mixing, 10)
    out = decoder_noise.decoder_under_noise(x_tr, u_tr, x_te, u_te, [0.0, 0.01])
    (r2_clean, mig_clean), (r2_noisy, mig_noisy) = out[0.0], out[0.01]
    assert r2_clean[0] > 0.9 and r2_clean[1] > 0.9  # both read out when the data are noise-free
    assert r2_noisy[0] > 0.8  # the slow behaviour survives 1 % noise
    assert r2_noisy[1] < 0.3  # breathing, ~0.01 % of the variance, does not
    assert mig_noisy < mig_clean
    # the same seed gives the same numbers
    again = decoder_noise.decoder_under_noise(x_tr, u_tr, x_te, u_te, [0.01])[0.01]
    np.testing.assert_array_equal(again[0], r2_noisy)


def test_band_shares_find_a_planted_oscillation():
    t = np.arange(300) / 30.0
    rng = np.random.default_rng(1)
    trials = [np.stack([np.sin(2 * np.pi * 3.0 * t + p), 0.1 * rng.standard_normal(300)], 1)
              for p in rng.uniform(0, 6, 5)]
    shares = decoder_noise.band_shares(trials, 30.0)
    # the sine carries 1 / (1 + 0.02) of the variance; white noise puts ~1.8/15 of its own there
    assert 0.93 < shares["breathing (2.2-4 Hz)"] < 1.0
    assert shares["licking (6-8 Hz)"] < 0.01
