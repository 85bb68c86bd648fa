"""Generated-video files ``results/video/<s>/<region>/generated/<method>/<factor>.h5``: their one
writer and reader (the video stage writes and scores them, the figures draw them).

Layout::

    latents       (n, c, L, h, w) float32   the sampled (or decoded-from) frame-latent clips
    readout       (n, L, D) float32   the linear encoder's factor trajectories of those latents
    requested     (n, L) float32      the target factor's trajectory each video was asked to
                                      follow (attr ``requested_source``: ``condition`` for the
                                      baselines, ``guided latent`` for the diffusion methods)
    frames        (n, L, C, S, S) uint8 (gzip)
    strip_index   (k,)                every ``every``-th frame index
    strip_frames  (n, k, C, S, S) uint8
    strip_diffs   (n, k, C, S, S) float32: strip frame minus the frame ``every`` earlier, in [0, 1]
    attrs         method, factor, region, seeds, ... (as given)
"""

import h5py
import numpy as np

from benediff.io.atomic import atomic_output


# version of the layout above; the generate rule passes it as a param, so a change reruns the
# generate jobs of an existing results tree (2: ``requested`` added)
LAYOUT = 2


class GeneratedFileError(ValueError):
    """A generated-video file lacks what a reader needs."""


def strips(frames, every: int):
    """Every ``every``-th frame and its difference from the frame ``every`` bins earlier."""
    index = np.arange(0, frames.shape[1], every)
    as_float = frames.astype(np.float32) / 255.0
    previous = np.maximum(index - every, 0)
    return index, frames[:, index], as_float[:, index] - as_float[:, previous]


def write_generated(path, latents, frames, readout, requested, every: int, attrs: dict) -> None:
    requested = np.asarray(requested, dtype=np.float32)
    if requested.shape != frames.shape[:2]:
        raise GeneratedFileError(f"{path}: requested trajectories have shape {requested.shape}, "
                                 f"expected (videos, frames) = {frames.shape[:2]}")
    index, strip_frames, strip_diffs = strips(frames, every)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f["latents"], f["readout"] = latents.astype(np.float32), readout.astype(np.float32)
        f["requested"] = requested
        f.create_dataset("frames", data=frames, compression="gzip")
        f["strip_index"], f["strip_frames"] = index, strip_frames
        f["strip_diffs"] = strip_diffs.astype(np.float32)
        f.attrs.update({**attrs, "layout": LAYOUT})


def read_generated(path) -> dict:
    """``frames``, ``readout``, ``requested`` and the attributes of a generated-video file."""
    with h5py.File(path, "r") as f:
        if "requested" not in f:
            raise GeneratedFileError(f"{path} has no requested trajectories (written by an older "
                                     "version); rerun its generate job (snakemake --forcerun "
                                     "generate)")
        out = {k: f[k][()] for k in ("frames", "readout", "requested")}
        out.update({k: v for k, v in f.attrs.items()})
    return out


def read_attrs(path) -> dict:
    """The attributes of a generated-video file (method, region, factor, factor_index, ...)."""
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def read_strip(path, channel: int, video: int = 0):
    """Strip frames (k, S, S) in [0, 1] of one channel (camera view), their differences and
    the frame indices."""
    with h5py.File(path, "r") as f:
        if channel >= f["strip_frames"].shape[2]:
            raise GeneratedFileError(f"{path}: channel {channel} asked for but the videos have "
                                     f"{f['strip_frames'].shape[2]} channel(s)")
        frames = f["strip_frames"][video, :, channel].astype(np.float32) / 255.0
        diffs = f["strip_diffs"][video, :, channel]
        index = f["strip_index"][()]
    return frames, diffs, index
