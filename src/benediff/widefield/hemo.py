"""Haemodynamic correction in SVD space (docs/WIDEFIELD.md §5; same maths as wfield / Musall).

Per pixel p the regression coefficient r_p = Σ_t a_pt b_pt / (Σ_t b_pt² + 1e-10) of the blue
trace a_p = U_p·SVT_blue on the violet trace b_p = U_p·SVT_violet. Both sums are quadratic forms
of U_p with the k × k (cross-)covariances of the SVD temporals, so they are computed without
ever forming a pixel × time array — identical numbers at O(P·k²) instead of O(P·k·T).
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import butter, filtfilt


@dataclass
class HemoResult:
    SVT: np.ndarray  # (k, T) corrected blue temporals
    r: np.ndarray | None  # (P,) regression coefficient per pixel (QC)
    T: np.ndarray | None  # (k, k) correction matrix


def _filter(x, cutoff, fs, btype, order, padlen):
    b, a = butter(order, cutoff / (fs / 2), btype=btype)
    return filtfilt(b, a, x, axis=-1, padlen=min(padlen, x.shape[-1] - 1))


def interpolate_violet(violet, blue_first=True):
    """Violet samples (k, T) linearly interpolated onto blue frame times (half a frame away)."""
    shifted = np.empty_like(violet)
    if blue_first:  # violet t sits at blue t + 0.5: blue t is halfway between violet t-1 and t
        shifted[:, 1:] = 0.5 * (violet[:, :-1] + violet[:, 1:])
        shifted[:, 0] = violet[:, 0]
    else:
        shifted[:, :-1] = 0.5 * (violet[:, :-1] + violet[:, 1:])
        shifted[:, -1] = violet[:, -1]
    return shifted


def hemo_correct(U, svt_blue, svt_violet, fs=30.0, highpass=0.1, lowpass=14.0, order=2,
                 padlen=50, pixel_chunk=65536, device="cpu") -> HemoResult:
    """Corrected blue temporals from U (P, k) and blue/violet temporals (k, T)."""
    dev = torch.device(device)
    # pixel-sized products in float32 (memory, speed); the k × k algebra in float64
    Ut = torch.nan_to_num(torch.as_tensor(np.asarray(U, np.float32).reshape(-1, np.shape(U)[-1]),
                                          device=dev), nan=0.0, posinf=0.0, neginf=0.0)
    blue = np.array(svt_blue, np.float64)
    violet = np.array(svt_violet, np.float64)
    if blue.shape != violet.shape:
        raise ValueError(f"blue {blue.shape} and violet {violet.shape} temporals differ in shape")
    if highpass and highpass > 0:
        blue = _filter(blue, highpass, fs, "highpass", order, padlen)
        violet = _filter(violet, highpass, fs, "highpass", order, padlen)
    if lowpass and lowpass < fs / 2:
        violet = _filter(violet, lowpass, fs, "lowpass", order, padlen)
    blue, violet = np.ascontiguousarray(blue), np.ascontiguousarray(violet)
    blue -= blue.mean(1, keepdims=True)
    violet -= violet.mean(1, keepdims=True)
    c_bv = torch.as_tensor(blue @ violet.T, dtype=torch.float32, device=dev)
    c_vv = torch.as_tensor(violet @ violet.T, dtype=torch.float32, device=dev)
    r = torch.empty(Ut.shape[0], dtype=torch.float32, device=dev)
    for i in range(0, Ut.shape[0], pixel_chunk):
        u = Ut[i:i + pixel_chunk]
        r[i:i + pixel_chunk] = ((u @ c_bv) * u).sum(1) / (((u @ c_vv) * u).sum(1) + 1e-10)
    r = torch.nan_to_num(r, nan=1e-10)
    # pinv(U) = pinv(UᵀU)·Uᵀ, so T only needs k × k products (no SVD of the tall P × k matrix)
    gram = (Ut.T @ Ut).double()
    T = torch.linalg.pinv(gram, hermitian=True) @ (Ut.T @ (r[:, None] * Ut)).double()
    corrected = blue - (T @ torch.as_tensor(violet, device=dev)).cpu().numpy()
    corrected -= corrected.mean(1, keepdims=True)
    return HemoResult(corrected.astype(np.float32), r.cpu().numpy().astype(np.float32),
                      T.cpu().numpy())
