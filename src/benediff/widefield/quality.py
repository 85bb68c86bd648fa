"""Frame sanity of a raw widefield movie: blank, constant, saturated frames and sudden jumps.

Real recordings drop frames to zero (a camera hiccup), saturate (a light leak), or jump in
overall brightness (an LED glitch). Left in, such frames become spikes in every region's signal
(30 blank frames raised a demo session's peak ΔF/F from 0.30 to 1.16). The motion step finds
them from per-frame statistics of each channel; the SVD step replaces them by the channel's mean
frame while it streams and then interpolates their temporal components from the neighbouring
good frames, so ΔF/F, the SVD basis and the trial signals never see them. Above
``widefield.bad_frames.max_fraction`` of the recording the run stops instead.
"""

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from benediff.widefield.readers import check_channels
from benediff.widefield.stream import iter_cycles

REASONS = ("blank", "constant", "saturated", "jump")


@dataclass
class FrameQuality:
    bad: np.ndarray  # (C, T) bool: frame t of channel c is unusable
    reasons: dict  # reason -> number of frames (in any channel)
    fill: np.ndarray  # (C, H, W) float32: mean of the channel's good frames in a window

    @property
    def bad_cycles(self) -> np.ndarray:
        """(T,) frames where any channel is bad (the pair is unusable for haemodynamics)."""
        return self.bad.any(0)


def frame_statistics(reader, n_channels, order, chunk=256):
    """Per channel and frame: mean, standard deviation and saturated fraction, (C, T) each."""
    n_t = check_channels(reader, n_channels)
    means, stds, sat = (np.zeros((n_channels, n_t)) for _ in range(3))
    for t0, block in iter_cycles(reader, n_channels, order, chunk, as_float=False):
        flat = block.reshape(len(block), n_channels, -1)
        rows = slice(t0, t0 + len(block))
        means[:, rows] = flat.mean(-1, dtype=np.float64).T
        stds[:, rows] = flat.std(-1, dtype=np.float64).T
        # pixels at the frame's own ceiling (a camera's full scale need not be the dtype's)
        sat[:, rows] = (flat >= flat.max(-1, keepdims=True)).mean(-1).T
    return means, stds, sat


def classify(means, stds, sat, *, jump=0.2, saturated=0.5, window=15):
    """(C, T) bool of bad frames and their count per reason.

    blank: mean at most 1 % of the channel's median mean; constant: spatial std at most 1 % of
    the median std; saturated: more than ``saturated`` of the pixels at the frame's maximum;
    jump: mean off the running median (``window`` frames) by more than ``jump`` of it.
    """
    med_mean = np.median(means, axis=1, keepdims=True)
    med_std = np.median(stds, axis=1, keepdims=True)
    flags = {
        "blank": means <= 0.01 * med_mean,
    }
    flags["constant"] = (stds <= 0.01 * med_std) & ~flags["blank"]
    flags["saturated"] = (sat > saturated) & ~flags["constant"]
    running = median_filter(means, size=(1, window), mode="nearest")
    off = np.abs(means - running) > jump * np.maximum(running, 1e-12)
    flags["jump"] = off & ~(flags["blank"] | flags["constant"] | flags["saturated"])
    bad = np.zeros_like(means, dtype=bool)
    for value in flags.values():
        bad |= value
    return bad, {k: int(v.any(0).sum()) for k, v in flags.items()}  # frames (any channel)


def assess(reader, n_channels, order, cfg_bad, chunk=256, window=(0, None)) -> FrameQuality:
    """Find the bad frames of a movie; ``fill`` = mean good frame of each channel in ``window``."""
    means, stds, sat = frame_statistics(reader, n_channels, order, chunk)
    bad, reasons = classify(means, stds, sat, jump=cfg_bad["jump"],
                            saturated=cfg_bad["saturated"])
    a, b = window
    total = np.zeros((n_channels, *reader.frame_shape))
    count = np.zeros(n_channels)
    for t0, block in iter_cycles(reader, n_channels, order, chunk, start=a, stop=b):
        keep = ~bad[:, t0:t0 + len(block)]  # (C, n)
        for c in range(n_channels):
            total[c] += block[keep[c], c].sum(0)
            count[c] += keep[c].sum()
    missing = count == 0
    if missing.any():  # no good frame in the window: take every good frame of that channel
        for t0, block in iter_cycles(reader, n_channels, order, chunk):
            keep = ~bad[:, t0:t0 + len(block)]
            for c in np.flatnonzero(missing):
                total[c] += block[keep[c], c].sum(0)
                count[c] += keep[c].sum()
    fill = (total / np.maximum(count, 1)[:, None, None]).astype(np.float32)
    return FrameQuality(bad, reasons, fill)


def interpolate_columns(svt: np.ndarray, bad: np.ndarray, n_channels: int) -> np.ndarray:
    """Replace the temporal components of bad frames by linear interpolation in time between
    the channel's good frames (the nearest good frame at the edges). ``svt`` is (k, C·T)."""
    svt = svt.copy()
    t = np.arange(bad.shape[1])
    for c in range(n_channels):
        good = ~bad[c]
        if good.all() or not good.any():
            continue
        cols = svt[:, c::n_channels]
        for row in cols:
            row[~good] = np.interp(t[~good], t[good], row[good])
        svt[:, c::n_channels] = cols
    return svt
