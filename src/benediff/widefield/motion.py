"""Rigid motion correction by phase correlation (sub-pixel), applied on the fly while streaming,
and the motion regressors taken out of the temporal components (docs/WIDEFIELD.md §2).

Shifts are the displacement (dy, dx) of each frame relative to the channel's reference; the
correction moves the frame by the opposite amount.

Estimation: phase correlation. With ``upsample_factor`` > 1 the frame edges are tapered (Tukey
window), the cross-power spectrum is whitened and low-passed by a Gaussian of ``smooth_sigma`` px
(whitening alone lets edge leakage and noise at high frequencies bias the peak), and the peak is
refined by scikit-image's ``phase_cross_correlation`` (a matrix-multiply DFT around the integer
peak, Guizar-Sicairos et al. 2008, Opt. Lett. 33:156) to 1/upsample_factor px;
``upsample_factor`` = 1 keeps the integer peak refined by a parabola through its neighbours (the
estimator before issue #29, biased towards whole pixels by up to ~0.1 px). Correction: the
Fourier shift theorem (exact for an image band-limited by the optics; reflect padding instead of
wrap-around). Spline interpolation low-passes each frame by an amount that depends on the
fractional shift, which is white noise at vessel edges when the jitter is white: with exact
shifts, cubic splines still left 2 of 7 white VIS_L components on the simulator (bilinear more).
"""

import numpy as np
from scipy import ndimage
from scipy.signal import butter, filtfilt
from scipy.signal.windows import tukey

SHIFT_ORDER = "fourier"  # how the correction shifts each frame (docs/WIDEFIELD.md §2)
PAD = 8  # reflect padding (px) of each frame for the Fourier shift
FOURIER_BATCH = 32  # frames per Fourier shift (≈ 50 MB of spectra at 540 × 640)
TAPER = 0.25  # Tukey taper of the frame edges before the FFT (fraction of each side tapered)


def phase_correlation(ref: np.ndarray, frames: np.ndarray, upsample_factor: int = 1,
                      smooth_sigma: float = 0.0) -> np.ndarray:
    """Sub-pixel displacement (n, 2) of each frame (n, H, W) relative to ``ref`` (H, W).

    ``upsample_factor`` 1: the plain whitened estimator with a parabolic peak (pre-#29).
    """
    frames = np.asarray(frames, np.float32)
    ref = np.asarray(ref, np.float32)
    if upsample_factor > 1:
        return _upsampled(ref, frames, int(upsample_factor), float(smooth_sigma))
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


def _upsampled(ref, frames, upsample_factor, smooth_sigma):
    """Tapered, whitened and smoothed cross-power spectrum; peak refined by upsampled DFT."""
    from skimage.registration import phase_cross_correlation

    h, w = ref.shape
    taper = np.outer(tukey(h, TAPER), tukey(w, TAPER)).astype(np.float32)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None]
    smooth = np.exp(-2 * np.pi ** 2 * smooth_sigma ** 2 * (fy ** 2 + fx ** 2))
    f_ref = np.fft.fft2((ref - ref.mean()) * taper)
    f_ref = f_ref / (np.abs(f_ref) + 1e-12) * smooth
    out = np.empty((len(frames), 2))
    for i, frame in enumerate(frames):  # one spectrum at a time: memory stays one frame's
        f = np.fft.fft2((frame - frame.mean()) * taper)
        f /= np.abs(f) + 1e-12
        # skimage returns the shift that registers the frame onto ref: minus its displacement
        shift, _, _ = phase_cross_correlation(f_ref, f, upsample_factor=upsample_factor,
                                              space="fourier", normalization=None)
        out[i] = -shift
    return out


def _parabolic(left, centre, right):
    denom = left - 2 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / denom, 0.0)
    return np.clip(offset, -0.5, 0.5)


