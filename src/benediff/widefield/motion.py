"""Rigid motion correction by phase correlation (sub-pixel), applied on the fly while streaming.

Shifts are the displacement (dy, dx) of each frame relative to the channel's reference; the
correction moves the frame by the opposite amount.
"""

import numpy as np
from scipy import ndimage


def phase_correlation(ref: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Sub-pixel displacement (n, 2) of each frame (n, H, W) relative to ``ref`` (H, W)."""
    frames = np.asarray(frames, np.float32)
    ref = np.asarray(ref, np.float32)
    f_ref = np.fft.rfft2(ref - ref.mean())
    f_mov = np.fft.rfft2(frames - frames.mean(axis=(1, 2), keepdims=True))
    cross = f_ref[None] * np.conj(f_mov)
    cross /= np.abs(cross) + 1e-12
    corr = np.fft.irfft2(cross, s=ref.shape)
    h, w = ref.shape
    flat = corr.reshape(len(frames), -1).argmax(1)
    py, px = np.unravel_index(flat, (h, w))
    n = np.arange(len(frames))
    dy = _parabolic(corr[n, (py - 1) % h, px], corr[n, py, px], corr[n, (py + 1) % h, px])
    dx = _parabolic(corr[n, py, (px - 1) % w], corr[n, py, px], corr[n, py, (px + 1) % w])
    shifts = np.stack([py + dy, px + dx], 1).astype(np.float64)
    shifts[:, 0] = np.where(shifts[:, 0] > h / 2, shifts[:, 0] - h, shifts[:, 0])
    shifts[:, 1] = np.where(shifts[:, 1] > w / 2, shifts[:, 1] - w, shifts[:, 1])
    # peak of ref ⋆ frame sits at minus the frame's displacement
    return -shifts


def _parabolic(left, centre, right):
    denom = left - 2 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / denom, 0.0)
    return np.clip(offset, -0.5, 0.5)


def apply_shifts(frames: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Move each frame by minus its displacement (bilinear, edges replicated); float32 out."""
    out = np.empty(frames.shape, np.float32)
    for i, (frame, shift) in enumerate(zip(frames, shifts)):
        if np.any(shift):
            ndimage.shift(frame.astype(np.float32), -np.asarray(shift), output=out[i], order=1,
                          mode="nearest")
        else:
            out[i] = frame
    return out


def reference_frame(frames: np.ndarray) -> np.ndarray:
    """Mean of ``frames`` after registering them to the first of them."""
    frames = np.asarray(frames, np.float32)
    return apply_shifts(frames, phase_correlation(frames[0], frames)).mean(0)


def reference_window(n_frames: int, nref: int) -> tuple[int, int]:
    """Frames nref..2·nref (shortened for short recordings)."""
    if n_frames >= 2 * nref:
        return nref, 2 * nref
    return 0, max(1, min(n_frames, nref))
