"""``latents.h5`` of an LVM fit: its one writer and reader, shared by the lvm and video stages.

Layout::

    latents/trial_%04d          (L, D) posterior means, float32
    reconstruction/trial_%04d   (L, N) decoded neural data, float32
    attrs: factor_names, label_names (JSON lists), session, region, split (JSON),
           normalisation (text); for a fit pooled across sessions also sessions and
           session_trials (JSON lists: the pooled sessions and their trial counts, in order)
"""

import json

import h5py
import numpy as np

from benediff.io.atomic import atomic_output

JSON_ATTRS = ("factor_names", "label_names", "split", "sessions", "session_trials")


class LatentsFileError(ValueError):
    """A latents.h5 lacks a group or attribute, or disagrees with what it is used with."""


def write_latents(path, latents, reconstruction, *, factor_names, label_names, session, region,
                  split: dict, normalisation: str, members: list[tuple[str, int]] = ()) -> None:
    """Write per-trial latents and reconstructions; ``members`` = (session, n_trials) when the
    fit pools several sessions."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        for group, arrays in (("latents", latents), ("reconstruction", reconstruction)):
            grp = f.create_group(group)
            for i, a in enumerate(arrays):
                grp.create_dataset(f"trial_{i:04d}", data=np.asarray(a, dtype=np.float32))
        f.attrs["factor_names"] = json.dumps(list(factor_names))
        f.attrs["label_names"] = json.dumps(list(label_names))
        f.attrs["session"], f.attrs["region"] = session, region
        f.attrs["split"] = json.dumps({k: np.asarray(v).tolist() for k, v in split.items()})
        f.attrs["normalisation"] = normalisation
        if members:
            f.attrs["sessions"] = json.dumps([m[0] for m in members])
            f.attrs["session_trials"] = json.dumps([int(m[1]) for m in members])


def read_latents(path, group="latents") -> tuple[list[np.ndarray], dict]:
    """Per-trial arrays of ``group`` and the file attributes (JSON ones decoded)."""
    with h5py.File(path, "r") as f:
        if group not in f:
            raise LatentsFileError(f"{path}: no {group!r} group; expected {group}/trial_0000 "
                                   "as written by the lvm stage (rerun its lvm_fit job)")
        grp = f[group]
        arrays = [grp[f"trial_{i:04d}"][()] for i in range(len(grp))]
        attrs = {k: (json.loads(v) if k in JSON_ATTRS else v) for k, v in f.attrs.items()}
    return arrays, attrs


def read_session_latents(path, session: str | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Per-trial posterior means (L, D) float32 and the factor names of one region's fit.

    A fit pooled across sessions holds every pooled session's trials in order; ``session``
    picks that session's trials out of it.
    """
    trials, attrs = read_latents(path)
    trials = [t.astype(np.float32) for t in trials]
    names = attrs.get("factor_names")
    if names is None:
        raise LatentsFileError(f"{path}: attribute 'factor_names' is missing; rerun the lvm stage")
    if trials and trials[0].shape[1] != len(names):
        raise LatentsFileError(f"{path}: {len(names)} factor names for {trials[0].shape[1]} "
                               "latent dims")
    sessions, counts = attrs.get("sessions"), attrs.get("session_trials")
    if sessions is not None and session is not None:
        if session not in sessions:
            raise LatentsFileError(f"{path} is a fit pooled over sessions {sessions}, which does "
                                   f"not include the video session {session!r}; add it to "
                                   "lvm.pool_sessions or set video.lvm_session to ''")
        k = sessions.index(session)
        start = sum(counts[:k])
        trials = trials[start:start + counts[k]]
    return trials, names
