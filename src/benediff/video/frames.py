"""A session's behaviour frames read one trial at a time, so a video job holds the frames it
keeps, never the session's images (549 trials × 189 frames × 2 views of 128 px: 3.4 GB at the
paper's size). The dataset file is read through its owner (:func:`benediff.io.dataset.read`
with ``lazy=True``)."""

import numpy as np

from benediff.io import dataset as dataset_io


def read_streamed(path, groups=("images",)) -> dataset_io.Dataset:
    """The dataset with its images read from ``path`` one trial at a time on access; the other
    ``groups`` (labels, neural: small) in memory."""
    ds = dataset_io.read(path, groups=groups, lazy=True)
    for name in groups:
        if name != "images" and getattr(ds, name) is not None:
            setattr(ds, name, list(getattr(ds, name)))
    return ds


def n_frames(images, trials) -> int:
    """Frames in ``trials`` of a per-trial group, from the file's metadata when read lazily."""
    count = getattr(images, "frames", None)
    return sum(count(i) if count is not None else len(images[i]) for i in trials)


def gather(images, trials, keep) -> np.ndarray:
    """Rows ``keep`` (increasing positions in the concatenated frames of ``trials``), reading
    one trial at a time: the same array as ``np.concatenate([images[i] for i in trials])[keep]``."""
    keep = np.asarray(keep, dtype=np.int64)
    count = getattr(images, "frames", None)
    out, start = None, 0
    for trial in trials:
        n = count(trial) if count is not None else len(images[trial])
        lo, hi = np.searchsorted(keep, [start, start + n])
        if hi > lo:
            clip = np.asarray(images[trial])
            if out is None:
                out = np.empty((len(keep), *clip.shape[1:]), clip.dtype)
            out[lo:hi] = clip[keep[lo:hi] - start]
        start += n
    return np.asarray(images[trials[0]])[:0] if out is None else out


def clips(images, trials):
    """The clips of ``trials``, one at a time (a generator)."""
    for i in trials:
        yield np.asarray(images[i])
