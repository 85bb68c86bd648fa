"""Planted neural ground truth: region footprints and their activities.

Activity of component k (ΔF/F amplitude multiplying its footprint):
    drive_k(t) = sqrt(f_r)·norm(Σ_b w_kb·z_b(t − lag_k)) + sqrt(1 − f_r)·norm(Σ_j m_kj·latent_j(t))
    activity_k = amp_k · norm(calcium(drive_k)),   calcium = exponential kernel, tau ≈ 0.4 s
with z the z-scored behaviour, f_r the region's behaviour fraction and norm() zero mean/unit std.
"""

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from scipy.signal import lfilter

from benediff.simulate.params import SimulationError

# behaviour selectivity (Levers, Spouts, Paw-x, Paw-y, Jaw, Chest), lag in frames (+ = after
# behaviour) and behaviour share of the drive, per group: mixed and different across regions
PROFILES = {
    "VIS": ([1.0, 0.8, 0.2, 0.2, 0.1, 0.1], 3, 0.6),
    "SSp": ([0.2, 0.1, 1.0, 0.8, 0.3, 0.6], 2, 0.7),
    "MOs": ([0.8, 0.5, 0.6, 0.5, 0.7, 0.1], -6, 0.6),
    "MOp": ([0.2, 0.1, 0.9, 0.9, 0.8, 0.2], -3, 0.7),
    "RSP": ([0.3, 0.2, 0.1, 0.1, 0.1, 0.3], 0, 0.25),
}
DEFAULT_PROFILE = ([0.3] * 6, 0, 0.3)


def simulate_latents(rng, n_latents, n_frames, frame_rate) -> np.ndarray:
    """(n_frames, n_latents) smooth Gaussian-process-like latents, unit std, timescales 0.3–2 s."""
    out = np.empty((n_frames, n_latents))
    for j in range(n_latents):
        sigma = rng.uniform(0.3, 2.0) * frame_rate
        out[:, j] = _norm(gaussian_filter1d(rng.standard_normal(n_frames), sigma, mode="wrap"))
    return out


def _norm(x, axis=0):
    x = x - x.mean(axis=axis, keepdims=True)
    return x / (x.std(axis=axis, keepdims=True) + 1e-12)


def _lagged(x, lag):
    """x(t − lag) with edge padding (lag in frames, either sign)."""
    idx = np.clip(np.arange(len(x)) - lag, 0, len(x) - 1)
    return x[idx]


def component_design(rng, regions, params):
    """Per-component selectivity weights (n, 6), lags (n,), behaviour fractions (n,), latent loadings."""
    weights, lags, fractions, loadings = [], [], [], []
    for region, n_comp in regions:
        group, side = region.rsplit("_", 1)
        profile, lag, frac = PROFILES.get(group, DEFAULT_PROFILE)
        profile = np.array(profile, float)
        if side == "R":  # the tracked paw is the right one: contralateral (left) cortex cares more
            profile[2:4] *= 0.5
        region_loading = rng.standard_normal(params.n_latents)
        for _ in range(n_comp):
            weights.append(profile * rng.uniform(0.3, 1.3, 6) + 0.15 * rng.standard_normal(6))
            lags.append(lag + int(rng.integers(-2, 3)))
            fractions.append(np.clip(frac * params.behavior_fraction / 0.6 * rng.uniform(0.8, 1.2), 0, 1))
            loadings.append(region_loading + 0.7 * rng.standard_normal(params.n_latents))
    return np.array(weights), np.array(lags), np.array(fractions), np.array(loadings)


def simulate_activities(rng, behavior, latents, design, params) -> np.ndarray:
    """(n_frames, n_comp) ΔF/F activities; see the module docstring for the model."""
    weights, lags, fractions, loadings = design
    z = _norm(behavior)
    lat_drive = _norm(latents @ loadings.T)
    alpha = np.exp(-1.0 / (params.frame_rate * params.tau_calcium))
    acts = np.empty((len(behavior), len(weights)))
    for k in range(len(weights)):
        beh_drive = _norm(_lagged(z, lags[k]) @ weights[k])
        drive = np.sqrt(fractions[k]) * beh_drive + np.sqrt(1 - fractions[k]) * lat_drive[:, k]
        acts[:, k] = _norm(lfilter([1 - alpha], [1, -alpha], drive))
    amps = params.dff_amplitude * rng.uniform(0.5, 1.5, len(weights))
    return acts * amps


def make_footprints(rng, masks, counts) -> tuple[np.ndarray, list[str]]:
    """(n_comp, H, W) smooth non-negative footprints mostly inside their region, peak exactly 1."""
    footprints, names = [], []
    for region, mask in masks.items():
        n = counts[region]
        pix = np.argwhere(mask)
        if len(pix) < n:
            raise SimulationError(f"region {region} covers {len(pix)} pixels of the session frame, "
                                  f"too few for {n} footprints; enlarge simulate.overrides."
                                  "movie_height/movie_width or lower simulate.overrides.footprints")
        soft = gaussian_filter(mask.astype(np.float64), 1.0) ** 2  # a little spill over the border
        rows, cols = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
        radius = np.sqrt(len(pix) / (np.pi * n))
        for centre in _spread_points(rng, pix, n):
            sigma = 0.45 * radius * rng.uniform(0.8, 1.2) + 0.5
            blob = np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma ** 2))
            fp = blob * soft
            footprints.append(fp / fp.max())
            names.append(region)
    return np.array(footprints, np.float32), names


def _spread_points(rng, pix, n):
    """Farthest-point sampling from a random start: n well-separated pixels of the region."""
    chosen = [pix[rng.integers(len(pix))]]
    dist = np.full(len(pix), np.inf)
    for _ in range(n - 1):
        dist = np.minimum(dist, ((pix - chosen[-1]) ** 2).sum(1))
        chosen.append(pix[np.argmax(dist)])
    return chosen
