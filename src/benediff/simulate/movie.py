"""The raw two-channel widefield movie: forward model and streaming writers.

Forward model per per-channel frame t and pixel p, before optics, motion and shot noise:
    blue[t, p]   = baseline_blue[p]   · (1 + Σ_k footprint_k[p] · activity[t, k]) · (1 + hemo_map[p] · hemo[t, 0])
    violet[t, p] = baseline_violet[p] · (1 + hemo_map[p] · hemo[t, 1])
then each frame is blurred by the optical point-spread function (a Gaussian of ``psf_sigma_px``)
and shifted rigidly by jitter[t, channel] = (dy, dx) px, both at once in the Fourier domain on a
reflect-padded frame (an exact sub-pixel shift of the band-limited image, no interpolation
smoothing); shot noise is added (unless noise=False: Gaussian with variance = mean, the Poisson
limit at these counts, 3x faster to draw) and values are rounded to uint16.
Violet frames are taken half a frame after blue ones, so hemo[:, 1] is sampled at t + 0.5.

Motion (:func:`jitter`, docs/WIDEFIELD.md §2.1): slow drift + behaviour-locked shifts (licking
moves the brain along y with the jaw, reaching along x with the paw) + independent per-frame
jitter.
"""

import contextlib
from pathlib import Path

import numpy as np
import scipy.fft as sfft
import tifffile
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from benediff.io.atomic import atomic_output
from benediff.simulate.params import BEHAVIORS

CHUNK_PIXELS = 2**21  # pixels per chunk and channel: bounds memory (~40 MB per float64 array)


def baselines(rng, brain, midline_mm, params):
    """Blue/violet baseline fluorescence with vessel texture, and the haemodynamic weight map."""
    h, w = brain.shape
    scale = max(h, w) / 40
    field = gaussian_filter(rng.standard_normal((h, w)), scale, mode="reflect")
    vessels = np.exp(-(field / (0.12 * field.std())) ** 2)  # zero-crossings of a smooth field
    sinus = np.exp(-(midline_mm / 0.15) ** 2)
    shading = 1 + 0.1 * _norm(gaussian_filter(rng.standard_normal((h, w)), 3 * scale, mode="reflect"))
    soft = gaussian_filter(brain.astype(np.float64), 0.02 * max(h, w) + 0.5)
    tissue = soft * (1 - 0.35 * vessels - 0.4 * sinus) * shading
    blue = params.baseline_counts * (0.08 + 0.92 * tissue)
    violet = 0.55 * params.baseline_counts * (0.08 + 0.92 * soft * (1 - 0.2 * vessels - 0.25 * sinus))
    hemo_map = soft * (0.5 + vessels + sinus)
    return blue, violet, hemo_map


def _norm(x):
    return (x - x.mean()) / (x.std() + 1e-12)


def haemodynamics(rng, n_frames, params) -> np.ndarray:
    """(n_frames, 2) multiplicative haemodynamic time course at blue and violet frame times."""
    t = np.arange(n_frames)[:, None] / params.frame_rate + np.array([[0.0, 0.5]]) / params.frame_rate
    freqs, phases = rng.uniform(0.05, 0.5, 4), rng.uniform(0, 2 * np.pi, 4)
    slow = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases)) / 2
    heart_phase = 2 * np.pi * params.heartbeat_hz * t + 2 * np.sin(2 * np.pi * 0.03 * t + rng.uniform(0, 6.3))
    return params.hemo_amplitude * (0.8 * slow + 0.35 * np.sin(heart_phase))


def jitter(rng, n_frames, params, behavior=None) -> np.ndarray:
    """(n_frames, 2, 2) rigid (dy, dx) shifts per frame and channel (blue, violet), px:

    - slow drift: std 0.6 · ``jitter_px``, ~1 s Gaussian smoothing, shared by both channels;
    - behaviour-locked shifts (``behavior`` (n_frames, 6) in ``BEHAVIORS`` order): dy =
      ``lick_shift_px`` · Jaw (licking: the jaw muscles pull the skull and brain; 0 at rest, full
      amplitude with the jaw open) and dx = ``reach_shift_px`` · Paw-y (reaching), each sampled
      at the channel's frame time (violet half a frame later), so motion follows behaviour;
    - independent per-frame jitter of std ``frame_jitter_px`` (each frame and channel).

    Sizes and their sources: docs/WIDEFIELD.md §2.1.
    """
    drift = gaussian_filter1d(rng.standard_normal((n_frames, 1, 2)), 30, axis=0)
    drift /= drift.std() + 1e-12
    white = rng.standard_normal((n_frames, 2, 2))
    out = 0.6 * params.jitter_px * drift + params.frame_jitter_px * white
    if behavior is not None and (params.lick_shift_px or params.reach_shift_px):
        t = np.arange(n_frames, dtype=np.float64)
        for c, offset in enumerate((0.0, 0.5)):  # violet frames half a frame after blue
            jaw = np.interp(t + offset, t, behavior[:, BEHAVIORS.index("Jaw")])
            paw = np.interp(t + offset, t, behavior[:, BEHAVIORS.index("Paw-y")])
            out[:, c, 0] += params.lick_shift_px * jaw
            out[:, c, 1] += params.reach_shift_px * paw
    return out


