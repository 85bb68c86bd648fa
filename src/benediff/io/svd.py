"""``results/<s>/widefield/svd.h5`` (rule ``widefield_svd``): its one writer and reader.

Layout::

    U            (H, W, k) float32 spatial components (0 outside the mask)
    SVT          (k, C·T) float32 temporal components, channels interleaved (blue, violet, ...)
    mask         (H, W) pixels that entered the SVD
    F0           (C, H, W) ΔF/F baseline (absent for a compressed input)
    eigenvalues  (k,) (absent for a compressed input)
    attrs: n_channels, blue_first (bool: frame 0 of each cycle is the blue channel)

Read by the haemodynamic correction (rule ``widefield_hemo``).
"""

import h5py
import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.hdf5 import open_rule_output

RULE = "widefield_svd"


class SvdFileError(ValueError):
    """An svd.h5 that is missing, unreadable or incomplete."""


def write_svd(path, U, SVT, F0, mask, eigenvalues, n_channels, blue_first=True) -> None:
    """``F0`` and ``eigenvalues`` may be None (a compressed input brings neither)."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f["U"], f["SVT"], f["mask"] = U.astype(np.float32), SVT.astype(np.float32), mask
        if F0 is not None:
            f["F0"] = F0
        if eigenvalues is not None:
            f["eigenvalues"] = eigenvalues
        f.attrs["n_channels"] = n_channels
        f.attrs["blue_first"] = bool(blue_first)


def read_svd(path) -> dict:
    """svd.h5 as a dict: U, SVT, mask, n_channels (int), blue_first (bool), F0 and eigenvalues
    (None when absent)."""
    with open_rule_output(path, SvdFileError, RULE, ("U", "SVT", "mask")) as f:
        for key in ("n_channels", "blue_first"):
            if key not in f.attrs:
                raise SvdFileError(f"{path}: attribute {key!r} is missing; rerun {RULE} "
                                   f"(snakemake --forcerun {RULE})")
        return {"U": f["U"][()], "SVT": f["SVT"][()], "mask": f["mask"][()],
                "n_channels": int(f.attrs["n_channels"]),
                "blue_first": bool(f.attrs["blue_first"]),
                "F0": f["F0"][()] if "F0" in f else None,
                "eigenvalues": f["eigenvalues"][()] if "eigenvalues" in f else None}
