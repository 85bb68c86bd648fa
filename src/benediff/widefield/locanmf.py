"""LocaNMF (Saxena et al. 2020) as an estimator: localised semi-NMF of an SVD-compressed widefield video.

Written from docs/WIDEFIELD.md §8 and §11. ``LocaNMF(...).fit(U, V, atlas)`` factorises the video
U·V into non-negative spatial maps, each born in and kept (by a distance penalty whose weight λ
grows) inside one atlas region, and free-sign temporal traces.
"""

import json
import logging
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from benediff.device import torch_device
from benediff.io.atomic import atomic_output
from benediff.widefield.locanmf_fit import (SCHEDULES, Problem, Settings, effective_lambda, in_region_fraction,
                                            rank_search)
from benediff.widefield.locanmf_kernels import use_numba

log = logging.getLogger(__name__)

_PARAMS = ("min_rank", "max_rank", "rank_step", "loc_thresh", "r2_thresh", "lambda_schedule", "lambda_init",
           "lambda_step", "lambda_scaled_init", "lambda_scaled_step", "maxiter_lambda", "maxiter_hals", "min_pixels",
           "nnt", "device", "seed", "tol", "warm_start", "verbose")
_ARRAYS = ("spatial_", "temporal_", "regions_", "lambdas_", "in_region_fraction_", "localized_", "mask_",
           "dropped_regions_")


class LocaNMFError(ValueError):
    """Bad input to LocaNMF: the message names the argument, the problem and the fix."""


