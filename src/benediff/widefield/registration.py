"""Registering an atlas to a session: warping it with the landmark transform and checking the
result against the brain imaged in the recording.

The transform comes from the landmarks file (:func:`benediff.io.atlas.fit_transform`); here:
:func:`warp_atlas` / :func:`align_atlas` into the session frame, :func:`landmark_residuals`,
the :class:`Overlap` of the warped atlas with the recording's brain mask, and dropping regions
mostly outside that brain (:func:`region_inside_fractions`, :func:`drop_regions_outside`).
"""

import warnings
from dataclasses import dataclass, replace

import numpy as np

from benediff.io.atlas import Atlas, AtlasError, fit_transform, landmark_points, read_landmarks


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


def landmark_residuals(landmarks, tform) -> np.ndarray:
    """Per-landmark distance (px) between the transformed atlas point and its session point."""
    data = read_landmarks(landmarks)
    src_pts = landmark_points(data["landmarks_im"], "landmarks_im", "landmarks")
    dst_pts = landmark_points(data["landmarks_match"], "landmarks_match", "landmarks")
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
