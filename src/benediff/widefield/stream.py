"""Streaming a raw movie as per-channel, motion-corrected blocks of frames."""

import numpy as np

from benediff.widefield.motion import apply_shifts, phase_correlation, reference_frame, reference_window
from benediff.widefield.readers import check_channels


def iter_cycles(reader, n_channels, order, chunk=256, shifts=None, start=0, stop=None,
                as_float=True, bad=None, fill=None):
    """Yield ``(t0, block)``: block (n, C, H, W), channels ordered as ``order`` (blue first).

    ``t0``/``start``/``stop`` count per-channel frames. ``shifts`` (C, T, 2) are undone on the fly
    (all-zero shifts are skipped). Blocks are float32 unless ``as_float`` is False and no shift
    is applied (then the raw dtype, so reductions can convert on the fly; a read-only view of
    the file for a memory-mappable movie, see :func:`_raw_chunks`). Frames flagged in
    ``bad`` (C, T) are replaced by the channel's ``fill`` frame (C, H, W).
    """
    if bad is not None and not np.any(bad):
        bad = None
    if shifts is not None and not np.any(shifts):
        shifts = None
    n_t = check_channels(reader, n_channels)
    stop = n_t if stop is None else min(stop, n_t)
    for first, raw in _raw_chunks(reader, chunk * n_channels, start * n_channels,
                                  stop * n_channels):
        t0 = first // n_channels
        block = raw.reshape(len(raw) // n_channels, n_channels, *raw.shape[1:])
        if list(order) != list(range(n_channels)):
            block = block[:, order]
        if as_float or shifts is not None:
            block = block.astype(np.float32)
        if shifts is not None:
            for c in range(n_channels):
                block[:, c] = apply_shifts(block[:, c], shifts[c, t0:t0 + len(block)])
        if bad is not None:
            block = np.array(block)  # never write into a reader's memory map
            for c in range(n_channels):
                rows = np.flatnonzero(bad[c, t0:t0 + len(block)])
                block[rows, c] = fill[c].astype(block.dtype)
        yield t0, block


def _raw_chunks(reader, chunk, start, stop):
    """``reader.iter_chunks``, except that an integer movie with a memory map (wfield .dat) is
    viewed chunk by chunk through a fresh read-only map: no copy into a new buffer per chunk,
    and each chunk's pages leave the process's memory once its block is dropped."""
    if getattr(reader, "memmap", None) is None or np.dtype(reader.dtype).kind not in "ui":
        yield from reader.iter_chunks(chunk, start, stop)  # float movies: the reader's NaN check
        return
    for first in range(start, stop, chunk):
        mapped = reader.memmap()
        yield first, mapped[first:min(first + chunk, stop)]
        del mapped


def estimate_motion(reader, n_channels, order, nref=60, chunk=256, bad=None, fill=None,
                    upsample_factor=1, smooth_sigma=0.0):
    """Per-channel reference frames (C, H, W) and per-frame displacements (C, T, 2).

    Frames flagged ``bad`` are seen as ``fill`` (see :func:`iter_cycles`): no shift for them.
    ``upsample_factor`` / ``smooth_sigma``: see :func:`benediff.widefield.motion.phase_correlation`.
    """
    n_t = check_channels(reader, n_channels)
    a, b = reference_window(n_t, nref)
    window = np.concatenate([blk for _, blk in iter_cycles(reader, n_channels, order, chunk, None,
                                                           a, b, bad=bad, fill=fill)])
    refs = np.stack([reference_frame(window[:, c], upsample_factor, smooth_sigma)
                     for c in range(n_channels)])
    shifts = np.zeros((n_channels, n_t, 2))
    for t0, block in iter_cycles(reader, n_channels, order, chunk, bad=bad, fill=fill):
        for c in range(n_channels):
            shifts[c, t0:t0 + len(block)] = phase_correlation(refs[c], block[:, c], upsample_factor,
                                                                 smooth_sigma)
    return refs, shifts
