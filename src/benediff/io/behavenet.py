"""Import a BehaveNet ``data.hdf5`` (the paper's data source) as a session dataset.

BehaveNet stores one dataset per trial, ``trial_%04i``, in the groups ``images`` (uint8
(L, C, H, W), views stacked as channels), ``neural`` (float (L, N), LocaNMF components) and
``labels`` (float (L, B)); region columns are ``regions/indxs_consolidate_lr/<REGION>``
(1 × n integer arrays) whose index base differs between BehaveNet versions. Label names are not
stored, so they come from the config's ``behaviors`` (optionally through ``label_columns``).
"""

from pathlib import Path

import numpy as np

from benediff.io.dataset import REGION_GROUP, Dataset
from benediff.io.hdf5 import open_input

INDEX_BASES = ("auto", 0, 1)


class BehaveNetError(ValueError):
    """A BehaveNet file does not fit the configured session; the message says how to fix it."""


def read_behavenet(path, *, session: str, behaviors: list[str], regions: list[str],
                   label_columns: list[int] | None = None, index_base="auto",
                   frame_rate: float = 30.0, images: bool = True) -> Dataset:
    """Read neural, labels, region indices (made 0-based) and, when present, images.

    ``images=False`` (the check before any job) reads only the images' shapes: every check is
    made, the dataset comes back without images.
    """
    path = Path(path)
    where = f"{path} (sessions.{session}.behavenet)"
    with open_input(path, BehaveNetError, where, "fix the path in your config") as f:
        for group in ("neural", "labels"):
            if group not in f or not len(f[group]):
                raise BehaveNetError(f"{where}: no {group!r} group with trial_%04i datasets; "
                                     "a BehaveNet data.hdf5 needs neural and labels")
        keys = _trial_keys(f, where)
        neural = [_neural(f["neural"][k][()], where, k) for k in keys]
        labels = [_labels(f["labels"][k][()], behaviors, label_columns, where, k) for k in keys]
        image_lengths = [len(f["images"][k]) for k in keys] if "images" in f else None
        movie = [f["images"][k][()] for k in keys] if images and "images" in f else None
        raw_regions = _raw_regions(f, where)
    _check_lengths(neural, labels, image_lengths, where, keys)
    _check_finite(neural, labels, keys, where)
    n_neural = neural[0].shape[1]
    empty = [r for r in regions if r in raw_regions and raw_regions[r].size == 0]
    if empty:
        raise BehaveNetError(f"{where}: region(s) {empty} have no columns under {REGION_GROUP}; "
                             "a region needs at least one neural column, remove it from the "
                             "config's regions or fix the file")
    offset = _index_offset(raw_regions, n_neural, index_base, where, session)
    return Dataset(
        session=session, frame_rate=float(frame_rate), trial_ids=np.arange(len(keys)),
        neural=neural, labels=labels, label_names=list(behaviors), images=movie,
        regions=_select_regions(raw_regions, regions, offset, n_neural, where),
    )


def _trial_keys(f, where) -> list[str]:
    keys = sorted(f["neural"])
    missing = [k for k in keys if k not in f["labels"] or ("images" in f and k not in f["images"])]
    if missing:
        raise BehaveNetError(f"{where}: trials {missing[:5]} have neural data but no labels or "
                             "images; every group must hold the same trials")
    return keys


def _neural(raw, where, key) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim != 2:
        raise BehaveNetError(f"{where}: neural/{key} has shape {raw.shape}; expected (frames, "
                             "components)")
    return raw


def _check_finite(neural, labels, keys, where) -> None:
    """NaN or inf in the file: named here (the input), not later in the assembled dataset."""
    for group, arrays in (("neural", neural), ("labels", labels)):
        bad = [(k, int((~np.isfinite(x)).sum())) for k, x in zip(keys, arrays)
               if not np.isfinite(x).all()]
        if bad:
            shown = ", ".join(f"{k} ({n} values)" for k, n in bad[:5])
            raise BehaveNetError(
                f"{where}: {group} holds NaN or inf in {len(bad)} of {len(keys)} trials: "
                f"{shown}{' ...' if len(bad) > 5 else ''}; fill or drop those trials in the file "
                "(every value must be finite)")


