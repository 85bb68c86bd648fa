"""Atlases of the dorsal cortex: loaders, region grouping, landmark alignment and brain masks.

An :class:`Atlas` is a signed label image: positive codes are left-hemisphere areas, negative
codes the same areas on the right, 0 is outside the brain. ``names`` maps each positive code to
its acronym. Supported sources (see :func:`load_atlas`):

- wfield reference directory (``dorsal_cortex_ccf_labels.json``): contours rasterised onto a
  canvas, left = +(i+1), right = -(i+1) in label order;
- LocaNMF ``atlas.mat`` (signed ``atlas`` + ``areanames`` struct whose field names are the areas);
- mesoscopy ``ccf_template_top_*.tiff`` + ``ccf_annotations.csv`` (left hemisphere only; mirrored);
- the simulator's ``atlas.npz`` (``labels``, ``codes``, ``names``).
"""

import csv
import json
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np


class AtlasError(ValueError):
    """An atlas or landmarks file is unusable; the message names the file and the fix."""


class LandmarkError(AtlasError):
    """A landmarks file is incomplete or inconsistent."""


@dataclass
class Atlas:
    """Signed label image (+left / -right / 0 outside) with acronyms per positive code."""

    labels: np.ndarray
    names: dict[int, str]
    resolution: float | None = None  # mm per pixel
    bregma: tuple[float, float] | None = None  # (x, y) = (col, row) in pixels

    def __post_init__(self):
        self.labels = np.asarray(self.labels).astype(np.int32, copy=False)
        if self.labels.ndim != 2:
            raise AtlasError(f"atlas labels must be 2-D (H, W), got shape {self.labels.shape}")
        self.names = {int(k): str(v) for k, v in self.names.items()}

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape

    def name(self, code: int) -> str:
        """Acronym of a signed code (hemisphere not included)."""
        return self.names.get(abs(int(code)), f"code{abs(int(code))}")


# ---------------------------------------------------------------- loading

WFIELD_LABELS = "dorsal_cortex_ccf_labels.json"
WFIELD_LANDMARKS = "dorsal_cortex_landmarks.json"
WFIELD_CANVAS = (540, 640)


def load_atlas(path, shape=None, **options) -> Atlas:
    """Load an atlas from any supported source; ``shape`` resizes it (nearest neighbour).

    For a wfield reference directory, ``shape`` is the canvas and ``options`` may give
    ``resolution`` (mm/px) and ``bregma`` (x, y px); defaults come from the landmarks file
    (540 x 640 canvas, 0.0194 mm/px, bregma (320, 270)).
    """
    path = Path(path)
    if not path.exists():
        raise AtlasError(f"atlas {path} does not exist; check the atlas path in the config")
    if path.is_dir() or path.name == WFIELD_LABELS:
        ref_dir = path if path.is_dir() else path.parent
        return rasterize_wfield(ref_dir, shape=shape, **options)
    suffix = path.suffix.lower()
    loaders = {".mat": _load_locanmf_mat, ".tif": _load_mesoscopy, ".tiff": _load_mesoscopy,
               ".npz": _load_npz}
    if suffix not in loaders:
        raise AtlasError(f"atlas {path}: unknown format {suffix!r}; expected a wfield reference "
                         "directory, atlas.mat, a mesoscopy .tiff or an atlas.npz")
    atlas = loaders[suffix](path)
    return atlas if shape is None else resize_atlas(atlas, shape)


