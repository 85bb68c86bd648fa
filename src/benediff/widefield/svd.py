"""ΔF/F baseline and the streaming approximate (binned, randomised-subspace) SVD of docs/WIDEFIELD.md §3–4.

Two passes over the raw movie: pass 1 accumulates the baseline F0 and the 15-frame bin means of
raw F (ΔF/F is affine in F once F0 is known, so bins of ΔF/F follow); pass 2 projects every
frame onto the spatial basis. Output ``SVT`` interleaves channels: channel c = columns c::C,
channel 0 = blue.
"""

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from benediff.widefield.readers import ReaderError, check_channels
from benediff.widefield.stream import iter_cycles

log = logging.getLogger(__name__)

BASELINES = ("recording", "trial", "trial_median")


@dataclass
class SvdResult:
    U: np.ndarray  # (H, W, k) float32, 0 outside the mask
    SVT: np.ndarray  # (k, C·T) float32, channels interleaved
    F0: np.ndarray  # (C, H, W) baseline
    mask: np.ndarray  # (H, W) bool
    eigenvalues: np.ndarray  # (k,) of the binned covariance
    bin_size: int


def frame_statistics(reader, n_channels, order, shifts=None, baseline="recording",
                     baseline_frames=30, trial_starts=None, bin_size=15, max_bins=5000, chunk=256,
                     bad=None, fill=None):
    """Pass 1: bin means of raw F (C, n_bins, P) and the ΔF/F baseline F0 (C, P)."""
    if baseline not in BASELINES:
        raise ValueError(f"widefield.baseline.mode = {baseline!r}; allowed: {list(BASELINES)}")
    n_t = check_channels(reader, n_channels)
    bin_size = max(bin_size, math.ceil(n_t / max_bins))
    n_bins = n_t // bin_size
    if n_bins == 0:
        raise ReaderError(f"{reader.path}: {n_t} frames per channel, fewer than one bin of "
                          f"{bin_size}; the recording is too short")
    n_pix = reader.frame_shape[0] * reader.frame_shape[1]
    bins = np.zeros((n_channels, n_bins, n_pix), np.float32)
    base = _Baseline(baseline, baseline_frames, trial_starts, n_t, n_channels, n_pix, reader.path)
    for t0, block in iter_cycles(reader, n_channels, order, chunk, shifts, as_float=False,
                                 bad=bad, fill=fill):
        flat = block.reshape(len(block), n_channels, n_pix)
        sums = _add_to_bins(bins, t0, flat, bin_size)
        if sums is not None and baseline == "recording" and flat.dtype.kind in "ui":
            # integer frames: the float32 bin sums are exact, so their float64 total is the
            # frames' total (one pass over the chunk instead of two)
            base.add_total(sums.sum(0, dtype=np.float64), len(flat))
        else:
            base.add(t0, flat)
    bins /= bin_size
    return bins, base.result(), bin_size


def _add_to_bins(bins, t0, flat, bin_size):
    """Add frames (n, C, P) starting at per-channel frame t0 to their bins (C, n_bins, P).

    Returns the per-bin sums (n / bin_size, C, P) when the chunk is made of whole bins, else None.
    """
    n_bins = bins.shape[1]
    ids = (t0 + np.arange(len(flat))) // bin_size
    whole = t0 % bin_size == 0 and len(flat) % bin_size == 0 and ids[-1] < n_bins
    if whole:  # chunk aligned to bins: one reshaped sum
        b0 = t0 // bin_size
        sums = flat.reshape(-1, bin_size, *flat.shape[1:]).sum(1, dtype=np.float32)
        bins[:, b0:b0 + len(sums)] += sums.transpose(1, 0, 2)
        exact = flat.dtype.kind in "ui" and bin_size * np.iinfo(flat.dtype).max < 2**24
        return sums if exact else None
    for b in np.unique(ids[ids < n_bins]):
        bins[:, b] += flat[ids == b].sum(0, dtype=np.float32)
    return None


class _Baseline:
    """Accumulates F0 per channel and pixel for the configured baseline mode."""

    def __init__(self, mode, n_frames, trial_starts, n_t, n_channels, n_pix, source):
        self.mode, self.n, self.n_t = mode, int(n_frames), n_t
        self.total = np.zeros((n_channels, n_pix))
        self.count = 0
        self.windows = []
        if mode != "recording":
            if trial_starts is None or len(trial_starts) == 0:
                raise ValueError(f"{source}: baseline mode {mode!r} needs trial start frames "
                                 "(trials.csv); use widefield.baseline.mode = recording")
            self.windows = [(int(s), min(int(s) + self.n, n_t)) for s in trial_starts if s < n_t]
        self.buffers = {}

    def add_total(self, total, n):
        """Add the per-channel sum (C, P) of ``n`` frames (recording mode only)."""
        self.total += total
        self.count += n

    def add(self, t0, flat):
        t1 = t0 + len(flat)
        if self.mode == "recording":
            self.total += flat.sum(0, dtype=np.float64)
            self.count += len(flat)
            return
        for i, (a, b) in enumerate(self.windows):
            if a >= t1 or b <= t0:
                continue
            part = flat[max(a, t0) - t0:min(b, t1) - t0]
            self.buffers.setdefault(i, []).append(part)
            if min(b, t1) == b:
                frames = np.concatenate(self.buffers.pop(i)).astype(np.float64)
                reduce = np.median if self.mode == "trial_median" else np.mean
                self.total += reduce(frames, axis=0)
                self.count += 1

    def result(self):
        return self.total / max(self.count, 1)


