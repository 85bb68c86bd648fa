"""Placing the atlas landmarks on a recording: the landmark points, a session's state and the
rule's starting guess.

The four wfield landmarks (``OB_left``, ``OB_center``, ``OB_right``: the olfactory bulb /
frontal cortex junction; ``RSP_base``: the posterior end of the midline, retrosplenial cortex)
are known in the atlas (``landmarks_im``, atlas px); the user places them on the mean frame of
the recording (``landmarks_match``, session px). The file written is wfield's landmarks JSON:
``landmarks`` (mm from bregma), ``landmarks_im``, ``landmarks_match`` (each ``{x, y, name,
color}`` lists), ``resolution``, ``bregma_offset``, ``transform`` / ``transform_inverse``
(3 x 3, atlas px -> session px) and ``transform_type``; :func:`benediff.io.atlas.fit_transform`
and wfield's ``load_allen_landmarks`` both read it (:func:`benediff.io.atlas.write_landmarks`
writes it).

- here: :func:`atlas_landmarks`, :func:`landmarks_json`, :class:`Session` (a recording's mean
  frame and brain mask with an atlas), :func:`load_session` and :func:`run_guess` (rule
  ``widefield_landmarks``: the starting guess and its preview, headless);
- :mod:`benediff.widefield.landmark_guess`: the starting guess (a similarity laying the atlas
  onto the brain mask of the recording);
- :mod:`benediff.widefield.landmark_preview`: drawing the alignment, the preview PNG;
- :mod:`benediff.widefield.landmark_editor`: the interactive editor;
- :mod:`benediff.widefield.landmark_cli`: the ``benediff landmarks`` command.
"""

import logging
from pathlib import Path

import numpy as np

from benediff.io import atlas as atl
from benediff.io.atlas import write_landmarks
from benediff.widefield.landmark_guess import guess_transform
from benediff.widefield.landmark_preview import COLORS, draw_alignment, write_preview
from benediff.widefield.masks import image_brain_mask, recording_brain_mask
from benediff.widefield.registration import alignment_overlap, warp_atlas

log = logging.getLogger(__name__)

# wfield's reference landmarks (mm from bregma: x mediolateral, left negative; y posterior)
LANDMARKS_MM = {"OB_left": (-1.95, -3.45), "OB_center": (0.0, -3.45),
                "OB_right": (1.95, -3.45), "RSP_base": (0.0, 3.2)}

__all__ = ["LANDMARKS_MM", "atlas_landmarks", "landmarks_json", "Session", "load_session",
           "run_guess", "guess_transform", "write_landmarks",
           "draw_alignment"]  # draw_alignment: also used by the widefield QC figure


# ---------------------------------------------------------------- atlas landmarks

def atlas_landmarks(atlas: atl.Atlas) -> tuple[dict[str, tuple[float, float]], float, tuple]:
    """Landmark points in atlas px, resolution (mm/px) and bregma (x, y px) of an atlas.

    From the atlas's resolution and bregma when known (wfield reference, simulator atlas.npz),
    else estimated from the brain outline (9.6 mm wide, bregma 45 % down the brain).
    """
    if atlas.resolution is not None and atlas.bregma is not None:
        res, bregma = float(atlas.resolution), atlas.bregma
    else:
        rows, cols = np.nonzero(atlas.labels)
        if not len(rows):
            raise atl.AtlasError("the atlas has no labelled pixel; cannot place landmarks")
        res = 9.6 / (cols.max() - cols.min() + 1)
        bregma = (float(cols.mean()), float(rows.min() + 0.45 * (rows.max() - rows.min())))
    points = {n: (bregma[0] + x / res, bregma[1] + y / res) for n, (x, y) in LANDMARKS_MM.items()}
    return points, res, (float(bregma[0]), float(bregma[1]))


def _point_table(points: dict) -> dict:
    names = list(points)
    return {"x": [float(points[n][0]) for n in names], "y": [float(points[n][1]) for n in names],
            "name": names, "color": [COLORS.get(n, "#ffffff") for n in names]}


def landmarks_json(atlas_points: dict, session_points: dict, resolution=None, bregma=None,
                   kind="similarity") -> dict:
    """wfield landmarks dict; the transform is fitted on the point pairs (atlas -> session)."""
    data = {"landmarks_im": _point_table(atlas_points),
            "landmarks_match": _point_table({n: session_points[n] for n in atlas_points}),
            "transform_type": kind}
    if resolution is not None and bregma is not None:
        mm = {n: ((p[0] - bregma[0]) * resolution, (p[1] - bregma[1]) * resolution)
              for n, p in atlas_points.items()}
        data.update(landmarks=_point_table(mm), resolution=float(resolution),
                    bregma_offset=[float(bregma[0]), float(bregma[1])])
    tform = atl.fit_transform(data, kind)
    data["transform"] = tform.params.tolist()
    data["transform_inverse"] = np.linalg.inv(tform.params).tolist()
    return data



