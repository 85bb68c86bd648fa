"""Atlas and landmarks files of the dorsal cortex: their readers (and the writers benediff uses).

An :class:`Atlas` is a signed label image: positive codes are left-hemisphere areas, negative
codes the same areas on the right, 0 is outside the brain. ``names`` maps each positive code to
its acronym. Supported sources (see :func:`load_atlas`):

- wfield reference directory (``dorsal_cortex_ccf_labels.json``): contours rasterised onto a
  canvas, left = +(i+1), right = -(i+1) in label order;
- LocaNMF ``atlas.mat`` (signed ``atlas`` + ``areanames`` struct whose field names are the areas);
- mesoscopy ``ccf_template_top_*.tiff`` + ``ccf_annotations.csv`` (left hemisphere only; mirrored);
- the simulator's ``atlas.npz`` (``labels``, ``codes``, ``names``; written by :func:`save_npz`).

A session's landmarks file is wfield's landmarks JSON (``landmarks_im``: atlas px,
``landmarks_match``: session px, ``transform_type``; see :mod:`benediff.widefield.landmarks`):
:func:`read_landmarks`, :func:`landmark_points`, :func:`landmark_problems`, :func:`write_landmarks`
and :func:`fit_transform` (the atlas -> session transform the file's point pairs define).

Elsewhere: grouping areas into region keys and region borders in :mod:`benediff.io.regions`
(its names used outside the widefield stage are re-exported here); brain masks in
:mod:`benediff.widefield.masks`; warping and checking the alignment in
:mod:`benediff.widefield.registration`.
"""

import csv
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.regions import code_regions, consolidate, make_grouping, outline, region_key

__all__ = ["Atlas", "AtlasError", "LandmarkError", "LANDMARK_NAMES", "load_atlas",
           "rasterize_wfield", "save_npz", "resize_atlas", "read_landmarks", "landmark_points",
           "landmark_problems", "write_landmarks", "fit_transform",
           # re-exported from benediff.io.regions
           "code_regions", "consolidate", "make_grouping", "outline", "region_key"]

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
        points = [landmark_points(data[k], k, path) for k in ("landmarks_im", "landmarks_match")]
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


def write_landmarks(path, data: dict) -> None:
    """A landmarks file (dict as built by :func:`benediff.widefield.landmarks.landmarks_json`)."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=4, sort_keys=True))


def landmark_points(entry, key, source) -> dict[str, tuple[float, float]]:
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
    src_pts = landmark_points(data["landmarks_im"], "landmarks_im", source)
    dst_pts = landmark_points(data["landmarks_match"], "landmarks_match", source)
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
