"""From a session dataset to normalised per-split arrays for one region (train-split z-score),
and the same for several sessions pooled into one training set."""

from dataclasses import dataclass, field

import numpy as np

from benediff.config import POOLED  # noqa: F401 (session name of pooled fits; defined once, in config)
from benediff.lvm.base import LatentModelError

MIN_TRIALS = {"train": 2, "val": 1, "test": 1}


class RegionDataError(LatentModelError):
    """The dataset cannot be used to fit a region's latent model; the message says why."""


@dataclass
class RegionData:
    """Z-scored neural (L, N) and label (L, B) trials of one region, by split."""

    session: str
    region: str
    label_names: list[str]
    X: list[np.ndarray]  # all trials in trial order, normalised
    U: list[np.ndarray]
    split: dict[str, np.ndarray]
    x_mean: np.ndarray
    x_std: np.ndarray
    u_mean: np.ndarray
    u_std: np.ndarray
    members: list["RegionData"] = field(default_factory=list)  # pooled: one per session

    def part(self, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        idx = self.split[name]
        return [self.X[i] for i in idx], [self.U[i] for i in idx]


def _train_stats(arrays, idx):
    stacked = np.concatenate([arrays[i] for i in idx]).astype(np.float64)
    return stacked.mean(0), stacked.std(0)


def region_data(ds, region: str, n_latents: int | None = None, source="dataset") -> RegionData:
    """Select a region, check it, and z-score neural and labels with training-split statistics."""
    where = f"{source} (session {ds.session!r}, region {region!r})"
    if ds.neural is None or ds.labels is None:
        raise RegionDataError(f"{where}: needs both neural and labels groups; rebuild the dataset")
    for name in ("train", "val", "test"):
        n = len(ds.split.get(name, ()))
        if n < MIN_TRIALS[name]:
            raise RegionDataError(f"{where}: split {name!r} has {n} trials, need at least "
                                  f"{MIN_TRIALS[name]}; add trials or change split.blocks")
    X = ds.region_neural(region)
    for i, (x, u) in enumerate(zip(X, ds.labels)):
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(u))):
            raise RegionDataError(f"{where}: trial position {i} has NaN or inf in neural data or "
                                  "labels; fix the upstream stage")
    if n_latents is not None and X[0].shape[1] < n_latents:
        raise RegionDataError(f"{where}: {X[0].shape[1]} neural dims are fewer than the "
                              f"{n_latents} latents; lower lvm.n_unsupervised or drop the region "
                              "(a widefield session: or keep more LocaNMF components, "
                              "widefield.whiteness.min_components or widefield.locanmf.min_rank)")
    names = list(ds.label_names or [f"label{b}" for b in range(ds.labels[0].shape[1])])
    train = ds.split["train"]
    x_mean, x_std = _train_stats(X, train)
    u_mean, u_std = _train_stats(ds.labels, train)
    for name, sd in zip(names, u_std):
        if sd == 0:
            raise RegionDataError(f"{where}: behaviour label {name!r} is constant on the training "
                                  "trials (zero entropy); drop it from behaviors")
    if np.any(x_std == 0):
        raise RegionDataError(f"{where}: neural dims {np.flatnonzero(x_std == 0).tolist()} are "
                              "constant on the training trials; drop them from the region")
    return RegionData(
        session=ds.session, region=region, label_names=names,
        X=[((x - x_mean) / x_std).astype(np.float32) for x in X],
        U=[((u - u_mean) / u_std).astype(np.float32) for u in ds.labels],
        split={k: np.asarray(v) for k, v in ds.split.items()},
        x_mean=x_mean, x_std=x_std, u_mean=u_mean, u_std=u_std,
    )


def pooled_region_data(parts: list[RegionData]) -> RegionData:
    """Several sessions' RegionData of one region as one: trials concatenated in session order,
    each split the union of the sessions' splits (positions shifted by the trials before them).

    Each session keeps its own training-split z-scoring (the per-session means and stds are
    stacked, one row per session), so session offsets and gains do not leak into the latents
    and every session's test metrics are in the same units as its per-session fit.
    """
    if not parts:
        raise RegionDataError("pooling needs at least one session; set lvm.pool_sessions")
    first = parts[0]
    for rd in parts[1:]:
        if rd.X[0].shape[1] != first.X[0].shape[1]:
            raise RegionDataError(
                f"cannot pool region {first.region!r}: session {first.session!r} has "
                f"{first.X[0].shape[1]} neural dims but {rd.session!r} has {rd.X[0].shape[1]}; "
                "pool only sessions with the same region dims (lvm.pool_sessions)")
        if rd.label_names != first.label_names:
            raise RegionDataError(
                f"cannot pool region {first.region!r}: session {first.session!r} has behaviours "
                f"{first.label_names} but {rd.session!r} has {rd.label_names}; pool only sessions "
                "with the same behaviours in the same order (lvm.pool_sessions)")
    offsets = np.cumsum([0] + [len(rd.X) for rd in parts])
    split = {name: np.concatenate([rd.split[name] + off for rd, off in zip(parts, offsets)])
             for name in MIN_TRIALS}
    return RegionData(
        session=POOLED, region=first.region, label_names=first.label_names,
        X=[x for rd in parts for x in rd.X], U=[u for rd in parts for u in rd.U], split=split,
        x_mean=np.stack([rd.x_mean for rd in parts]), x_std=np.stack([rd.x_std for rd in parts]),
        u_mean=np.stack([rd.u_mean for rd in parts]), u_std=np.stack([rd.u_std for rd in parts]),
        members=list(parts),
    )