# ---------------------------------------------------------------- session state

class Session:
    """A recording's mean frame and brain mask with an atlas and its landmarks (atlas px)."""

    def __init__(self, image, brain, brain_found, atlas: atl.Atlas, atlas_points=None,
                 resolution=None, bregma=None, kind="similarity"):
        self.image, self.brain, self.brain_found = image, np.asarray(brain, bool), brain_found
        self.atlas, self.kind = atlas, kind
        if atlas_points is None:
            atlas_points, resolution, bregma = atlas_landmarks(atlas)
        self.atlas_points, self.resolution, self.bregma = dict(atlas_points), resolution, bregma
        self.shape = self.brain.shape

    def guess(self) -> dict:
        """Session points of the landmarks from :func:`guess_transform`."""
        tform = guess_transform(self.atlas, self.brain, self.brain_found)
        pts = tform(np.array(list(self.atlas_points.values())))
        return {n: (float(x), float(y)) for n, (x, y) in zip(self.atlas_points, pts)}

    def data(self, points) -> dict:
        return landmarks_json(self.atlas_points, points, self.resolution, self.bregma, self.kind)

    def align(self, points):
        """(transform, warped labels, :class:`Overlap`) for session ``points``."""
        tform = atl.fit_transform(self.data(points), self.kind)
        labels = warp_atlas(self.atlas, tform, self.shape).labels
        return tform, labels, alignment_overlap(self.atlas, labels, tform, self.brain,
                                                self.brain_found)


def load_session(movie, atlas_path, cfg=None, session_format="auto", motion_h5=None,
                 start=None, kind=None) -> tuple[Session, dict | None]:
    """Session for a movie (any reader format, or a mean frame .npy / image) and an atlas.

    ``start``: an existing landmarks file whose atlas points (and session points, returned)
    are used instead of the atlas's own.
    """
    cfg = _cfg(cfg)
    movie = Path(movie)
    if movie.suffix.lower() in (".npy", ".png", ".jpg", ".jpeg"):
        image = _read_image(movie)
        brain, found = image_brain_mask(image)
    else:
        image, brain, found = recording_brain_mask(movie, cfg, session_format, motion_h5)
    atlas = atl.load_atlas(atlas_path)
    atlas_points = res = bregma = start_points = None
    if start is not None:
        data = atl.read_landmarks(start)
        atlas_points = atl.landmark_points(data["landmarks_im"], "landmarks_im", str(start))
        start_points = atl.landmark_points(data["landmarks_match"], "landmarks_match", str(start))
        res, bregma = data.get("resolution"), data.get("bregma_offset")
        kind = kind or data.get("transform_type")
    session = Session(image, brain, found, atlas, atlas_points, res, bregma,
                      kind or "similarity")
    return session, start_points


def _read_image(path):
    if path.suffix.lower() == ".npy":
        image = np.load(path)
    else:
        import imageio.v3 as iio

        image = iio.imread(path)
    image = np.asarray(image, np.float32)
    return image.mean(-1) if image.ndim == 3 else image


def _cfg(cfg):
    defaults = {"format": "auto", "channels": 2, "channel_order": "auto", "chunk_frames": 256,
                "motion": {"nref": 60}}
    cfg = {**defaults, **(cfg or {})}
    cfg["motion"] = {**defaults["motion"], **cfg.get("motion", {})}
    return cfg


def run_guess(movie, atlas_path, out_json, out_png, cfg=None, session_format="auto",
              motion_h5=None, title=""):
    """Headless: write the starting-guess landmarks file and its preview PNG."""
    session, _ = load_session(movie, atlas_path, cfg, session_format, motion_h5)
    points = session.guess()
    _, labels, overlap = session.align(points)
    min_overlap = (cfg or {}).get("atlas", {}).get("min_overlap")
    write_landmarks(out_json, session.data(points))
    write_preview(out_png, session.image, labels, session.brain, points, overlap,
                  title or f"starting guess for {Path(movie).name}: check it, edit with "
                  "`benediff landmarks`", min_overlap)
    log.info("%s: starting guess written (%s)", out_json, overlap.describe())
    return points, overlap