def _labels(raw, behaviors, columns, where, key) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim != 2:
        raise BehaveNetError(f"{where}: labels/{key} has shape {raw.shape}; expected (frames, labels)")
    if columns is None:
        if raw.shape[1] != len(behaviors):
            raise BehaveNetError(
                f"{where}: labels have {raw.shape[1]} columns but behaviors names "
                f"{len(behaviors)} ({behaviors}); set sessions.<name>.label_columns to the "
                "column of each behaviour, in order")
        return raw
    if len(columns) != len(behaviors):
        raise BehaveNetError(f"{where}: label_columns {columns} must give one column per "
                             f"behaviour in {behaviors}")
    if max(columns) >= raw.shape[1] or min(columns) < 0:
        raise BehaveNetError(f"{where}: label_columns {columns} out of range for "
                             f"{raw.shape[1]} label columns (0-based)")
    return raw[:, columns]


def _raw_regions(f, where) -> dict[str, np.ndarray]:
    if REGION_GROUP not in f:
        raise BehaveNetError(f"{where}: no {REGION_GROUP} group; the file needs per-region "
                             "column indices (BehaveNet's consolidated left/right regions)")
    return {name: np.asarray(f[REGION_GROUP][name][()]).reshape(-1).astype(np.int64)
            for name in f[REGION_GROUP]}


def _check_lengths(neural, labels, image_lengths, where, keys) -> None:
    widths = {x.shape[1] for x in neural}
    if len(widths) != 1:
        raise BehaveNetError(f"{where}: neural trials have different widths {sorted(widths)}")
    bad = [i for i, (x, u) in enumerate(zip(neural, labels))
           if u.shape[0] != x.shape[0]
           or (image_lengths is not None and image_lengths[i] != x.shape[0])]
    if bad:
        i = bad[0]
        raise BehaveNetError(
            f"{where}: {len(bad)} trial(s) have different frame counts across groups, first "
            f"{keys[i]}: {neural[i].shape[0]} neural frames but {labels[i].shape[0]} label frames"
            + ("" if image_lengths is None else f" and {image_lengths[i]} images")
            + "; every trial needs one label row (and image) per neural frame, re-export the file")


def _index_offset(raw_regions, n_neural, index_base, where, session) -> int:
    """0 for 0-based indices, 1 for 1-based ones (decided from the indices if ``auto``)."""
    if index_base not in INDEX_BASES:
        raise BehaveNetError(f"sessions.{session}.index_base = {index_base!r}; allowed: {INDEX_BASES}")
    used = np.concatenate(list(raw_regions.values())) if raw_regions else np.zeros(0, int)
    if index_base != "auto":
        return int(index_base)
    if not used.size:
        raise BehaveNetError(f"{where}: no region has any column under {REGION_GROUP}; the file "
                             "needs each region's neural column indices")
    if used.size and used.min() == 0:
        return 0
    if used.size and used.max() == n_neural:
        return 1
    raise BehaveNetError(f"{where}: cannot tell whether region indices are 0- or 1-based "
                         f"(they span {used.min()}..{used.max()} of {n_neural} columns); set "
                         f"sessions.{session}.index_base to 0 or 1")


def _select_regions(raw_regions, regions, offset, n_neural, where) -> dict[str, np.ndarray]:
    missing = [r for r in regions if r not in raw_regions]
    if missing:
        raise BehaveNetError(f"{where}: regions {missing} are not in the file; it has "
                             f"{sorted(raw_regions)}; fix the config's regions")
    selected = {}
    for region in regions:
        cols = raw_regions[region] - offset
        if cols.min() < 0 or cols.max() >= n_neural:
            raise BehaveNetError(f"{where}: region {region} indexes columns outside 0..{n_neural - 1} "
                                 "after the index-base correction; check sessions.<name>.index_base")
        selected[region] = cols
    owner, shared = {}, []
    for region, cols in selected.items():
        for c in np.unique(cols):
            if int(c) in owner and (owner[int(c)], region) not in shared:
                shared.append((owner[int(c)], region))
            owner.setdefault(int(c), region)
    if shared:
        pairs = ", ".join(f"{a} and {b} ({np.intersect1d(selected[a], selected[b]).size} "
                          "columns)" for a, b in shared)
        raise BehaveNetError(f"{where}: regions share neural columns under {REGION_GROUP}: "
                             f"{pairs}; each column belongs to one region, fix the indices in "
                             "the file")
    return selected
