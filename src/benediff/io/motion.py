"""``results/<s>/widefield/motion.h5`` (rule ``widefield_motion``): its one writer and reader.

Layout::

    shifts       (C, T, 2) per-channel frame displacements (zeros when motion correction is off)
    refs         (C, H, W) registered reference frames (zeros when off)
    bad_frames   (C, T) frames found unusable (interpolated from their neighbours)
    fill         (C, H, W) the image used where no neighbour is usable
    attrs: order (channel order, blue first), frame_shape (H, W), bad_reasons (JSON counts)

An input that is already compressed (an SVD format) has nothing to correct: the file then holds
only the attribute ``skipped`` (why). Read by the SVD, the haemodynamic step (motion
regressors), the landmark guess (mean frame) and the widefield QC figure.
"""

import json

import h5py
import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.hdf5 import open_rule_output

RULE = "widefield_motion"


class MotionFileError(ValueError):
    """A motion.h5 that is missing, unreadable or lacks what the reader needs."""


def write_motion(path, shifts, refs, bad, fill, reasons: dict, order, frame_shape) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f["shifts"], f["refs"] = shifts, refs
        f["bad_frames"], f["fill"] = bad, fill
        f.attrs["bad_reasons"] = json.dumps(reasons)
        f.attrs["order"] = order
        f.attrs["frame_shape"] = frame_shape


def write_skipped(path, reason: str) -> None:
    """motion.h5 of an input with no frames to correct (``reason`` stored as ``skipped``)."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["skipped"] = reason


def read_motion(path):
    """(shifts (C, T, 2), channel order) or (None, None) when motion was skipped."""
    with open_rule_output(path, MotionFileError, RULE) as f:
        if "shifts" not in f:
            return None, None
        return f["shifts"][()], _order(f, path)


def read_frame_quality(path):
    """(bad (C, T), fill (C, H, W)) of the motion step, or (None, None)."""
    with open_rule_output(path, MotionFileError, RULE) as f:
        if "bad_frames" not in f:
            return None, None
        return f["bad_frames"][()], f["fill"][()]


def read_reference(path):
    """(registered blue reference frame (H, W) float32 or None when motion correction was off
    or skipped, channel order or None)."""
    with open_rule_output(path, MotionFileError, RULE) as f:
        order = _order(f, path) if "order" in f.attrs else None
        if "refs" in f and np.any(f["refs"][0]):
            return f["refs"][0].astype(np.float32), order
        return None, order


def _order(f, path) -> list[int]:
    if "order" not in f.attrs:
        raise MotionFileError(f"{path}: shifts without the channel 'order' attribute; rerun "
                              f"{RULE} (snakemake --forcerun {RULE})")
    return [int(o) for o in f.attrs["order"]]
