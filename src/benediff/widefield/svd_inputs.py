"""Readers (and writers, for round trips) of SVD-compressed widefield recordings: Musall
``Vc.mat`` / ``interpVc.mat``, LocaNMF ``Vc_Uc.mat`` and a wfield folder (``U.npy`` +
``SVT*.npy``), each loaded into :class:`SvdData` (the formats named in
:data:`benediff.widefield.readers.SVD_FORMATS`).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benediff.io.atomic import atomic_output
from benediff.widefield.readers import ReaderError


@dataclass
class SvdData:
    """Compressed recording: U (H, W, K) NaN outside the mask, V (K, T), trial layout if known."""

    U: np.ndarray
    V: np.ndarray
    mask: np.ndarray
    frames_per_trial: int | None = None
    frame_rate: float | None = None

    @property
    def n_trials(self) -> int | None:
        if not self.frames_per_trial:
            return None
        return self.V.shape[1] // self.frames_per_trial


def _finish(U, V, mask=None, **kw) -> SvdData:
    U = np.asarray(U, np.float32)
    V = np.asarray(V, np.float32)
    if mask is None:
        mask = np.all(np.isfinite(U), -1) & np.any(np.nan_to_num(U) != 0, -1)
    U = np.where(mask[..., None], U, np.nan).astype(np.float32)
    return SvdData(U, V, np.asarray(mask, bool), **kw)


def read_vc_mat(path) -> SvdData:
    """Musall ``Vc.mat`` (K × frames × trials) or ``interpVc.mat`` (K × frames·trials), MAT v7.3."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ReaderError(f"{path}: not a MATLAB v7.3 (HDF5) file ({exc}); save it with "
                          "save(..., '-v7.3') or use format vc_uc_mat for MAT v5") from exc
    with f:
        if "Vc" not in f:
            raise ReaderError(f"{path}: variable 'Vc' missing; not a Musall Vc.mat")
        if "U" not in f:
            raise ReaderError(f"{path}: variable 'U' missing; Musall Vc.mat files need the "
                              "spatial components U (H x W x K) next to Vc; add U from the "
                              "session's SVD output")
        U = f["U"][()].T  # h5py shows MATLAB dims reversed
        Vc = f["Vc"][()].T
        frames = int(np.asarray(f["frames"][()]).ravel()[0]) if "frames" in f else None
        rate = None
        if "opts" in f and "frameRate" in f["opts"]:
            rate = float(np.asarray(f["opts/frameRate"][()]).ravel()[0])
    if Vc.ndim == 3:  # K × frames × trials, trial-major flattening
        frames = Vc.shape[1]
        Vc = Vc.transpose(0, 2, 1).reshape(Vc.shape[0], -1)
    if U.shape[-1] != Vc.shape[0]:
        raise ReaderError(f"{path}: U has {U.shape[-1]} components but Vc has {Vc.shape[0]}")
    return _finish(U, Vc, frames_per_trial=frames, frame_rate=rate)


def write_vc_mat(path, U, Vc, frames=None) -> None:
    """Write a v7.3-layout (HDF5, reversed dims) Vc.mat; ``Vc`` may be 3-D (K, frames, trials)."""
    import h5py

    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        if U is not None:
            f["U"] = np.asarray(U).T
        f["Vc"] = np.asarray(Vc).T
        if frames is not None:
            f["frames"] = np.array([[frames]], np.float64)


def read_vc_uc_mat(path) -> SvdData:
    """LocaNMF ``Vc_Uc.mat`` (MAT v5): Uc H × W × K, Vc K × T, brainmask H × W."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:
        raise ReaderError(f"{path}: not a readable MAT v5 file ({exc})") from exc
    for key in ("Uc", "Vc"):
        if key not in mat:
            raise ReaderError(f"{path}: variable {key!r} missing; expected Uc, Vc, brainmask")
    mask = mat["brainmask"].astype(bool) if "brainmask" in mat else None
    return _finish(mat["Uc"], mat["Vc"], mask)


def write_vc_uc_mat(path, U, V, mask) -> None:
    import scipy.io

    with atomic_output(path) as tmp:
        scipy.io.savemat(tmp, {"Uc": U, "Vc": V, "brainmask": mask.astype(np.uint8)})


def read_wfield_svd(directory) -> SvdData:
    """wfield directory with ``U.npy`` (H, W, K) and ``SVTcorr.npy`` (preferred) or ``SVT.npy``."""
    d = Path(directory)
    svt = next((d / n for n in ("SVTcorr.npy", "SVT.npy") if (d / n).exists()), None)
    if not (d / "U.npy").exists() or svt is None:
        raise ReaderError(f"{d}: expected U.npy and SVTcorr.npy (or SVT.npy) in the directory")
    return _finish(np.load(d / "U.npy"), np.load(svt))


def write_wfield_svd(directory, U, SVT, corrected=True) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, arr in (("U.npy", U), ("SVTcorr.npy" if corrected else "SVT.npy", SVT)):
        with atomic_output(d / name) as tmp:
            np.save(tmp, arr)


def read_svd_input(path, fmt) -> SvdData:
    readers = {"vc_mat": read_vc_mat, "vc_uc_mat": read_vc_uc_mat, "wfield_svd": read_wfield_svd}
    return readers[fmt](path)
