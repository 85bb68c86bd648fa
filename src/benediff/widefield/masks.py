"""Brain masks of a widefield session: the recording's (from its mean frame, or a compressed
input's own mask), the atlas's, and the final LocaNMF mask (atlas AND recording) with
too-small regions dropped."""

import warnings
from dataclasses import replace

import numpy as np

from benediff.io.atlas import Atlas, AtlasError
from benediff.io.motion import read_reference
from benediff.widefield.readers import (SVD_FORMATS, channel_order, check_channels, movie_format,
                                        open_movie)
from benediff.widefield.svd_inputs import read_svd_input


def brain_mask(atlas: Atlas | np.ndarray, U=None) -> np.ndarray:
    """Pixels inside the atlas and (if ``U`` (H, W, K) is given) where U is finite and nonzero."""
    labels = atlas.labels if isinstance(atlas, Atlas) else np.asarray(atlas)
    mask = labels != 0
    if U is not None:
        U = np.asarray(U)
        mask &= np.all(np.isfinite(U), axis=-1) & np.any(U != 0, axis=-1)
    return mask


def check_overlap(atlas: Atlas, mask: np.ndarray, min_fraction=0.5, source="atlas") -> np.ndarray:
    """Final LocaNMF mask = mask AND atlas != 0; raise if the atlas covers too little of ``mask``."""
    if atlas.shape != mask.shape:
        raise AtlasError(f"{source}: atlas shape {atlas.shape} differs from the imaging frame "
                         f"{mask.shape}; warp it into the session frame first (landmarks)")
    final = mask & (atlas.labels != 0)
    n_mask = int(mask.sum())
    if n_mask == 0 or not final.any() or final.sum() < min_fraction * n_mask:
        raise AtlasError(f"{source}: the aligned atlas covers {int(final.sum())} of {n_mask} "
                         f"brain-mask pixels (< {min_fraction:.0%}); check the landmarks file "
                         "(atlas px -> session px) and the transform type")
    return final


def drop_small_regions(atlas: Atlas, mask: np.ndarray, min_pixels: int, source="atlas"):
    """Zero regions with <= ``min_pixels`` pixels inside ``mask``; warn and return dropped codes."""
    labels = atlas.labels.copy()
    dropped = []
    for code in np.unique(labels[labels != 0]):
        if np.count_nonzero((labels == code) & mask) <= min_pixels:
            dropped.append(int(code))
            labels[labels == code] = 0
    if dropped:
        listed = ", ".join(f"{atlas.name(c)}{'_L' if c > 0 else '_R'}" for c in dropped)
        warnings.warn(f"{source}: dropping {len(dropped)} region(s) with <= {min_pixels} pixels "
                      f"in the brain mask: {listed}", stacklevel=2)
    return replace(atlas, labels=labels), dropped


def image_brain_mask(image, min_contrast=0.6) -> tuple[np.ndarray, bool]:
    """Brain (cranial window) mask of a mean fluorescence frame, and whether one was found.

    The imaged brain is bright, the skull / cement / headplate around it dark. Steps: light
    smoothing, Otsu threshold on the 0.5-99.5 percentile-clipped intensities, opening (drops
    specks and thin bright edges), the largest component plus any other at least 20 % of its
    size (hemispheres split by a dark midline sinus), closing and hole filling (vessels, sinus).
    When the frame has no dark surround (dark-class mean > ``min_contrast`` x bright-class mean,
    or either class < 3 % of the frame) the whole frame is returned with ``found = False``.
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    img = np.nan_to_num(np.asarray(image, np.float64))
    if img.ndim != 2:
        raise AtlasError(f"brain mask: expected a 2-D mean frame, got shape {img.shape}")
    h, w = img.shape
    whole = np.ones((h, w), bool)
    size = max(h, w)
    img = ndimage.gaussian_filter(img, 0.004 * size + 0.5, mode="nearest")
    lo, hi = np.percentile(img, [0.5, 99.5])
    if not hi > lo:
        return whole, False
    img = np.clip(img, lo, hi)
    thresh = threshold_otsu(img)
    bright = img > thresh
    frac = bright.mean()
    if not 0.03 <= frac <= 0.97:
        return whole, False
    dark_mean, bright_mean = img[~bright].mean(), img[bright].mean()
    if bright_mean <= 0 or dark_mean > min_contrast * bright_mean:
        return whole, False
    r_open = max(1, round(0.01 * size))
    r_close = max(2, round(0.03 * size))
    mask = ndimage.binary_opening(bright, _disk(r_open))
    lab, n = ndimage.label(mask)
    if n == 0:
        return whole, False
    sizes = np.bincount(lab.ravel())[1:]
    keep = np.flatnonzero(sizes >= 0.2 * sizes.max()) + 1
    mask = np.isin(lab, keep)
    pad = r_close + 1  # close with the frame edge extended, so the mask is not eroded there
    padded = np.pad(mask, pad, mode="edge")
    padded = ndimage.binary_closing(padded, _disk(r_close))
    mask = ndimage.binary_fill_holes(padded)[pad:-pad, pad:-pad]
    return mask, True


def _disk(radius):
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return xx ** 2 + yy ** 2 <= radius ** 2


# ---------------------------------------------------------------- the recording

def mean_frame(movie, cfg, session_format="auto", motion_h5=None):
    """Mean blue frame of the recording (H, W) float32, or None for compressed (SVD) inputs.

    The motion step's registered blue reference frame when there is one, else the mean of the
    raw blue frames of the same reference window (frames nref..2*nref per channel).
    """
    from benediff.widefield.motion import reference_window
    from benediff.widefield.stream import iter_cycles

    fmt = movie_format(movie, cfg, session_format)
    if fmt in SVD_FORMATS:
        return None
    order = None
    if motion_h5 is not None:
        reference, order = read_reference(motion_h5)
        if reference is not None:
            return reference
    reader = open_movie(movie, fmt)
    n_ch = cfg["channels"]
    n_t = check_channels(reader, n_ch)
    order = order or channel_order(reader, n_ch, cfg["channel_order"])
    a, b = reference_window(n_t, cfg["motion"]["nref"])
    total, count = None, 0
    for _, block in iter_cycles(reader, n_ch, order, cfg["chunk_frames"], None, a, b):
        part = block[:, 0].astype(np.float64).sum(0)
        total = part if total is None else total + part
        count += len(block)
    return (total / max(count, 1)).astype(np.float32)


def recording_brain_mask(movie, cfg, session_format="auto", motion_h5=None):
    """(mean blue frame or None, brain mask (H, W) bool, found) of a recording.

    Raw movies: :func:`image_brain_mask` of the mean blue frame. Compressed
    inputs: the input's own mask (``found`` False when it is the whole frame).
    """
    fmt = movie_format(movie, cfg, session_format)
    if fmt in SVD_FORMATS:
        mask = np.asarray(read_svd_input(movie, fmt).mask, bool)
        return None, mask, bool(not mask.all())
    image = mean_frame(movie, cfg, session_format, motion_h5)
    mask, found = image_brain_mask(image)
    return image, mask, found