def rasterize_wfield(ref_dir, shape=None, resolution=None, bregma=None) -> Atlas:
    """Rasterise the wfield dorsal-cortex contours (mm from bregma) into a signed label image.

    Regions are filled in label order so later regions overwrite earlier ones (as wfield does).
    """
    from skimage.draw import polygon

    ref_dir = Path(ref_dir)
    areas = _read_json(ref_dir / WFIELD_LABELS)
    if resolution is None or bregma is None:
        lm = _read_json(ref_dir / WFIELD_LANDMARKS)
        resolution = lm["resolution"] if resolution is None else resolution
        bregma = lm["bregma_offset"] if bregma is None else bregma
    shape = tuple(shape or WFIELD_CANVAS)
    labels = np.zeros(shape, np.int32)
    names = {}
    for area in sorted(areas, key=lambda a: a["label"]):
        code = int(area["label"])
        names[code] = area["acronym"]
        for side, sign in (("left", 1), ("right", -1)):
            cols = np.asarray(area[f"{side}_x"]) / resolution + bregma[0]
            rows = np.asarray(area[f"{side}_y"]) / resolution + bregma[1]
            rr, cc = polygon(rows, cols, shape)
            labels[rr, cc] = sign * code
    return Atlas(labels, names, float(resolution), (float(bregma[0]), float(bregma[1])))


def _load_locanmf_mat(path) -> Atlas:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise AtlasError(f"atlas {path}: not a readable MAT v5 file ({exc})") from exc
    for key in ("atlas", "areanames"):
        if key not in mat:
            raise AtlasError(f"atlas {path}: variable {key!r} missing; expected the LocaNMF "
                             "atlas.mat with 'atlas' (signed codes) and 'areanames'")
    struct = mat["areanames"]
    names = {}
    for field in struct.dtype.names:
        code = int(np.asarray(struct[0, 0][field]).ravel()[0])
        names[abs(code)] = re.sub(r"_[LR]$", "", field)
    labels = np.nan_to_num(mat["atlas"]).round().astype(np.int32)
    return Atlas(labels, names)


def _load_mesoscopy(path) -> Atlas:
    import tifffile

    csv_path = path.parent / "ccf_annotations.csv"
    if not csv_path.exists():
        raise AtlasError(f"atlas {path}: {csv_path.name} not found beside it; the mesoscopy "
                         "template needs its annotations csv (id, acronym, name)")
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh, skipinitialspace=True))
    names = {int(r["id"]): r["acronym"].strip().replace("-", "_") for r in rows}
    left = tifffile.imread(path).astype(np.int32)
    bregma = _mesoscopy_bregma(path)
    return Atlas(_mirror_left(left, None if bregma is None else bregma[0]), names, bregma=bregma)


def _mesoscopy_bregma(path):
    lm_csv = next(path.parent.glob("ccf_template_landmarks_*.csv"), None)
    if lm_csv is not None:
        with open(lm_csv, newline="") as fh:
            for row in csv.DictReader(fh):
                if row["landmark"].strip() == "bregma":
                    return float(row["x"]), float(row["y"])
    return None


def _mirror_left(left, bregma_x):
    """Copy left-hemisphere labels (cols < bregma) to the right with negative codes."""
    h, w = left.shape
    mid = (w - 1) / 2 if bregma_x is None else bregma_x
    cols = np.arange(w)
    mirrored = np.round(2 * mid - cols).astype(int)
    labels = left.copy()
    right = (cols > mid) & (mirrored >= 0) & (mirrored < w)
    src = left[:, mirrored[right]]
    labels[:, right] = np.where(labels[:, right] == 0, -src, labels[:, right])
    return labels


def _load_npz(path) -> Atlas:
    try:
        data = np.load(path, allow_pickle=False)
        labels, codes, names = data["labels"], data["codes"], data["names"]
    except KeyError as exc:
        raise AtlasError(f"atlas {path}: key {exc} missing; expected labels, codes, names") from exc
    except Exception as exc:
        raise AtlasError(f"atlas {path}: not a readable .npz ({exc})") from exc
    resolution = float(data["resolution"]) if "resolution" in data else None
    bregma = tuple(float(v) for v in data["bregma"]) if "bregma" in data else None
    return Atlas(labels, {abs(int(c)): str(n) for c, n in zip(codes, names)}, resolution, bregma)


