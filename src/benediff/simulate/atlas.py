"""The session's atlas: procedural dorsal cortex (default) or a real atlas, plus its landmarks.

Coordinates follow wfield: x = mediolateral mm (left hemisphere at negative x, i.e. image left),
y = anteroposterior mm (+ posterior, rows grow posteriorly), bregma at ``bregma`` px.
"""

from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter
from skimage.transform import SimilarityTransform, warp

from benediff.io.atlas import Atlas, load_atlas, resize_atlas
from benediff.io.regions import consolidate
from benediff.simulate.params import SimulationError

ATLAS_SEED = 20190101  # the procedural atlas is the same for every session, like a reference atlas
LANDMARKS_MM = {"OB_left": (-1.95, -3.45), "OB_center": (0.0, -3.45),
                "OB_right": (1.95, -3.45), "RSP_base": (0.0, 3.2)}

# acronym, wfield label code, centre (|x|, y) mm, extent (sx, sy) mm
AREAS = [
    ("FRP", 2, 0.9, -3.4, 0.8, 0.4), ("MOp", 3, 1.9, -1.0, 0.6, 1.3),
    ("MOs", 4, 0.9, -1.4, 0.6, 1.8), ("SSp-n", 5, 3.0, -2.3, 0.6, 0.6),
    ("SSp-m", 6, 3.6, -1.3, 0.6, 0.6), ("ACAd", 9, 0.25, 0.3, 0.3, 0.8),
    ("RSPd", 11, 0.3, 2.9, 0.35, 1.3), ("RSPagl", 12, 0.85, 2.5, 0.3, 0.9),
    ("SSs", 14, 4.5, -0.2, 0.5, 0.9), ("SSp-bfd", 15, 3.3, 0.8, 0.7, 0.7),
    ("SSp-tr", 16, 2.0, 1.6, 0.5, 0.4), ("SSp-ll", 17, 1.6, 0.7, 0.5, 0.6),
    ("SSp-ul", 18, 2.5, -0.3, 0.6, 0.6), ("TEa", 19, 4.7, 3.3, 0.3, 0.6),
    ("AUDp", 21, 4.5, 2.2, 0.4, 0.7), ("VISpm", 27, 1.6, 3.5, 0.4, 0.4),
    ("VISl", 28, 3.9, 3.3, 0.4, 0.4), ("VISal", 29, 3.9, 2.6, 0.4, 0.4),
    ("VISrl", 30, 3.3, 2.0, 0.5, 0.4), ("VISa", 31, 2.3, 2.2, 0.4, 0.4),
    ("VISam", 32, 1.6, 2.8, 0.4, 0.5), ("VISp", 33, 2.7, 3.5, 0.7, 0.6),
]
# brain half-width (mm) along AP (mm): a shield narrow at the frontal pole, widest posteriorly
OUTLINE_Y = [-4.0, -3.6, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 3.7, 4.2]
OUTLINE_W = [0.0, 1.3, 2.3, 3.4, 4.2, 4.6, 4.9, 5.0, 4.7, 3.8, 0.0]


def procedural_atlas(shape) -> Atlas:
    """Signed dorsal-cortex label image of ``shape`` (H, W), mirrored about the midline."""
    h, w = shape
    res = max(8.6 / h, 10.8 / w)
    bregma = ((w - 1) / 2, (h - 1) / 2 - 0.1 / res)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (cols - bregma[0]) * res, (rows - bregma[1]) * res
    inside = np.abs(x) < PchipInterpolator(OUTLINE_Y, OUTLINE_W, extrapolate=False)(y).clip(0)
    ax = np.abs(x)
    rng = np.random.default_rng(ATLAS_SEED)
    dist = np.empty((len(AREAS), h, w))
    for i, (_, _, cx, cy, sx, sy) in enumerate(AREAS):
        wobble = gaussian_filter(rng.standard_normal((h, w)), 0.5 / res, mode="reflect")
        wobble /= wobble.std() + 1e-12
        dist[i] = np.hypot((ax - cx) / sx, (y - cy) / sy) + 0.15 * _mirror(wobble)
    codes = np.array([a[1] for a in AREAS], np.int32)
    labels = codes[np.argmin(dist, axis=0)] * np.where(x < 0, 1, -1)
    labels = np.where(inside, labels, 0).astype(np.int32)
    return Atlas(labels, {a[1]: a[0] for a in AREAS}, float(res), bregma)