def clean_frames(truth, start, stop):
    """(stop − start, 2, H, W) float64 noise-free frames before jitter, from the truth arrays."""
    fp = truth["footprints"].reshape(len(truth["footprints"]), -1)
    dff = truth["activities"][start:stop] @ fp
    hemo = truth["haemodynamics"][start:stop]
    hmap = truth["hemo_map"].ravel()
    out = np.empty((stop - start, 2, hmap.size))
    dff += 1
    dff *= truth["baseline_blue"].ravel()
    np.multiply(dff, 1 + hmap * hemo[:, :1], out=out[:, 0])
    np.multiply(truth["baseline_violet"].ravel(), 1 + hmap * hemo[:, 1:], out=out[:, 1])
    return out.reshape(stop - start, 2, *truth["hemo_map"].shape)


PAD = 8  # reflect padding (px) around each frame for the Fourier blur and shift


def optics(frames, shifts, psf_sigma=0.0):
    """Blur every (frame, channel) image (n, 2, H, W) by a Gaussian PSF of ``psf_sigma`` px and
    move it by its (dy, dx) (n, 2, 2) px, exactly, in the Fourier domain of the reflect-padded
    frame (single precision: errors ~1e-7 of the value, far below shot noise); float32 out."""
    frames = np.asarray(frames, np.float32)
    n, c, h, w = frames.shape
    padded = np.pad(frames, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)), mode="reflect")
    hp, wp = h + 2 * PAD, w + 2 * PAD
    ky = np.fft.fftfreq(hp)[:, None]
    kx = np.fft.rfftfreq(wp)[None]
    shifts = np.asarray(shifts, np.float64)
    # separable transfer functions: Gaussian PSF × shift phase ramp, along y and along x
    ty = np.exp(-2 * np.pi ** 2 * psf_sigma ** 2 * ky ** 2 - 2j * np.pi * ky * shifts[..., 0, None, None])
    tx = np.exp(-2 * np.pi ** 2 * psf_sigma ** 2 * kx ** 2 - 2j * np.pi * kx * shifts[..., 1, None, None])
    spectrum = sfft.rfft2(padded, workers=1)
    spectrum *= ty.astype(np.complex64)
    spectrum *= tx.astype(np.complex64)
    return np.ascontiguousarray(sfft.irfft2(spectrum, s=(hp, wp), workers=1)[..., PAD:PAD + h, PAD:PAD + w])


def movie_chunks(truth, rng, noise=True, psf_sigma=0.0):
    """Yield uint16 chunks (n, 2, H, W) of the movie in frame order (``psf_sigma``: optical
    blur, px; the simulator passes ``psf_sigma_px``)."""
    n_frames = len(truth["activities"])
    truth = {**truth, "footprints": truth["footprints"].astype(np.float64)}  # convert once, not per chunk
    chunk = int(np.clip(CHUNK_PIXELS // truth["hemo_map"].size, 8, 256))
    for start in range(0, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        frames = optics(clean_frames(truth, start, stop), truth["jitter"][start:stop], psf_sigma)
        if noise:  # Poisson shot noise in its Gaussian limit (variance = mean; counts > 200 here)
            np.maximum(frames, 0, out=frames)
            frames += np.sqrt(frames) * rng.standard_normal(frames.shape, dtype=np.float32)
        yield np.clip(np.rint(frames), 0, 65535).astype(np.uint16)


def write_movie(chunks, shape, n_frames, dat_path=None, tiff_path=None) -> None:
    """Stream the chunks into a wfield .dat (frames × 2 × H × W) and/or a TIFF ((2·frames) × H × W)."""
    with contextlib.ExitStack() as stack:
        dat = None
        if dat_path is not None:
            dat = stack.enter_context(open(stack.enter_context(atomic_output(dat_path)), "wb"))

        def pages():
            for chunk in chunks:
                if dat is not None:
                    dat.write(chunk.tobytes())
                yield from chunk.reshape(-1, *shape)

        if tiff_path is None:
            for _ in pages():
                pass
            return
        tmp = stack.enter_context(atomic_output(tiff_path))
        bigtiff = 2 * n_frames * shape[0] * shape[1] * 2 > 2**31
        with tifffile.TiffWriter(tmp, bigtiff=bigtiff) as tif:
            tif.write(pages(), shape=(2 * n_frames, *shape), dtype=np.uint16, photometric="minisblack")


def read_dat(path, shape) -> np.ndarray:
    """Memory-map a wfield .dat written by :func:`write_movie`: (frames, 2, H, W) uint16."""
    return np.memmap(Path(path), dtype=np.uint16, mode="r").reshape(-1, 2, *shape)
