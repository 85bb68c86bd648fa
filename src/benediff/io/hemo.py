"""``results/<s>/widefield/hemo.h5`` (rule ``widefield_hemo``): its one writer and reader.

Layout::

    U            (H, W, k) spatial components (those of svd.h5)
    V            (k, T) float32 blue temporal components, haemodynamics corrected and motion
                 regressed out
    mask         (H, W) pixels of the SVD
    r            (H, W) per-pixel regression weights of the violet channel (2 channels only)
    T            (k, k) the correction in component space (2 channels only)
    motion/      regressors (m, T), coef (k, m) float32, attr names (JSON): only when the motion
                 regressors were regressed out (``widefield.motion.regress``)

Read by LocaNMF (rule ``widefield_locanmf``) and the widefield QC figure.
"""

import json

import h5py
import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.hdf5 import open_rule_output

RULE = "widefield_hemo"


class HemoFileError(ValueError):
    """A hemo.h5 that is missing, unreadable or incomplete."""


def write_hemo(path, U, V, mask, r=None, T=None, motion: dict | None = None) -> None:
    """``motion``: {regressors, coef, names} when motion was regressed out, else None."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f["U"], f["V"], f["mask"] = U, V.astype(np.float32), mask
        if r is not None:
            f["r"], f["T"] = r, T
        if motion is not None:
            f["motion/regressors"] = motion["regressors"].astype(np.float32)
            f["motion/coef"] = motion["coef"].astype(np.float32)
            f["motion"].attrs["names"] = json.dumps(motion["names"])


def read_hemo(path) -> dict:
    """``hemo.h5`` as a dict: U, V, mask (bool), and r, T (None for a 1-channel recording);
    ``motion``: {regressors (m, T), coef (k, m), names} when motion was regressed out, else None.
    V before the regression is V + coef · regressors."""
    with open_rule_output(path, HemoFileError, RULE, ("U", "V", "mask")) as f:
        motion = None
        if "motion" in f:
            motion = {"regressors": f["motion/regressors"][()], "coef": f["motion/coef"][()],
                      "names": json.loads(f["motion"].attrs["names"])}
        return {"U": f["U"][()], "V": f["V"][()], "mask": f["mask"][()].astype(bool),
                "r": f["r"][()] if "r" in f else None, "T": f["T"][()] if "T" in f else None,
                "motion": motion}
