"""Planted per-region data for tests and benchmarks (PEERS.md's synthetic benchmark, resized)."""

import numpy as np
from scipy.ndimage import gaussian_filter1d


def planted_region(n_trials=24, length=80, n_behaviours=3, n_irrelevant=1, n_dims=10,
                   noise=0.2, smoothness=5.0, seed=0):
    """Per-trial (X, U): smooth factors → orthogonal mix → tanh → n_dims, + noise, z-scored.

    U holds the first ``n_behaviours`` factors; the other ``n_irrelevant`` ones only shape X.
    """
    rng = np.random.default_rng(seed)
    k = n_behaviours + n_irrelevant
    if n_dims < k:
        raise ValueError(f"n_dims = {n_dims} must be >= n_behaviours + n_irrelevant = {k}")
    factors = gaussian_filter1d(rng.standard_normal((n_trials, length, k)), smoothness, axis=1)
    factors /= factors.std(axis=(0, 1))
    mixing = np.linalg.qr(rng.standard_normal((k, k)))[0]  # orthogonal: well conditioned
    loading = np.linalg.qr(rng.standard_normal((n_dims, k)))[0].T
    X = np.tanh(factors @ mixing) @ loading
    X += noise * rng.standard_normal(X.shape)
    X = (X - X.mean((0, 1))) / X.std((0, 1))
    return ([x.astype(np.float32) for x in X],
            [u.astype(np.float32) for u in factors[..., :n_behaviours]])