class LocaNMF:
    """Localised semi-NMF with an atlas prior.

    Parameters follow docs/WIDEFIELD.md §8.9 (production column); the defaults are those of
    workflow/schemas/widefield.schema.yaml (section ``locanmf``). ``tol=None`` runs exactly
    ``maxiter_hals`` HALS iterations per λ round; a float ends a HALS run after the first iteration
    whose spatial and temporal sweeps both change their factor by less than ``tol`` (relative
    Frobenius norm), so λ rounds that change little cost one iteration. ``warm_start`` keeps the
    fitted components of regions that the rank search does not refit (their λ is reset to its
    initial value as in the reference) instead of rebuilding them from their initialisation.

    λ schedules. ``"reference"``: λ starts at ``lambda_init`` and is multiplied by ``lambda_step``
    for every component below ``loc_thresh`` after each λ round, in the data's absolute units (the
    reference implementation; with data of |U| ~ 10-100 its λ never bites: every λ round runs).
    ``"scaled"``: λ_k = λ_rel,k·||c_k||² (the component's temporal energy), so the penalty lowers a
    unit-peak map by λ_rel·d/2 of its peak at d pixels from its region, whatever the data scale;
    λ_rel starts at ``lambda_scaled_init`` and grows by ``lambda_scaled_step``. In both, λ stops
    growing for localised components and the search ends once all are localised. ``lambdas_``
    holds the absolute λ of each component in both schedules.

    The number of components never exceeds the rank of U·V (min(K, T)): when the atlas regions
    times ``max_rank`` would exceed it, the regions with the least signal get fewer (a warning
    names both numbers). ``verbose`` logs a line per rank and λ round; otherwise ``progress``
    shows a tqdm bar on stderr.
    """

    def __init__(self, min_rank=1, max_rank=1, rank_step=1, loc_thresh=80.0, r2_thresh=0.99,
                 lambda_schedule="scaled", lambda_init=1e-6, lambda_step=1.35, lambda_scaled_init=0.01,
                 lambda_scaled_step=2.0, maxiter_lambda=300, maxiter_hals=20, min_pixels=100, nnt=False,
                 device="cpu", seed=0, tol=0.01, verbose=False, warm_start=False, progress=True):
        self.min_rank, self.max_rank, self.rank_step = min_rank, max_rank, rank_step
        self.loc_thresh, self.r2_thresh = loc_thresh, r2_thresh
        self.lambda_schedule = lambda_schedule
        self.lambda_init, self.lambda_step = lambda_init, lambda_step
        self.lambda_scaled_init, self.lambda_scaled_step = lambda_scaled_init, lambda_scaled_step
        self.maxiter_lambda, self.maxiter_hals = maxiter_lambda, maxiter_hals
        self.min_pixels, self.nnt, self.device, self.seed = min_pixels, nnt, device, seed
        self.tol, self.verbose, self.warm_start, self.progress = tol, verbose, warm_start, progress

    # ------------------------------------------------------------------ fit
    def fit(self, U, V, atlas, mask=None):
        """Fit on U (H, W, K), V (K, T) and a signed-label atlas (H, W) in the same frame."""
        self._check_params()
        U, V, atlas, mask = _check_inputs(U, V, atlas, mask)
        labels, dropped = _regions(atlas, mask, self.min_pixels)
        device = torch_device(self.device)
        Um = torch.as_tensor(U[mask], dtype=torch.float32, device=device)
        V64 = torch.as_tensor(V, dtype=torch.float64, device=device)
        W = V64 if self.nnt else torch.linalg.qr(V64.T).R.T
        distance, support = _region_metadata(atlas, mask, labels)
        problem = Problem(Um, W.float().contiguous(), torch.as_tensor(distance, device=device),
                          torch.as_tensor(support, device=device), bool(self.nnt), use_numba(device),
                          relative=SCHEDULES[self.lambda_schedule].relative, labels=labels)
        state, info = rank_search(problem, self._settings())
        order = _output_order(state)
        state = state.take(order)
        self._store(problem, state, info, U.shape[:2], mask, labels, dropped, V64)
        return self

    def _settings(self):
        schedule = SCHEDULES[self.lambda_schedule]
        return Settings(self.min_rank, self.max_rank, self.rank_step, float(self.loc_thresh), self.r2_thresh,
                        getattr(self, schedule.init), getattr(self, schedule.step), self.maxiter_lambda,
                        self.maxiter_hals, self.tol, bool(self.warm_start), int(self.seed), self.lambda_schedule,
                        bool(self.verbose), bool(self.progress))

    def _check_params(self):
        if not 1 <= self.min_rank <= self.max_rank or self.rank_step < 1:
            raise LocaNMFError(f"LocaNMF: need 1 <= min_rank <= max_rank and rank_step >= 1, got "
                               f"min_rank={self.min_rank}, max_rank={self.max_rank}, rank_step={self.rank_step}")
        if not 0 <= self.loc_thresh <= 100:
            raise LocaNMFError(f"LocaNMF: loc_thresh is a percentage in [0, 100], got {self.loc_thresh}")
        if self.lambda_schedule not in SCHEDULES:
            raise LocaNMFError(f"LocaNMF: lambda_schedule must be one of {list(SCHEDULES)}, got "
                               f"{self.lambda_schedule!r}; set widefield.locanmf.lambda_schedule to 'scaled'")
        for init, step in ((s.init, s.step) for s in SCHEDULES.values()):
            if getattr(self, step) < 1 or getattr(self, init) < 0:
                raise LocaNMFError(f"LocaNMF: need {step} >= 1 and {init} >= 0, got {getattr(self, step)} and "
                                   f"{getattr(self, init)}; fix widefield.locanmf.{step} / {init}")

    def _store(self, problem, state, info, shape, mask, labels, dropped, V64):
        n = state.n
        A = state.At.T.double()
        self.mask_ = mask
        self.spatial_ = _to_maps(A.float().cpu().numpy(), mask)
        self.temporal_ = _solve_temporal(A, problem.Um.double(), V64, self.nnt).float().cpu().numpy()
        self.regions_ = np.asarray(labels, dtype=np.int64)[state.reg.cpu().numpy()]
        self.lambdas_ = effective_lambda(problem, state).double().cpu().numpy()
        self.in_region_fraction_ = in_region_fraction(problem, state).double().cpu().numpy()
        self.localized_ = self.in_region_fraction_ * 100 >= self.loc_thresh
        self.dropped_regions_ = np.asarray(dropped, dtype=np.int64)
        r2, r2_region = _centred_r2(problem.Um.double(), V64, A, torch.as_tensor(self.temporal_, dtype=torch.float64,
                                    device=A.device), problem.support)
        self.r2_ = r2
        self.r2_region_ = {int(c): float(v) for c, v in zip(labels, r2_region)}
        self.r2_region_internal_ = {int(c): float(v) for c, v in zip(labels, info["r2_region_internal"].cpu())}
        self.n_components_ = n
        self.rank_history_ = info["history"]
        self.max_ranks_ = {int(c): int(v) for c, v in zip(labels, info["caps"])}
        self.whiteness_ = None
        if self.verbose:
            log.info("LocaNMF: %d components, R² %.4f, %d/%d localised", n, r2, self.localized_.sum(), n)

    def keep_components(self, keep, U, V, atlas):
        """Keep only the components where ``keep`` (n,) is True (the whiteness test,
        :func:`benediff.widefield.denoise.drop_white_components`); the R² (total and per region) is
        recomputed on the fitted video U (H, W, K), V (K, T) with the signed-label ``atlas``."""
        self._check_fitted()
        keep = np.asarray(keep, bool)
        if keep.shape != (len(self.regions_),):
            raise LocaNMFError(f"LocaNMF.keep_components: keep must be ({len(self.regions_)},), got {keep.shape}")
        for name in ("spatial_", "temporal_", "regions_", "lambdas_", "in_region_fraction_", "localized_"):
            setattr(self, name, np.asarray(getattr(self, name))[keep])
        self.n_components_ = int(keep.sum())
        codes = sorted(self.r2_region_)
        _, support = _region_metadata(np.asarray(atlas), self.mask_, codes)
        Um = torch.as_tensor(np.asarray(U)[self.mask_], dtype=torch.float64)
        A = torch.as_tensor(np.nan_to_num(self.spatial_[:, self.mask_]), dtype=torch.float64)
        C = torch.as_tensor(self.temporal_, dtype=torch.float64)
        r2, r2_region = _centred_r2(Um, torch.as_tensor(V, dtype=torch.float64), A, C, torch.as_tensor(support))
        self.r2_ = r2
        self.r2_region_ = {int(c): float(v) for c, v in zip(codes, r2_region)}
        return self

    # ------------------------------------------------------------ transform
    def transform(self, U, V):
        """Temporal components (n, T') of the video U·V for the fitted spatial maps (least squares)."""
        self._check_fitted()
        U, V = np.asarray(U), np.asarray(V)
        if U.shape[:2] != self.mask_.shape or U.ndim != 3 or V.ndim != 2 or V.shape[0] != U.shape[2]:
            raise LocaNMFError(f"LocaNMF.transform: U must be (H, W, K) with (H, W) = {self.mask_.shape} and V (K, T); "
                               f"got U {U.shape} and V {V.shape}")
        Um = U[self.mask_]
        if not (np.isfinite(Um).all() and np.isfinite(V).all()):
            raise LocaNMFError("LocaNMF.transform: U (inside the fitted mask) and V must be finite")
        device = torch_device(self.device)
        A = torch.as_tensor(self.spatial_[:, self.mask_], dtype=torch.float64, device=device)
        Um = torch.as_tensor(Um, dtype=torch.float64, device=device)
        V = torch.as_tensor(V, dtype=torch.float64, device=device)
        return _solve_temporal(A, Um, V, self.nnt).float().cpu().numpy()

    def _check_fitted(self):
        if not hasattr(self, "spatial_"):
            raise LocaNMFError("LocaNMF: call fit (or LocaNMF.load) before transform/save")

    # ------------------------------------------------------------ save/load
    def get_params(self):
        return {name: getattr(self, name) for name in _PARAMS}

    def save(self, path):
        """Write the fitted model to ``path`` (.npz or .h5), atomically."""
        self._check_fitted()
        path = Path(path)
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        codes = np.array(sorted(self.r2_region_), dtype=np.int64)
        arrays["r2_region_codes"] = codes
        arrays["r2_region_values"] = np.array([self.r2_region_[c] for c in codes])
        arrays["r2_region_internal_values"] = np.array([self.r2_region_internal_[c] for c in codes])
        meta = json.dumps({"params": self.get_params(), "r2": self.r2_, "n_components": self.n_components_,
                           "rank_history": self.rank_history_, "whiteness": getattr(self, "whiteness_", None)})
        with atomic_output(path) as tmp:
            if path.suffix == ".npz":
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, meta=np.array(meta), **arrays)
            elif path.suffix in (".h5", ".hdf5"):
                _save_h5(tmp, arrays, meta)
            else:
                raise LocaNMFError(f"LocaNMF.save: {path} must end in .npz or .h5")
        return path

    @classmethod
    def load(cls, path):
        path = Path(path)
        if path.suffix == ".npz":
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        elif path.suffix in (".h5", ".hdf5"):
            arrays = _load_h5(path)
        else:
            raise LocaNMFError(f"LocaNMF.load: {path} must end in .npz or .h5")
        meta = json.loads(str(arrays.pop("meta")))
        model = cls(**meta["params"])
        for name in _ARRAYS:
            setattr(model, name, arrays[name])
        model.mask_ = model.mask_.astype(bool)
        model.localized_ = model.localized_.astype(bool)
        codes = arrays["r2_region_codes"].tolist()
        model.r2_region_ = dict(zip(codes, arrays["r2_region_values"].tolist()))
        model.r2_region_internal_ = dict(zip(codes, arrays["r2_region_internal_values"].tolist()))
        model.r2_, model.n_components_, model.rank_history_ = meta["r2"], meta["n_components"], meta["rank_history"]
        model.whiteness_ = meta.get("whiteness")
        return model


