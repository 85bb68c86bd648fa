"""A small planted dataset for tests and checks: smooth behaviour factors plus behaviour-irrelevant
latents, mixed nonlinearly into each region's dimensions, plus noise (like PEERS.md's benchmark)."""

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
