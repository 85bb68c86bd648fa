"""The session dataset: one HDF5 per session in a BehaveNet-compatible layout.

This module is the only code that knows the layout. Every stage reads and writes through it.

Layout (``trial_%04d`` datasets, one per trial, in trial order)::

    /                          attrs: format, version, session, frame_rate, provenance (JSON)
    /trials/ids                int64 (n_trials,)   original trial ids
    /images/trial_0000         uint8  (L, C, H, W) behaviour frames, views stacked as channels
    /neural/trial_0000         float32 (L, N)      region signals (LocaNMF components)
    /labels/trial_0000         float32 (L, B)      behaviour labels; group attr ``names``
    /regions/indxs_consolidate_lr/<REGION>   int64 (1, n) **0-based** column indices into neural
    /split/train, /split/val, /split/test    int64 trial positions (0..n_trials-1)

``regions`` carries the attr ``index_base = 0``. ``images``, ``neural`` and ``labels`` are each
optional when writing (a stage writes what it produces); :func:`validate` checks whatever is
present, and ``require=`` names the groups a consumer needs.
"""

import json
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.hdf5 import open_input

FORMAT = "benediff-dataset"
VERSION = 1
GROUPS = ("images", "neural", "labels")
SPLITS = ("train", "val", "test")
REGION_GROUP = "regions/indxs_consolidate_lr"


class DatasetError(ValueError):
    """A session dataset file is malformed; the message names the file and the fix."""


@dataclass
class Dataset:
    """In-memory session dataset. Per-trial arrays are lists indexed by trial position."""

    session: str
    frame_rate: float
    trial_ids: np.ndarray
    neural: list[np.ndarray] | None = None
    labels: list[np.ndarray] | None = None
    label_names: list[str] | None = None
    images: list[np.ndarray] | None = None
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    split: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return len(self.trial_ids)

    def region_neural(self, region: str) -> list[np.ndarray]:
        """Per-trial neural arrays restricted to one region's columns."""
        if region not in self.regions:
            raise DatasetError(
                f"session {self.session!r}: region {region!r} not in dataset; "
                f"available: {sorted(self.regions)}"
            )
        cols = self.regions[region]
        return [x[:, cols] for x in self.neural]

    def stacked(self, name: str, trials=None) -> np.ndarray:
        """(n_trials, L, ...) array of one per-trial group, optionally for a subset of trials."""
        arrays = getattr(self, name)
        idx = range(self.n_trials) if trials is None else trials
        return np.stack([arrays[i] for i in idx])


class TrialArrays(Sequence):
    """Per-trial arrays made on access, one trial in memory at a time (``get(i)`` → array).

    Stands in for a group's list in :class:`Dataset`, so a whole session's images never need
    to fit in memory: :func:`read` with ``lazy=True`` returns these, :func:`write` consumes them
    trial by trial.
    """

    def __init__(self, n: int, get, frames=None):
        self._n, self._get, self._frames = int(n), get, frames

    def __len__(self) -> int:
        return self._n

    def frames(self, i: int) -> int:
        """Frame count of trial ``i``, from the file's metadata when read from a file."""
        return int(self._frames(i)) if self._frames is not None else len(self[i])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"trial position {i} out of range for {self._n} trials")
        return self._get(i)


def _file_trials(path, name: str, n: int) -> TrialArrays:
    def get(i):
        with h5py.File(path, "r") as f:
            return f[f"{name}/trial_{i:04d}"][()]

    def frames(i):
        with h5py.File(path, "r") as f:
            return f[f"{name}/trial_{i:04d}"].shape[0]
    return TrialArrays(n, get, frames)


def write(path, ds: Dataset) -> None:
    """Write ``ds`` atomically: the file appears complete or not at all.

    Per-trial groups may be lists or :class:`TrialArrays`; they are written one trial at a time.
    """
    _check_consistency(ds, path)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        _write_header(f, ds)
        for name in GROUPS:
            arrays = getattr(ds, name)
            if arrays is None:
                continue
            grp = f.create_group(name)
            for i, arr in enumerate(arrays):
                _write_trial(grp, name, i, arr)
        _write_footer(f, ds)