# ---------------------------------------------------------------- helpers
def _check_inputs(U, V, atlas, mask):
    U, V, atlas = np.asarray(U), np.asarray(V), np.asarray(atlas)
    if U.ndim != 3:
        raise LocaNMFError(f"LocaNMF.fit: U must be (H, W, K) spatial SVD maps, got shape {U.shape}")
    if atlas.shape != U.shape[:2]:
        raise LocaNMFError(f"LocaNMF.fit: atlas shape {atlas.shape} differs from U's frame {U.shape[:2]}; "
                           "warp the atlas (or U) into the same frame first")
    if V.ndim != 2 or V.shape[0] != U.shape[2]:
        raise LocaNMFError(f"LocaNMF.fit: V must be (K, T) with K = U.shape[2] = {U.shape[2]}, got {V.shape}")
    if not np.isfinite(V).all():
        raise LocaNMFError("LocaNMF.fit: V contains NaN or inf; fix the SVD / haemodynamic correction output")
    if not np.issubdtype(atlas.dtype, np.integer):
        if not (np.isfinite(atlas).all() and np.array_equal(atlas, np.round(atlas))):
            raise LocaNMFError("LocaNMF.fit: atlas must hold integer region codes (0 = no region)")
        atlas = atlas.astype(np.int64)
    finite = np.isfinite(U).all(axis=2)
    if mask is None:
        mask = finite & (np.nan_to_num(U) != 0).any(axis=2)
    else:
        mask = np.asarray(mask)
        if mask.shape != atlas.shape or mask.dtype != bool:
            raise LocaNMFError(f"LocaNMF.fit: mask must be a bool array of shape {atlas.shape}, "
                               f"got {mask.dtype} {mask.shape}")
        if not finite[mask].all():
            raise LocaNMFError("LocaNMF.fit: U has NaN/inf inside the mask; exclude those pixels from the mask")
    return U, V, atlas, mask & (atlas != 0)