def save_npz(path, atlas: Atlas) -> None:
    """Write an atlas in the simulator's ``atlas.npz`` layout (positive codes only)."""
    from benediff.io.atomic import atomic_output

    codes = np.array(sorted(atlas.names), np.int32)
    names = np.array([atlas.names[c] for c in codes])
    extra = {}
    if atlas.resolution is not None:
        extra["resolution"] = np.float64(atlas.resolution)
    if atlas.bregma is not None:
        extra["bregma"] = np.array(atlas.bregma, np.float64)
    with atomic_output(path) as tmp:
        np.savez(tmp, labels=atlas.labels, codes=codes, names=names, **extra)


def resize_atlas(atlas: Atlas, shape) -> Atlas:
    """Nearest-neighbour resize to ``shape`` (H, W); bregma and resolution follow."""
    h, w = atlas.shape
    sy, sx = shape[0] / h, shape[1] / w
    rows = np.minimum(((np.arange(shape[0]) + 0.5) / sy).astype(int), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) / sx).astype(int), w - 1)
    bregma = None if atlas.bregma is None else (
        (atlas.bregma[0] + 0.5) * sx - 0.5, (atlas.bregma[1] + 0.5) * sy - 0.5)
    resolution = None if atlas.resolution is None else atlas.resolution / sx
    return replace(atlas, labels=atlas.labels[np.ix_(rows, cols)], bregma=bregma,
                   resolution=resolution)


def _read_json(path):
    path = Path(path)
    if not path.exists():
        raise AtlasError(f"{path} does not exist; pass the wfield reference directory explicitly")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AtlasError(f"{path}: invalid JSON ({exc}); an interrupted wfield download leaves "
                         "an empty file, replace it with the shipped reference") from exc


# ---------------------------------------------------------------- grouping

def consolidate(acronym: str) -> str | None:
    """BehaveNet ``indxs_consolidate_lr`` group of an acronym (no hemisphere suffix).

    SSp_* -> SSp; visual areas -> VIS (VISC, visceral, excluded); RSP* -> RSP; AUD* -> AUD;
    MOp, MOs; every other name keeps its name without a trailing layer digit '1'.
    Returns None for an empty acronym.
    """
    name = re.sub(r"_[LR]$", "", str(acronym).strip()).replace("-", "_")
    if not name:
        return None
    if name != "1":
        name = re.sub(r"1$", "", name)
    if name == "SSp" or name.startswith("SSp_"):
        return "SSp"
    if name.startswith("VIS") and not name.startswith("VISC"):
        return "VIS"
    for prefix in ("RSP", "AUD"):
        if name.startswith(prefix):
            return prefix
    return name


def make_grouping(overrides: dict | None = None):
    """A grouping function: ``overrides`` (acronym -> group, or None to drop) before consolidate."""
    overrides = dict(overrides or {})

    def grouping(acronym):
        key = str(acronym).replace("-", "_")
        for candidate in (acronym, key, re.sub(r"1$", "", key)):
            if candidate in overrides:
                return overrides[candidate]
        return consolidate(acronym)

    return grouping


def region_key(group: str, code: int) -> str:
    return f"{group}_{'L' if code > 0 else 'R'}"


def code_regions(atlas: Atlas, codes=None, grouping=consolidate) -> dict[int, str | None]:
    """Signed code -> region key ("VIS_L"), or None when the grouping drops the area."""
    codes = np.unique(atlas.labels[atlas.labels != 0]) if codes is None else codes
    out = {}
    for code in codes:
        group = grouping(atlas.name(code))
        out[int(code)] = None if group is None else region_key(group, int(code))
    return out


def region_masks(atlas: Atlas, grouping=consolidate) -> dict[str, np.ndarray]:
    """Boolean mask per consolidated region, e.g. ``{"VIS_L": mask, ...}`` (sorted keys)."""
    masks: dict[str, np.ndarray] = {}
    for code, key in code_regions(atlas, grouping=grouping).items():
        if key is None:
            continue
        mask = atlas.labels == code
        masks[key] = masks[key] | mask if key in masks else mask
    return dict(sorted(masks.items()))