@contextmanager
def stream_write(path, ds: Dataset, groups):
    """Write ``ds`` atomically with the per-trial ``groups`` streamed in: yields ``put(name, i,
    array)``, to be called once per group and trial position in any order.

    The other per-trial groups of ``ds`` are written from ``ds`` after the streamed ones; the
    file appears only if every trial of every streamed group was put.
    """
    groups = tuple(groups)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise DatasetError(f"{path}: unknown per-trial group(s) {unknown}; allowed: {list(GROUPS)}")
    _check_consistency(ds, path)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        _write_header(f, ds)
        grps = {name: f.create_group(name) for name in groups}
        seen = {name: set() for name in groups}

        def put(name, i, arr):
            if name not in grps:
                raise DatasetError(f"{path}: group {name!r} is not streamed; streamed: {list(groups)}")
            if not 0 <= int(i) < ds.n_trials or int(i) in seen[name]:
                raise DatasetError(f"{path}: {name} trial position {i} is out of range or "
                                   "written twice")
            if name != "images" and not np.all(np.isfinite(arr)):
                raise DatasetError(f"{path}: {name} of trial position {i} contains NaN or inf")
            _write_trial(grps[name], name, int(i), arr)
            seen[name].add(int(i))

        yield put
        for name in groups:
            if len(seen[name]) != ds.n_trials:
                missing = sorted(set(range(ds.n_trials)) - seen[name])
                raise DatasetError(f"{path}: {name} has {len(seen[name])} of {ds.n_trials} "
                                   f"trials (missing positions {missing[:5]}...)")
        for name in GROUPS:
            arrays = getattr(ds, name)
            if arrays is None or name in groups:
                continue
            grp = f.create_group(name)
            for i, arr in enumerate(arrays):
                _write_trial(grp, name, i, arr)
        _write_footer(f, ds)


def _write_header(f, ds):
    f.attrs["format"] = FORMAT
    f.attrs["version"] = VERSION
    f.attrs["session"] = ds.session
    f.attrs["frame_rate"] = float(ds.frame_rate)
    f.attrs["provenance"] = json.dumps(ds.provenance, sort_keys=True, default=str)
    f.create_dataset("trials/ids", data=np.asarray(ds.trial_ids, dtype=np.int64))


def _write_trial(grp, name, i, arr):
    dtype = np.uint8 if name == "images" else np.float32
    grp.create_dataset(f"trial_{i:04d}", data=np.asarray(arr, dtype=dtype),
                       compression="gzip" if name == "images" else None)


def _write_footer(f, ds):
    if "labels" in f and ds.label_names is not None:
        f["labels"].attrs["names"] = json.dumps(list(ds.label_names))
    regions = f.create_group(REGION_GROUP)
    f["regions"].attrs["index_base"] = 0
    for region, cols in ds.regions.items():
        regions.create_dataset(region, data=np.asarray(cols, dtype=np.int64).reshape(1, -1))
    for split, idx in ds.split.items():
        f.create_dataset(f"split/{split}", data=np.asarray(idx, dtype=np.int64))


def read(path, groups=GROUPS, lazy: bool = False) -> Dataset:
    """Read a session dataset (validated first). ``groups`` limits which per-trial groups load;
    ``lazy`` gives them as :class:`TrialArrays` that read one trial from ``path`` on access."""
    validate(path)
    with h5py.File(path, "r") as f:
        n = len(f["trials/ids"])
        ds = Dataset(
            session=str(f.attrs["session"]),
            frame_rate=float(f.attrs["frame_rate"]),
            trial_ids=f["trials/ids"][()],
            provenance=json.loads(f.attrs["provenance"]),
        )
        for name in groups:
            if name in f:
                setattr(ds, name, _file_trials(path, name, n) if lazy else
                        [f[f"{name}/trial_{i:04d}"][()] for i in range(n)])
        if "labels" in f and "names" in f["labels"].attrs:
            ds.label_names = json.loads(f["labels"].attrs["names"])
        if REGION_GROUP in f:
            ds.regions = {k: v[0, :] for k, v in ((k, f[REGION_GROUP][k][()]) for k in f[REGION_GROUP])}
        if "split" in f:
            ds.split = {k: f["split"][k][()] for k in f["split"]}
    return ds