def apply_shifts(frames: np.ndarray, shifts: np.ndarray, order=SHIFT_ORDER) -> np.ndarray:
    """Move each frame (n, H, W) by minus its displacement (n, 2); float32 out.

    ``order`` "fourier": exact sub-pixel shift of the band-limited image (phase ramp on the
    frame's spectrum, reflect-padded by ``PAD`` px so nothing wraps around); an integer: spline
    of that order (1 = bilinear), edges replicated.
    """
    frames = np.asarray(frames)
    shifts = np.asarray(shifts, np.float64)
    if order == "fourier":
        out = np.array(frames, np.float32)
        moving = np.flatnonzero(np.any(shifts != 0, axis=1))
        for i in range(0, len(moving), FOURIER_BATCH):  # bounds the spectra's memory
            rows = moving[i:i + FOURIER_BATCH]
            out[rows] = fourier_shift(out[rows], -shifts[rows])
        return out
    out = np.empty(frames.shape, np.float32)
    for i, (frame, shift) in enumerate(zip(frames, shifts)):
        if np.any(shift):
            ndimage.shift(frame.astype(np.float32), -shift, output=out[i], order=order,
                          mode="nearest")
        else:
            out[i] = frame
    return out


def fourier_shift(frames: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Frames (n, H, W) with their content moved by ``shifts`` (n, 2) (dy, dx) px: the shift
    theorem on the reflect-padded frame, single precision."""
    import scipy.fft as sfft

    n, h, w = frames.shape
    padded = np.pad(np.asarray(frames, np.float32), ((0, 0), (PAD, PAD), (PAD, PAD)),
                    mode="reflect")
    hp, wp = h + 2 * PAD, w + 2 * PAD
    ky = np.fft.fftfreq(hp)[:, None]
    kx = np.fft.rfftfreq(wp)[None]
    spectrum = sfft.rfft2(padded, workers=1)
    spectrum *= np.exp(-2j * np.pi * ky * shifts[:, 0, None, None]).astype(np.complex64)
    spectrum *= np.exp(-2j * np.pi * kx * shifts[:, 1, None, None]).astype(np.complex64)
    return sfft.irfft2(spectrum, s=(hp, wp), workers=1)[:, PAD:PAD + h, PAD:PAD + w]


def reference_frame(frames: np.ndarray, upsample_factor: int = 1, smooth_sigma: float = 0.0,
                    order: int = SHIFT_ORDER) -> np.ndarray:
    """Mean of ``frames`` after registering them to the first of them."""
    frames = np.asarray(frames, np.float32)
    shifts = phase_correlation(frames[0], frames, upsample_factor, smooth_sigma)
    return apply_shifts(frames, shifts, order).mean(0)


def reference_window(n_frames: int, nref: int) -> tuple[int, int]:
    """Frames nref..2·nref (shortened for short recordings)."""
    if n_frames >= 2 * nref:
        return nref, 2 * nref
    return 0, max(1, min(n_frames, nref))


# ---------------------------------------------------------------- motion regressors

def motion_regressors(shifts: np.ndarray, squares: bool = False) -> tuple[np.ndarray, list[str]]:
    """Regressors (m, T) and their names from the shifts (C, T, 2) of every channel.

    Per channel: dy, dx, their temporal derivatives (central differences: motion within the
    exposure blurs in proportion to the velocity) and, with ``squares``, dy², dx², dy·dx
    (second-order terms of the intensity change at an edge). Each row is centred.
    """
    shifts = np.asarray(shifts, np.float64)
    rows, names = [], []
    channel_names = ["blue", "violet"] if len(shifts) == 2 else [f"ch{c}" for c in range(len(shifts))]
    for c, name in enumerate(channel_names):
        dy, dx = shifts[c, :, 0], shifts[c, :, 1]
        parts = {"dy": dy, "dx": dx}
        if shifts.shape[1] > 1:
            parts.update({"d/dt dy": np.gradient(dy), "d/dt dx": np.gradient(dx)})
        if squares:
            cy, cx = dy - dy.mean(), dx - dx.mean()
            parts.update({"dy²": cy ** 2, "dx²": cx ** 2, "dy·dx": cy * cx})
        for key, value in parts.items():
            rows.append(value)
            names.append(f"{name} {key}")
    X = np.asarray(rows)
    X -= X.mean(1, keepdims=True)
    keep = X.std(1) > 1e-9  # a channel without motion contributes nothing
    return X[keep], [n for n, k in zip(names, keep) if k]


def highpass(x: np.ndarray, fs: float, cutoff: float, order: int, padlen: int) -> np.ndarray:
    """The haemodynamic step's zero-phase Butterworth high-pass (docs/WIDEFIELD.md §5)."""
    b, a = butter(order, cutoff / (fs / 2), btype="highpass")
    return filtfilt(b, a, x, axis=-1, padlen=min(padlen, x.shape[-1] - 1))


def regress_out(V: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V (k, T) minus its least-squares fit on the regressors X (m, T); (residual, coef (k, m)).

    The fit is done on centred V; the residual keeps V's means.
    """
    V = np.asarray(V, np.float64)
    if X.size == 0:
        return V.copy(), np.zeros((len(V), 0))
    mean = V.mean(1, keepdims=True)
    coef_t, *_ = np.linalg.lstsq(X.T, (V - mean).T, rcond=None)
    coef = coef_t.T
    return V - coef @ X, coef


def correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r (n_a, n_b) between the rows of a (n_a, T) and of b (n_b, T); 0 for flat rows."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (a @ b.T) / np.outer(na, nb)
    return np.nan_to_num(r)


# ---------------------------------------------------------------- motion QC (docs/WIDEFIELD.md §2.3)

def trial_frames(starts, lengths) -> np.ndarray:
    """Per-channel frame indices of every trial, concatenated."""
    return np.concatenate([np.arange(int(s), int(s) + int(n)) for s, n in zip(starts, lengths)])


def label_correlation(shifts, labels, starts) -> tuple[np.ndarray, list[str]]:
    """|Pearson r| (m, n_labels) of the blue channel's regressors (dy, dx and their derivatives)
    with each behaviour label, over the trials' frames; and the regressor names.

    ``labels``: per-trial (L_i, n_labels) arrays starting at per-channel frame ``starts[i]``.
    """
    X, names = motion_regressors(np.asarray(shifts))
    blue = [i for i, n in enumerate(names) if n.startswith(("blue", "ch0"))]
    X, names = X[blue], [names[i] for i in blue]
    frames = trial_frames(starts, [len(u) for u in labels])
    keep = frames < X.shape[1]
    lab = np.concatenate([np.asarray(u, np.float64) for u in labels])[keep]
    return np.abs(correlation_matrix(X[:, frames[keep]], lab.T)), names


def component_motion(spatial, U, coef, X) -> np.ndarray:
    """The part of each LocaNMF component (n, T) that the motion regressors carried before
    they were regressed out: least-squares projection of the removed movie U·coef·X onto the
    spatial components (``spatial`` (n, H, W), NaN outside the mask; ``U`` (H, W, k))."""
    A = np.nan_to_num(np.asarray(spatial, np.float64).reshape(len(spatial), -1))
    Uf = np.nan_to_num(np.asarray(U, np.float64).reshape(-1, np.shape(U)[-1]))
    gram = A @ A.T
    M = np.linalg.lstsq(gram + 1e-12 * np.trace(gram) * np.eye(len(A)), (A @ Uf) @ coef,
                        rcond=None)[0]
    return M @ X


def region_motion(components, regions, X, removed=None) -> dict[str, dict]:
    """Per region {max_r, max_r_before, share_before}: the largest |r| between any of the region's
    components (n, T) and any motion regressor (m, T) now and before the regression (``removed``
    (n, T) from :func:`component_motion`), and the share of the components' variance the
    regressors explained before it."""
    C = np.asarray(components, np.float64)
    out = {}
    for region, idx in regions.items():
        idx = np.asarray(idx, int)
        if len(idx) == 0 or X.size == 0:
            continue
        entry = {"max_r": float(np.abs(correlation_matrix(C[idx], X)).max())}
        if removed is not None:
            before = C[idx] + removed[idx]
            entry["max_r_before"] = float(np.abs(correlation_matrix(before, X)).max())
            entry["share_before"] = float(removed[idx].var(1).sum() / max(before.var(1).sum(), 1e-30))
        out[region] = entry
    return out