def _regions(atlas, mask, min_pixels):
    """Sorted signed labels with more than ``min_pixels`` pixels in the mask, and the dropped ones."""
    codes, counts = np.unique(atlas[mask], return_counts=True)
    kept = [int(c) for c, n in zip(codes, counts) if n > min_pixels]
    dropped = [int(c) for c, n in zip(codes, counts) if n <= min_pixels]
    if dropped:
        log.warning("LocaNMF: dropping regions with <= %d pixels in the mask: %s", min_pixels, dropped)
    if not kept:
        raise LocaNMFError(f"LocaNMF.fit: no atlas region has more than min_pixels={min_pixels} pixels inside the "
                           f"mask ({int(mask.sum())} mask pixels); check the atlas alignment or lower min_pixels")
    return kept, dropped


def _region_metadata(atlas, mask, labels):
    """Per region: bool support inside the mask and the distance (px) to the region's full-atlas pixels."""
    pixels = np.argwhere(mask)
    inside = atlas[mask]
    distance = np.empty((len(pixels), len(labels)), dtype=np.float32)
    support = np.empty((len(pixels), len(labels)), dtype=bool)
    for j, code in enumerate(labels):
        distance[:, j] = cKDTree(np.argwhere(atlas == code)).query(pixels)[0]
        support[:, j] = inside == code
    return distance, support


