"""Whiteness test of the LocaNMF components (``widefield.whiteness``, docs/WIDEFIELD.md §8.11).

A calcium signal sampled at 30 Hz is smooth from frame to frame: GCaMP decays over ~0.2-1 s,
so its lag-1 autocorrelation is ≥ 0.8 (0.92 for the simulator's τ = 0.4 s). Shot noise is
(nearly) white. A component made of a fraction f of signal (lag-1 ρ_s) and 1 − f of noise
(lag-1 ρ_n) has lag-1 ≈ f·ρ_s + (1 − f)·ρ_n, so a lag-1 below 0.5 means most of its variance
is frame-to-frame noise (f below ~0.55 even if the chain's noise were perfectly white). When a
region is given more components than its signal has dimensions (a fixed rank per region, a
weak region), LocaNMF fits the extra ones to noise: on the demo preset (seed 2) VIS_L had 3 of
7 components with lag-1 0.40-0.45 whose traces the planted activities explain at R² 0.02-0.16
(the smooth ones 0.36-0.90).

This step keeps, per LocaNMF region, the components whose lag-1 is ≥ ``min_lag1`` and drops
the rest, but never leaves a region with fewer than ``min_components`` (it keeps the smoothest
ones; a warning names the region and their lag-1): the models downstream need a minimum number
of dims per region (pi-VAE: more than its latents).

Why not drop white SVD components before LocaNMF (PMD-style, Buchanan et al. 2018): the
binned SVD selects its trailing (noise) components for their low-frequency power and the
haemodynamic correction adds the interpolated, low-passed violet noise, so after ``hemo`` the
noise components have a lag-1 of ~0.35, not 0 (demo seed 2: 140 of 150 components between 0.30
and 0.41, none below 0.30). A test against the white-noise null (lag-1 ~ N(−1/T, 1/T)) drops
none of them; a test against that noise floor keeps ~10 components, and LocaNMF never fits more
components in total than the SVD's rank, so every region would get about one.
"""

import logging

import numpy as np

log = logging.getLogger(__name__)


def lag1_autocorrelation(X) -> np.ndarray:
    """Lag-1 autocorrelation of each row of X (n, T): Σ_t x̃_t·x̃_{t+1} / Σ_t x̃_t² with x̃ the
    row minus its mean (0 for a constant row)."""
    X = np.atleast_2d(np.asarray(X, np.float64))
    X = X - X.mean(1, keepdims=True)
    energy = (X ** 2).sum(1)
    cov = (X[:, :-1] * X[:, 1:]).sum(1)
    return np.divide(cov, energy, out=np.zeros_like(cov), where=energy > 0)


def select_smooth(lag1, regions, min_lag1=0.5, min_components=1) -> np.ndarray:
    """Bool mask of the components to keep: per region code of ``regions`` (n,), those with
    ``lag1`` ≥ ``min_lag1``, topped up with the smoothest others to
    min(``min_components``, the region's components)."""
    lag1, regions = np.asarray(lag1, np.float64), np.asarray(regions)
    if lag1.shape != regions.shape:
        raise ValueError(f"lag1 {lag1.shape} and regions {regions.shape} differ in shape")
    keep = lag1 >= min_lag1
    for code in np.unique(regions):
        idx = np.flatnonzero(regions == code)
        need = min(int(min_components), len(idx)) - int(keep[idx].sum())
        if need > 0:
            rest = idx[~keep[idx]]
            keep[rest[np.argsort(-lag1[rest], kind="stable")[:need]]] = True
    return keep


def noisy_kept(lag1_kept, regions_kept, min_lag1) -> dict:
    """Region code -> the lag-1 of its kept components below ``min_lag1`` (those the floor
    ``min_components`` kept back), from the kept components' lag-1 and region codes."""
    out: dict = {}
    for code, lag in zip(np.asarray(regions_kept).tolist(), np.asarray(lag1_kept).tolist()):
        if lag < min_lag1:
            out.setdefault(int(code), []).append(lag)
    return out


def drop_white_components(model, U, V, atlas, min_lag1=0.5, min_components=1, names=None) -> dict:
    """Apply the whiteness test to a fitted :class:`~benediff.widefield.locanmf.LocaNMF` in place
    (its R² recomputed on the video U·V over ``atlas``). Returns the summary it also stores in
    ``model.whiteness_``: min_lag1, min_components, per region code the kept/fitted counts, the
    lag-1 of every fitted component and which were kept. ``names``: code → region name (log)."""
    lag1 = lag1_autocorrelation(model.temporal_)
    keep = select_smooth(lag1, model.regions_, min_lag1, min_components)
    regions = np.asarray(model.regions_)
    summary = {"min_lag1": float(min_lag1), "min_components": int(min_components),
               "lag1": lag1.tolist(), "kept": keep.tolist(), "regions": {}}
    for code in np.unique(regions):
        idx = regions == code
        summary["regions"][str(int(code))] = [int(keep[idx].sum()), int(idx.sum())]
    forced = {_name(code, names): np.round(lags, 2).tolist()
              for code, lags in noisy_kept(lag1[keep], regions[keep], min_lag1).items()}
    n_drop = int((~keep).sum())
    log.info("whiteness: dropped %d of %d LocaNMF components with lag-1 autocorrelation < %.2f",
             n_drop, len(keep), min_lag1)
    if forced:
        log.warning("whiteness: kept components with lag-1 < %.2f (noise-dominated) to leave each region "
                    "widefield.whiteness.min_components = %d: %s", min_lag1, min_components, forced)
    if n_drop:
        model.keep_components(keep, U, V, atlas)
    model.whiteness_ = summary
    return summary


def _name(code, names):
    return names.get(int(code), int(code)) if names else int(code)


__all__ = ["lag1_autocorrelation", "select_smooth", "noisy_kept", "drop_white_components"]