def merge_regions(atlas: Atlas, grouping=consolidate) -> Atlas:
    """One signed code per consolidated group (e.g. all visual areas → "VIS"), hemispheres kept.

    New codes are 1..G in group-name order; areas the grouping drops become 0.
    """
    regions = code_regions(atlas, grouping=grouping)
    groups = sorted({key[:-2] for key in regions.values() if key is not None})
    new_code = {g: i + 1 for i, g in enumerate(groups)}
    labels = np.zeros_like(atlas.labels)
    for code, key in regions.items():
        if key is not None:
            labels[atlas.labels == code] = np.sign(code) * new_code[key[:-2]]
    return replace(atlas, labels=labels, names={c: g for g, c in new_code.items()})


# ---------------------------------------------------------------- masks

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


def area_scale(tform) -> float:
    """Area factor of an atlas->session transform (|det| of its linear part)."""
    return float(abs(np.linalg.det(np.asarray(tform.params)[:2, :2])))


@dataclass
class Overlap:
    """How well an aligned atlas matches the brain imaged in the recording.

    ``atlas_in_brain``: fraction of the warped atlas's area inside the brain mask (atlas area
    that falls outside the imaging frame counts as outside the brain);
    ``brain_covered``: fraction of the brain mask covered by the atlas;
    ``overlap`` = min of the two (only ``atlas_in_brain`` when no brain/surround boundary was
    found in the recording, i.e. the mask is the whole frame).
    """

    overlap: float
    atlas_in_brain: float
    brain_covered: float
    brain_found: bool
    atlas_area: float
    brain_area: int

    def describe(self) -> str:
        text = (f"overlap {self.overlap:.2f} = min({self.atlas_in_brain:.2f} of the atlas inside "
                f"the brain mask, {self.brain_covered:.2f} of the brain mask covered by the atlas)")
        if not self.brain_found:
            text = (f"overlap {self.overlap:.2f} = {self.atlas_in_brain:.2f} of the atlas inside "
                    "the imaging frame (no dark surround found: the brain mask is the whole frame)")
        return text


def alignment_overlap(atlas: Atlas, aligned_labels, tform, brain, brain_found=True) -> Overlap:
    """:class:`Overlap` of the atlas (own frame) warped by ``tform`` with the brain mask.

    ``aligned_labels`` is the atlas warped into the session frame (same shape as ``brain``).
    """
    brain = np.asarray(brain, bool)
    aligned = np.asarray(aligned_labels) != 0
    if aligned.shape != brain.shape:
        raise AtlasError(f"aligned atlas {aligned.shape} and brain mask {brain.shape} differ")
    area = np.count_nonzero(atlas.labels) * area_scale(tform)
    inside = np.count_nonzero(aligned & brain)
    n_brain = int(brain.sum())
    in_brain = min(1.0, inside / area) if area > 0 else 0.0
    covered = inside / n_brain if n_brain else 0.0
    overlap = min(in_brain, covered) if brain_found else in_brain
    return Overlap(float(overlap), float(in_brain), float(covered), bool(brain_found),
                   float(area), n_brain)


def region_inside_fractions(atlas: Atlas, aligned: Atlas, tform, brain) -> dict[int, float]:
    """Per signed code: fraction of the region's warped area inside the brain mask.

    The region's full area comes from the atlas in its own frame times the transform's area
    factor, so parts warped outside the imaging frame count as outside the brain.
    """
    scale = area_scale(tform)
    own_codes, own_counts = np.unique(atlas.labels[atlas.labels != 0], return_counts=True)
    fractions = {}
    for code, count in zip(own_codes, own_counts):
        inside = np.count_nonzero((aligned.labels == code) & brain)
        fractions[int(code)] = float(min(1.0, inside / (count * scale))) if scale > 0 else 0.0
    return fractions