def _output_order(state):
    """Stable order by (region, spatial norm descending)."""
    norms = torch.linalg.vector_norm(state.At, dim=0)
    by_norm = torch.argsort(-norms, stable=True)
    return by_norm[torch.argsort(state.reg[by_norm], stable=True)]


def _to_maps(A, mask):
    maps = np.full((A.shape[0],) + mask.shape, np.nan, dtype=np.float32)
    maps[:, mask] = A
    return maps


def _solve_temporal(A, Um, V, nonneg, sweeps=500, tol=1e-10):
    """argmin_C ||Um V - Aᵀ C||² (C ≥ 0 with ``nonneg``), A (n, P), Um (P, K), V (K, T), in float64."""
    gram = A @ A.T
    rhs = (A @ Um) @ V
    C = torch.linalg.solve(gram, rhs)
    if not nonneg:
        return C
    C = C.clamp(min=0)
    for _ in range(sweeps):
        before = C.clone()
        for k in range(C.shape[0]):
            C[k] = (C[k] + (rhs[k] - gram[k] @ C) / gram[k, k]).clamp(min=0)
        if float((C - before).norm()) <= tol * float(C.norm()):
            break
    return C


def _centred_r2(Um, V, A, C, support):
    """Exact centred R² of U·V by Aᵀ·C over the FOV and per region, without forming the P × T movie."""
    Z = torch.cat([V, C])
    mean = Z.mean(1, keepdim=True)
    gram = Z @ Z.T - Z.shape[1] * (mean @ mean.T)
    B = torch.cat([Um, -A.T], dim=1)
    resid = ((B @ gram) * B).sum(1)
    K = Um.shape[1]
    total = ((Um @ gram[:K, :K]) * Um).sum(1)
    sup = support.to(resid.dtype)
    r2_region = 1 - (resid @ sup) / (total @ sup)
    return float(1 - resid.sum() / total.sum()), r2_region.cpu().numpy()


def _save_h5(path, arrays, meta):
    import h5py

    with h5py.File(path, "w") as fh:
        for name, value in arrays.items():
            fh.create_dataset(name, data=value, compression="gzip" if np.asarray(value).size > 1000 else None)
        fh.attrs["meta"] = meta


def _load_h5(path):
    import h5py

    with h5py.File(path, "r") as fh:
        arrays = {name: fh[name][()] for name in fh}
        arrays["meta"] = fh.attrs["meta"]
    return arrays
