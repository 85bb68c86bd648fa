"""Planted latent-variable data for tests and benchmarks (the synthetic benchmark of docs/PEERS.md, resized).

Both generators draw smooth unit-variance factors (the first ones are "behaviour", the rest are
behaviour-irrelevant) and mix them nonlinearly into neural dimensions plus noise:

- ``planted_dataset``: a :class:`Dataset` with one region per entry of ``region_dims`` (random
  Gaussian tanh mixing per region), behaviour labels and a split, plus the true latents.
- ``planted_region``: per-trial (X, U) arrays of one region (orthogonal mixing, z-scored X), for
  the baselines' fit/transform API.

They are kept apart because they draw different random numbers in a different order; merging them
would change the arrays existing tests and benchmarks were tuned on. They share ``smooth_factors``.
"""

import numpy as np
from scipy.ndimage import gaussian_filter1d

from benediff.io.dataset import Dataset
from benediff.io.split import make_split


def smooth_factors(rng, n_trials: int, n_frames: int, n_factors: int, width: float = 6.0):
    """(n_trials, L, K) unit-variance smooth random trajectories."""
    raw = rng.standard_normal((n_trials, n_frames, n_factors))
    smooth = gaussian_filter1d(raw, width, axis=1)
    return smooth / smooth.std(axis=(0, 1), keepdims=True)


def planted_dataset(n_trials=40, n_frames=64, n_behaviors=3, n_irrelevant=2, region_dims=(8, 6),
                    noise=0.1, seed=0, label_names=None, session="SIM") -> tuple[Dataset, np.ndarray]:
    """Dataset with one region per entry of ``region_dims`` and the true latents (trials, L, K)."""
    rng = np.random.default_rng(seed)
    behavior = smooth_factors(rng, n_trials, n_frames, n_behaviors)
    irrelevant = smooth_factors(rng, n_trials, n_frames, n_irrelevant)
    latents = np.concatenate([behavior, irrelevant], axis=-1)
    k = latents.shape[-1]
    blocks, regions, start = [], {}, 0
    for r, n in enumerate(region_dims):
        hidden = np.tanh(latents @ rng.standard_normal((k, 2 * n)) / np.sqrt(k))
        blocks.append(hidden @ rng.standard_normal((2 * n, n)) / np.sqrt(2 * n))
        regions[f"R{r}_L"] = np.arange(start, start + n)
        start += n
    neural = np.concatenate(blocks, axis=-1)
    neural = neural / neural.std(axis=(0, 1)) + noise * rng.standard_normal(neural.shape)
    labels = behavior + 0.05 * rng.standard_normal(behavior.shape)
    ds = Dataset(
        session=session, frame_rate=30.0, trial_ids=np.arange(n_trials),
        neural=[a.astype(np.float32) for a in neural], labels=[a.astype(np.float32) for a in labels],
        label_names=label_names or [f"beh{b}" for b in range(n_behaviors)],
        regions=regions, split=make_split(n_trials, (8, 1, 1), seed),
    )
    return ds, latents


def planted_region(n_trials=24, length=80, n_behaviours=3, n_irrelevant=1, n_dims=10,
                   noise=0.2, smoothness=5.0, seed=0):
    """Per-trial (X, U): smooth factors → orthogonal mix → tanh → n_dims, + noise, z-scored.

    U holds the first ``n_behaviours`` factors; the other ``n_irrelevant`` ones only shape X.
    """
    rng = np.random.default_rng(seed)
    k = n_behaviours + n_irrelevant
    if n_dims < k:
        raise ValueError(f"n_dims = {n_dims} must be >= n_behaviours + n_irrelevant = {k}")
    factors = smooth_factors(rng, n_trials, length, k, width=smoothness)
    mixing = np.linalg.qr(rng.standard_normal((k, k)))[0]  # orthogonal: well conditioned
    loading = np.linalg.qr(rng.standard_normal((n_dims, k)))[0].T
    X = np.tanh(factors @ mixing) @ loading
    X += noise * rng.standard_normal(X.shape)
    X = (X - X.mean((0, 1))) / X.std((0, 1))
    return ([x.astype(np.float32) for x in X],
            [u.astype(np.float32) for u in factors[..., :n_behaviours]])