def validate(path, require=()) -> None:
    """Raise :class:`DatasetError` naming the file and the problem if ``path`` is not a valid dataset."""
    path = Path(path)
    with open_input(path, DatasetError, str(path), "run the rule that builds it",
                    "delete it and rebuild") as f:
        _validate_open(f, path, require)


def _validate_open(f, path, require):
    def fail(msg):
        raise DatasetError(f"{path}: {msg}")

    if f.attrs.get("format") != FORMAT:
        fail(f"attribute 'format' is {f.attrs.get('format')!r}, expected {FORMAT!r}; "
             "write it with benediff.io.dataset.write")
    if int(f.attrs.get("version", -1)) != VERSION:
        fail(f"dataset version {f.attrs.get('version')} is not supported (expected {VERSION}); rebuild it")
    if "trials/ids" not in f:
        fail("missing 'trials/ids'")
    n = len(f["trials/ids"])
    for name in require:
        if name not in f:
            fail(f"missing group {name!r}, which this step needs; present: {sorted(f.keys())}")
    lengths = {}
    for name in GROUPS:
        if name not in f:
            continue
        keys = sorted(f[name].keys())
        expected = [f"trial_{i:04d}" for i in range(n)]
        if keys != expected:
            fail(f"group {name!r} has {len(keys)} trials, expected {n} named trial_0000..")
        want_ndim = 4 if name == "images" else 2
        for key in keys:
            d = f[name][key]
            if d.ndim != want_ndim:
                fail(f"{name}/{key} has {d.ndim} dims, expected {want_ndim}")
            if name != "images" and not np.all(np.isfinite(d[()])):
                fail(f"{name}/{key} contains NaN or inf")
            lengths.setdefault(key, set()).add(d.shape[0])
        widths = {f[name][k].shape[1:] for k in keys}
        if len(widths) > 1:
            fail(f"group {name!r} has inconsistent per-trial shapes {sorted(widths)}")
    for key, ls in lengths.items():
        if len(ls) > 1:
            fail(f"{key}: groups disagree on the number of frames {sorted(ls)}")
    if "neural" in f and REGION_GROUP in f:
        n_cols = f["neural/trial_0000"].shape[1] if n else 0
        for region in f[REGION_GROUP]:
            idx = f[REGION_GROUP][region][()]
            if idx.ndim != 2 or idx.shape[0] != 1:
                fail(f"region {region!r} indices must have shape (1, n), got {idx.shape}")
            if idx.size and (idx.min() < 0 or idx.max() >= n_cols):
                fail(f"region {region!r} indices out of range for {n_cols} neural columns "
                     "(indices are 0-based)")
    if "split" in f:
        seen = []
        for split in f["split"]:
            if split not in SPLITS:
                fail(f"unknown split {split!r}; allowed: {list(SPLITS)}")
            seen.extend(f["split"][split][()].tolist())
        if len(seen) != len(set(seen)) or any(i < 0 or i >= n for i in seen):
            fail("split indices overlap or fall outside 0..n_trials-1")


def _check_consistency(ds: Dataset, path) -> None:
    n = ds.n_trials
    for name in GROUPS:
        arrays = getattr(ds, name)
        if arrays is not None and len(arrays) != n:
            raise DatasetError(f"{path}: {name} has {len(arrays)} trials but trial_ids has {n}")
        if arrays is not None and name != "images":
            for i, a in enumerate(arrays):
                if not np.all(np.isfinite(a)):
                    raise DatasetError(f"{path}: {name} of trial position {i} contains NaN or inf")
    if ds.labels is not None and ds.label_names is not None:
        if ds.labels[0].shape[1] != len(ds.label_names):
            raise DatasetError(f"{path}: {len(ds.label_names)} label names for "
                               f"{ds.labels[0].shape[1]} label columns")
