"""``results/<s>/widefield/atlas.h5`` (rule ``widefield_atlas``): the atlas in a session's
frame and the checks of its alignment; its one writer and reader.

Layout::

    labels           (H, W) signed atlas in the session frame (the regions used downstream:
                     regions mostly outside the imaged brain zeroed)
    transform        (3, 3) atlas px -> session px (identity when none was fitted)
    residuals        (n,) landmark-fit residuals, px per landmark (empty when none)
    labels_aligned   (H, W) the warped atlas before regions were dropped
    brain_mask       (H, W) bool brain mask of the recording
    mean_frame       (H, W) float32 mean blue frame (absent for a compressed input)
    dropped_outside  (n,) int64 codes dropped for lying outside the brain
    inside_fraction  (n, 2) float64 rows (code, fraction of its area inside the brain)
    attrs: names (JSON code -> acronym); overlap, atlas_in_brain, brain_covered, brain_found,
           min_overlap (the landmark check); landmarks (JSON: name, x, y, x_fit, y_fit)

Only ``labels``, ``transform``, ``residuals`` and ``names`` are always there. Read by the SVD
(its mask), LocaNMF, the neural dataset, the widefield QC figure and the NWB export.
"""

import json

import h5py
import numpy as np

from benediff.io.atlas import Atlas
from benediff.io.atomic import atomic_output
from benediff.io.hdf5 import open_rule_output

RULE = "widefield_atlas"
OVERLAP_ATTRS = ("overlap", "atlas_in_brain", "brain_covered", "brain_found")


class SessionAtlasError(ValueError):
    """An atlas.h5 that is missing, unreadable or incomplete."""


def write_atlas_h5(out, atlas: Atlas, params=None, residuals=None, extras=None) -> None:
    """``labels`` and ``names`` of ``atlas`` and, from the atlas step, the checks in ``extras``:
    labels_aligned, brain_mask, mean_frame, overlap (an object with :data:`OVERLAP_ATTRS`),
    min_overlap, dropped_outside, inside_fraction ({code: fraction}), landmarks (dict)."""
    extras = extras or {}
    with atomic_output(out) as tmp, h5py.File(tmp, "w") as f:
        f["labels"] = atlas.labels
        f["transform"] = np.eye(3) if params is None else params
        f["residuals"] = np.zeros(0) if residuals is None else residuals
        f.attrs["names"] = json.dumps({str(k): v for k, v in atlas.names.items()})
        if extras.get("labels_aligned") is not None:
            f["labels_aligned"] = extras["labels_aligned"]
        if extras.get("brain_mask") is not None:
            f["brain_mask"] = np.asarray(extras["brain_mask"], bool)
        if extras.get("mean_frame") is not None:
            f["mean_frame"] = np.asarray(extras["mean_frame"], np.float32)
        if extras.get("overlap") is not None:
            ov = extras["overlap"]
            for key in OVERLAP_ATTRS:
                f.attrs[key] = getattr(ov, key)
            f.attrs["min_overlap"] = float(extras.get("min_overlap", 0.0))
        if "dropped_outside" in extras:
            f["dropped_outside"] = np.asarray(extras["dropped_outside"], np.int64)
        if extras.get("inside_fraction"):
            fr = extras["inside_fraction"]
            f["inside_fraction"] = np.array([[c, fr[c]] for c in sorted(fr)], np.float64)
        if extras.get("landmarks"):
            f.attrs["landmarks"] = json.dumps(extras["landmarks"])


def _open(path):
    f = open_rule_output(path, SessionAtlasError, RULE, ("labels",))
    if "names" not in f.attrs:
        f.close()
        raise SessionAtlasError(f"{path}: attribute 'names' (region acronyms) is missing; rerun "
                                f"{RULE} (snakemake --forcerun {RULE})")
    return f


def read_atlas_h5(path) -> Atlas:
    """The atlas in the session frame (regions used downstream)."""
    with _open(path) as f:
        names = {int(k): v for k, v in json.loads(f.attrs["names"]).items()}
        return Atlas(f["labels"][()], names)


def read_brain_mask(path):
    """The recording's brain mask (H, W) bool, or None (a file from an older version)."""
    with _open(path) as f:
        return f["brain_mask"][()].astype(bool) if "brain_mask" in f else None


def read_atlas_checks(path) -> dict:
    """The alignment checks stored by the atlas step (empty entries for older files)."""
    with _open(path) as f:
        out = {key: f[key][()] if key in f else None
               for key in ("labels_aligned", "brain_mask", "mean_frame", "residuals")}
        out["dropped_outside"] = [int(c) for c in f["dropped_outside"][()]] \
            if "dropped_outside" in f else []
        out["inside_fraction"] = {int(c): float(v) for c, v in f["inside_fraction"][()]} \
            if "inside_fraction" in f else {}
        for key in (*OVERLAP_ATTRS, "min_overlap"):
            out[key] = f.attrs[key].item() if key in f.attrs else None
        out["landmarks"] = json.loads(f.attrs["landmarks"]) if "landmarks" in f.attrs else None
    return out
