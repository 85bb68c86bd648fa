"""Planted LocaNMF problems for tests and benchmarks (docs/WIDEFIELD.md §10.1); not used by the pipeline.

Smooth non-negative footprints mostly inside their atlas region, sparse-event ⊗ exponential
traces (centred), noise, and an exact SVD of the factored movie truncated to K, so that even the
benchmark sizes (50k pixels × 30k frames) never form the P × T movie.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class Planted:
    U: np.ndarray  # (H, W, K), NaN outside the brain
    V: np.ndarray  # (K, T)
    atlas: np.ndarray  # (H, W) signed codes
    footprints: np.ndarray  # (n, H, W)
    traces: np.ndarray  # (n, T)
    regions: np.ndarray  # (n,) code of the region each footprint was planted in


def voronoi_atlas(height, width, n_per_side, seed=0):
    """Elliptical brain split at the midline into Voronoi regions: left codes +i, right codes -i."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    brain = ((yy - height / 2) / (height / 2 - 1)) ** 2 + ((xx - width / 2) / (width / 2 - 1)) ** 2 < 1
    seeds = rng.uniform([0, 0], [height, width / 2], size=(n_per_side, 2))
    half = np.argmin(((yy[..., None] - seeds[:, 0]) ** 2 + (np.minimum(xx, width - 1 - xx)[..., None]
                                                           - seeds[:, 1]) ** 2), axis=-1) + 1
    atlas = np.where(xx < width / 2, half, -half)
    return np.where(brain, atlas, 0).astype(np.int64)


def wfield_atlas(projection, target_pixels):
    """The wfield top-view label image resampled (nearest) to about ``target_pixels`` labelled pixels."""
    factor = np.sqrt((projection != 0).sum() / target_pixels)
    rows = np.round(np.arange(0, projection.shape[0], factor)).astype(int).clip(max=projection.shape[0] - 1)
    cols = np.round(np.arange(0, projection.shape[1], factor)).astype(int).clip(max=projection.shape[1] - 1)
    labels = projection[np.ix_(rows, cols)].astype(np.int64)
    side = np.where(cols[None, :] < projection.shape[1] / 2, 1, -1)
    return labels * side


def footprints_for(atlas, per_region, seed=0, min_pixels=0):
    """``per_region`` smooth bumps in every region larger than ``min_pixels``, each mostly inside it."""
    rng = np.random.default_rng(seed)
    codes, counts = np.unique(atlas[atlas != 0], return_counts=True)
    maps, owner = [], []
    yy, xx = np.mgrid[: atlas.shape[0], : atlas.shape[1]]
    for code, count in zip(codes, counts):
        if count <= min_pixels:
            continue
        inside = atlas == code
        soft = ndimage.gaussian_filter(inside.astype(float), 1.0)
        pixels = np.argwhere(ndimage.binary_erosion(inside, iterations=1))
        if len(pixels) == 0:
            pixels = np.argwhere(inside)
        sigma = 0.45 * np.sqrt(count / np.pi) / np.sqrt(per_region)
        for centre in pixels[rng.choice(len(pixels), size=per_region, replace=len(pixels) < per_region)]:
            bump = np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2)) * soft
            maps.append(bump / bump.max())
            owner.append(code)
    return np.array(maps), np.array(owner)


def event_traces(n, frames, rate=0.02, tau=8.0, seed=0):
    """Sparse positive events convolved with an exponential kernel, then centred."""
    rng = np.random.default_rng(seed)
    events = (rng.random((n, frames)) < rate) * rng.exponential(1.0, (n, frames))
    kernel = np.exp(-np.arange(int(6 * tau)) / tau)
    traces = np.stack([np.convolve(e, kernel)[:frames] for e in events])
    return traces - traces.mean(1, keepdims=True)


def plant(atlas, per_region=1, frames=2000, n_svd=None, noise=0.05, noise_rank=None, seed=0, min_pixels=0):
    """U (H, W, K) and V (K, T) of footprints ⊗ traces + noise, by exact SVD of the factored movie."""
    maps, owner = footprints_for(atlas, per_region, seed, min_pixels)
    traces = event_traces(len(maps), frames, seed=seed + 2)
    return compress(maps, traces, atlas, owner, n_svd or len(maps) + 10, noise, noise_rank, seed + 1)


def compress(maps, traces, atlas, owner, n_svd, noise=0.05, noise_rank=None, seed=1):
    """Planted problem from given footprints (n, H, W) and traces (n, T): the top-``n_svd`` SVD of
    footprints ⊗ traces plus rank-``noise_rank`` Gaussian noise of rms ``noise`` × the signal rms
    (per entry),
    inside ``atlas != 0``, without forming the P × T movie."""
    rng = np.random.default_rng(seed)
    mask = atlas != 0
    F = maps[:, mask].T.astype(np.float64)  # (P, n)
    traces = np.asarray(traces, dtype=np.float64)
    frames = traces.shape[1]
    noise_rank = noise_rank or n_svd
    scale = noise * _signal_rms(F, traces)
    left = np.hstack([F, rng.standard_normal((F.shape[0], noise_rank))])
    right = np.vstack([traces, rng.standard_normal((noise_rank, frames)) * scale / np.sqrt(noise_rank)])
    U_m, V = _truncated_svd(left, right, n_svd)
    U = np.full(atlas.shape + (n_svd,), np.nan, dtype=np.float32)
    U[mask] = U_m
    return Planted(U, V.astype(np.float32), atlas, np.asarray(maps, np.float32), traces.astype(np.float32),
                   np.asarray(owner))


def _signal_rms(F, traces):
    gram = traces @ traces.T
    return np.sqrt(((F @ gram) * F).sum() / (F.shape[0] * traces.shape[1]))


def _truncated_svd(left, right, k):
    """Top-k SVD of left @ right (P × r times r × T) as U·diag(s) (P × k) and Vᵀ (k × T)."""
    q1, r1 = np.linalg.qr(left)
    q2, r2 = np.linalg.qr(right.T)
    u, s, vt = np.linalg.svd(r1 @ r2.T)
    return (q1 @ u[:, :k]) * s[:k], vt[:k] @ q2.T