def fast_dtype(device) -> torch.dtype:
    """bfloat16 where the device multiplies it natively (≈ 3× float32 on AVX512-BF16 CPUs),
    else float32. Products are accumulated in float32 either way."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if dev.type == "cpu":
        try:
            native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
        except (AttributeError, RuntimeError):  # a torch build without oneDNN
            native = False
        return torch.bfloat16 if native else torch.float32
    return torch.float32


def fit_basis(bins, F0, mask, k, device="cpu", dtype=None):
    """Spatial basis U (k, P) from binned ΔF/F of all channels (rows stacked); eigenvalues (k,).

    ``bins`` (raw F bin means) is overwritten with the binned ΔF/F to save memory. The two
    products over pixels (the bins' Gram matrix and the basis) run in ``dtype``
    (:func:`fast_dtype` by default) on ΔF/F, which is centred, so rounding stays relative to
    the signal; the eigen-decomposition is in float64.
    """
    n_ch, n_bins, n_pix = bins.shape
    dev = torch.device(device)
    dtype = fast_dtype(dev) if dtype is None else dtype
    keep = torch.as_tensor(mask.ravel(), device=dev)
    f0 = torch.as_tensor(np.where(mask.ravel(), F0, 1.0), dtype=torch.float32, device=dev)
    B = torch.as_tensor(bins, device=dev)  # shares memory on CPU: ΔF/F is formed in place
    B.div_(f0[:, None, :]).sub_(1).mul_(keep)
    B = B.reshape(n_ch * n_bins, n_pix)
    k_eff = min(k, B.shape[0])
    if k_eff < k:
        log.warning("svd rank %d > %d binned rows; keeping %d components", k, B.shape[0], k_eff)
    cov = (B @ B.T).double() / n_pix
    evals, evecs = torch.linalg.eigh(cov)
    top = torch.argsort(evals, descending=True)[:k_eff]
    U = evecs[:, top].T.float() @ B
    U = U / U.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return U, evals[top].cpu().numpy()


def project(reader, n_channels, order, U, F0, mask, shifts=None, chunk=256, device="cpu",
            bad=None, fill=None, dtype=None):
    """Pass 2: SVT (k, C·T) = U · ΔF/F for every frame, channels interleaved.

    One conversion per frame: raw F minus F0 (ΔF, float32), rounded to ``dtype``
    (:func:`fast_dtype` by default) and multiplied by U / F0 with float32 accumulation.
    """
    n_t = check_channels(reader, n_channels)
    dev = U.device
    dtype = fast_dtype(dev) if dtype is None else dtype
    k, n_pix = U.shape
    f0 = np.where(mask.ravel(), F0, 1.0).astype(np.float32)
    weights = [(U / torch.as_tensor(f0[c], device=dev)).to(dtype) for c in range(n_channels)]
    svt = np.zeros((k, n_t * n_channels), np.float32)
    # buffers reused by every chunk: fresh arrays would cost a page fault per 4 kB each time
    delta = np.empty((chunk, n_pix), np.float32)
    low = (torch.empty((chunk, n_pix), dtype=dtype)
           if dev.type == "cpu" and dtype != torch.float32 else None)
    for t0, block in iter_cycles(reader, n_channels, order, chunk, shifts, as_float=False,
                                 bad=bad, fill=fill):
        n = len(block)
        flat = block.reshape(n, n_channels, n_pix)
        for c in range(n_channels):
            np.subtract(flat[:, c], f0[c], out=delta[:n])  # ΔF in float32, before rounding
            frames = torch.from_numpy(delta[:n])
            if low is not None:
                frames = low[:n].copy_(frames)
            else:
                frames = frames.to(dev, dtype)
            cols = slice((t0 * n_channels) + c, (t0 + n) * n_channels, n_channels)
            svt[:, cols] = (weights[c] @ frames.T).float().cpu().numpy()
    return svt


def compress(reader, n_channels, order, mask=None, k=200, shifts=None, baseline="recording",
             baseline_frames=30, trial_starts=None, bin_size=15, max_bins=5000, chunk=256,
             device="cpu", bad=None, fill=None) -> SvdResult:
    """ΔF/F + approximate SVD of a raw movie, streamed in chunks (docs/WIDEFIELD.md §3–4).

    Frames flagged ``bad`` (C, T) are streamed as the channel's ``fill`` frame and their
    temporal components interpolated from the neighbouring good frames afterwards.
    """
    h, w = reader.frame_shape
    mask = np.ones((h, w), bool) if mask is None else np.asarray(mask, bool)
    if mask.shape != (h, w):
        raise ValueError(f"{reader.path}: mask shape {mask.shape} differs from frames {(h, w)}")
    chunk = max(1, round(chunk / bin_size)) * bin_size if chunk >= bin_size else chunk
    bins, F0, bin_size = frame_statistics(reader, n_channels, order, shifts, baseline,
                                          baseline_frames, trial_starts, bin_size, max_bins, chunk,
                                          bad, fill)
    valid = np.all(np.isfinite(F0) & (F0 > 0), 0).reshape(h, w)
    if np.any(mask & ~valid):
        log.warning("%s: %d mask pixels have baseline <= 0 and are excluded",
                    reader.path, int(np.sum(mask & ~valid)))
    mask = mask & valid
    if not mask.any():
        raise ValueError(f"{reader.path}: no pixel of the mask has a positive baseline; check "
                         "the movie and the atlas alignment")
    with torch.no_grad():
        U, evals = fit_basis(bins, F0, mask, k, device)
        del bins
        svt = project(reader, n_channels, order, U, F0, mask, shifts, chunk, bad=bad, fill=fill)
    if bad is not None and np.any(bad):
        from benediff.widefield.quality import interpolate_columns

        svt = interpolate_columns(svt, bad, n_channels)
    U_img = U.T.cpu().numpy().reshape(h, w, -1)
    return SvdResult(U_img, svt, F0.reshape(n_channels, h, w).astype(np.float32), mask, evals,
                     bin_size)