def _mirror(img):
    """Symmetrise about the vertical midline so both hemispheres share their borders."""
    return (img + img[:, ::-1]) / 2


def session_atlas(params) -> Atlas:
    """The atlas in its own frame at the movie shape: procedural, or ``params.atlas`` resampled."""
    if params.atlas is None:
        return procedural_atlas(params.movie_shape)
    path = Path(params.atlas)
    if not path.exists():
        raise SimulationError(f"config key simulate.atlas points at {path}, which does not exist; "
                              "fix the path or set simulate.atlas: null for the procedural atlas")
    return _fit_into(load_atlas(path), params.movie_shape)


def _fit_into(atlas: Atlas, shape) -> Atlas:
    """Resize keeping the aspect ratio, then pad to ``shape`` (centred)."""
    h, w = atlas.shape
    scale = min(shape[0] / h, shape[1] / w)
    inner = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = resize_atlas(atlas, inner)
    top, left = (shape[0] - inner[0]) // 2, (shape[1] - inner[1]) // 2
    labels = np.zeros(shape, np.int32)
    labels[top:top + inner[0], left:left + inner[1]] = small.labels
    bregma = None if small.bregma is None else (small.bregma[0] + left, small.bregma[1] + top)
    return Atlas(labels, small.names, small.resolution, bregma)


def atlas_landmarks(atlas: Atlas) -> tuple[dict[str, tuple[float, float]], float, tuple]:
    """Named landmark points (atlas px), resolution (mm/px) and bregma (x, y px)."""
    if atlas.resolution is not None and atlas.bregma is not None:
        res, bregma = atlas.resolution, atlas.bregma
    else:  # real atlas without metadata: place fiducials from the brain outline
        rows, cols = np.nonzero(atlas.labels)
        res = 9.6 / (cols.max() - cols.min() + 1)
        bregma = (float(cols.mean()), float(rows.min() + 0.45 * (rows.max() - rows.min())))
    points = {name: (bregma[0] + x / res, bregma[1] + y / res) for name, (x, y) in LANDMARKS_MM.items()}
    return points, float(res), (float(bregma[0]), float(bregma[1]))


def random_similarity(rng, shape, params) -> SimilarityTransform:
    """Atlas px -> session px: small rotation, scale and shift about the image centre."""
    rot = np.deg2rad(rng.uniform(-params.max_rotation_deg, params.max_rotation_deg))
    scale = 1 + rng.uniform(-params.max_scale, params.max_scale)
    shift = rng.uniform(-params.max_shift_px, params.max_shift_px, 2)
    centre = np.array([(shape[1] - 1) / 2, (shape[0] - 1) / 2])
    linear = scale * np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    return SimilarityTransform(scale=scale, rotation=rot, translation=centre + shift - linear @ centre)


def warp_labels(labels, tform, shape) -> np.ndarray:
    """Atlas labels in the session frame (nearest neighbour)."""
    out = warp(labels.astype(np.float64), tform.inverse, output_shape=shape, order=0,
               mode="constant", cval=0, preserve_range=True)
    return np.rint(out).astype(np.int32)


def region_masks(labels, names, groups) -> dict[str, np.ndarray]:
    """{"VIS_L": bool mask, ...} for the consolidated groups in ``groups`` (hemisphere by sign)."""
    masks = {}
    available = sorted({g for g in map(consolidate, names.values()) if g})
    for group in groups:
        codes = [c for c, n in names.items() if consolidate(n) == group]
        if not codes:
            raise SimulationError(f"config key simulate.overrides.footprints names group {group!r}, "
                                  f"which the atlas does not have; available groups: {available}")
        for side, sign in (("L", 1), ("R", -1)):
            masks[f"{group}_{side}"] = np.isin(labels, [sign * c for c in codes])
    return masks