def drop_regions_outside(atlas: Atlas, fractions: dict[int, float], min_fraction=0.5,
                         source="atlas"):
    """Zero regions with < ``min_fraction`` of their area inside the brain; warn, return codes."""
    labels = atlas.labels.copy()
    dropped = sorted((c for c, f in fractions.items() if f < min_fraction), key=lambda c: (c < 0, abs(c)))
    for code in dropped:
        labels[labels == code] = 0
    if dropped:
        listed = ", ".join(f"{atlas.name(c)}{'_L' if c > 0 else '_R'} ({fractions[c]:.0%})"
                           for c in dropped)
        warnings.warn(f"{source}: dropping {len(dropped)} region(s) with less than "
                      f"{min_fraction:.0%} of their area inside the imaged brain (brain mask of "
                      f"the recording): {listed}", stacklevel=2)
    return replace(atlas, labels=labels), dropped


# ---------------------------------------------------------------- landmarks

LANDMARK_NAMES = ("OB_left", "OB_center", "OB_right", "RSP_base")  # wfield's four


def _read_landmarks_json(path) -> dict:
    """A session's landmarks file (not the shipped atlas reference: the fix differs)."""
    path = Path(path)
    if not path.exists():
        raise LandmarkError(f"{path}: landmarks file does not exist; fix the landmarks path")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LandmarkError(
            f"{path}: invalid JSON ({exc}); this is the session's landmarks file: re-save it "
            "with `benediff landmarks <movie> --atlas <atlas> -o <this file>` or start again "
            "from results/<session>/widefield/landmarks_guess.json") from exc
    if not isinstance(data, dict):
        raise LandmarkError(f"{path}: a landmarks file is a JSON object with landmarks_im and "
                            "landmarks_match; re-save it with `benediff landmarks`")
    return data


def landmark_problems(path) -> list[str]:
    """What stops a session's landmarks file from aligning the atlas (empty when usable):
    unreadable JSON, missing keys or points, or one of the four wfield landmarks missing."""
    try:
        data = read_landmarks(path)
        points = [_points(data[k], k, path) for k in ("landmarks_im", "landmarks_match")]
    except (LandmarkError, AttributeError, TypeError) as err:
        return [str(err) if isinstance(err, LandmarkError) else
                f"{path}: landmarks_im / landmarks_match are not point tables ({err}); re-save "
                "the file with `benediff landmarks`"]
    problems = []
    for key, pts in zip(("landmarks_im", "landmarks_match"), points):
        missing = [n for n in LANDMARK_NAMES if n not in pts]
        if missing:
            problems.append(f"{path}: {key} lacks landmark(s) {missing} of the four "
                            f"{list(LANDMARK_NAMES)} (it has {sorted(pts)}); the atlas would be "
                            "fitted on the rest without a word: place all four with "
                            "`benediff landmarks`")
    return problems


def read_landmarks(landmarks) -> dict:
    """Landmarks dict from a path or dict, checked for ``landmarks_im`` and ``landmarks_match``."""
    source = landmarks if isinstance(landmarks, (str, Path)) else "landmarks"
    data = (_read_landmarks_json(landmarks) if isinstance(landmarks, (str, Path))
            else dict(landmarks))
    for key in ("landmarks_im", "landmarks_match"):
        if key not in data:
            raise LandmarkError(f"{source}: key {key!r} missing; a landmarks file needs "
                                "landmarks_im (atlas px) and landmarks_match (session px)")
    return data


def _points(entry, key, source) -> dict[str, tuple[float, float]]:
    """{name: (x, y)} from either {name: [...], x: [...], y: [...]} or a list of dicts."""
    if isinstance(entry, dict):
        rows = [dict(name=n, x=x, y=y) for n, x, y in zip(entry.get("name", []),
                                                           entry.get("x", []), entry.get("y", []))]
    else:
        rows = list(entry)
    points = {}
    for row in rows:
        x, y = row.get("x"), row.get("y")
        if x is None or y is None or not np.isfinite([x, y]).all():
            raise LandmarkError(f"{source}: {key} point {row.get('name')!r} has no valid x/y; "
                                "re-export the landmarks")
        points[str(row["name"])] = (float(x), float(y))
    return points


def fit_transform(landmarks, kind=None):
    """skimage transform from atlas px to session px fitted on the named landmark pairs.

    ``kind`` is ``similarity`` or ``affine`` (default: the file's ``transform_type`` or similarity).
    """
    from skimage.transform import AffineTransform, SimilarityTransform

    source = landmarks if isinstance(landmarks, (str, Path)) else "landmarks"
    data = read_landmarks(landmarks)
    kind = kind or data.get("transform_type") or "similarity"
    classes = {"similarity": (SimilarityTransform, 2), "affine": (AffineTransform, 3)}
    if kind not in classes:
        raise LandmarkError(f"{source}: transform type {kind!r} unknown; use similarity or affine")
    cls, needed = classes[kind]
    src_pts = _points(data["landmarks_im"], "landmarks_im", source)
    dst_pts = _points(data["landmarks_match"], "landmarks_match", source)
    missing = sorted(set(src_pts) ^ set(dst_pts))
    if missing:
        raise LandmarkError(f"{source}: landmark(s) {missing} present in only one of landmarks_im "
                            "/ landmarks_match; every atlas landmark needs its session point")
    names = sorted(src_pts)
    if len(names) < needed:
        raise LandmarkError(f"{source}: {len(names)} landmark(s), a {kind} transform needs at "
                            f"least {needed}; add points")
    src = np.array([src_pts[n] for n in names])
    dst = np.array([dst_pts[n] for n in names])
    tform = _estimate(cls, src, dst)
    if tform is None or not np.isfinite(tform.params).all():
        raise LandmarkError(f"{source}: could not fit a {kind} transform (degenerate points)")
    return tform


def _estimate(cls, src, dst):
    """Fitted transform or None (skimage >= 0.26 ``from_estimate``, older ``estimate``)."""
    if hasattr(cls, "from_estimate"):
        tform = cls.from_estimate(src, dst)
        return tform if tform else None
    tform = cls()
    return tform if tform.estimate(src, dst) else None


def landmark_residuals(landmarks, tform) -> np.ndarray:
    """Per-landmark distance (px) between the transformed atlas point and its session point."""
    data = read_landmarks(landmarks)
    src_pts = _points(data["landmarks_im"], "landmarks_im", "landmarks")
    dst_pts = _points(data["landmarks_match"], "landmarks_match", "landmarks")
    names = sorted(src_pts)
    src = np.array([src_pts[n] for n in names])
    dst = np.array([dst_pts[n] for n in names])
    return np.linalg.norm(tform(src) - dst, axis=1)


def warp_atlas(atlas: Atlas, tform, shape) -> Atlas:
    """Warp the atlas into the session frame (nearest neighbour) with an atlas->session transform."""
    from skimage.transform import warp

    labels = warp(atlas.labels.astype(np.float64), tform.inverse, output_shape=tuple(shape),
                  order=0, mode="constant", cval=0, preserve_range=True)
    bregma = None
    if atlas.bregma is not None:
        bregma = tuple(float(v) for v in tform(np.array([atlas.bregma]))[0])
    scale = getattr(tform, "scale", None)
    resolution = None
    if atlas.resolution is not None and np.isscalar(scale) and scale:
        resolution = atlas.resolution / float(scale)
    return Atlas(np.rint(labels).astype(np.int32), dict(atlas.names), resolution, bregma)


def align_atlas(atlas: Atlas, landmarks, shape, kind=None) -> Atlas:
    """Fit the landmark transform and warp the atlas into a session frame of ``shape``."""
    return warp_atlas(atlas, fit_transform(landmarks, kind), shape)


def outline(labels: np.ndarray) -> np.ndarray:
    """Boolean image of region borders (pixels whose 4-neighbours carry another label)."""
    labels = np.asarray(labels)
    edge = np.zeros(labels.shape, bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[1:] |= labels[:-1] != labels[1:]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, :-1] != labels[:, 1:]
    return edge
