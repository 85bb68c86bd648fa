"""The starting guess of a session's landmarks: a similarity (atlas px -> session px) laying the
atlas onto the brain mask of the recording (centroid and area, then a local search maximising
their Dice overlap)."""

import numpy as np

from benediff.io.atlas import Atlas, AtlasError


def _similarity(centre_atlas, centre_session, scale, angle):
    from skimage.transform import SimilarityTransform

    c, s = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]])
    shift = np.asarray(centre_session) - linear @ np.asarray(centre_atlas)
    return SimilarityTransform(scale=scale, rotation=angle, translation=shift)


def guess_transform(atlas: Atlas, brain: np.ndarray, brain_found=True, n_points=3000,
                    seed=0):
    """Similarity (atlas px -> session px) laying the atlas onto the brain mask.

    Start: centroids matched, scale from the areas (from the frame size when no brain/surround
    boundary was found), no rotation. Then a coordinate search over centre, log-scale and
    rotation maximising the Dice overlap of the two masks, estimated on sampled pixels.
    """
    inside = np.argwhere(atlas.labels != 0)[:, ::-1].astype(np.float64)  # (x, y)
    if not len(inside):
        raise AtlasError("the atlas has no labelled pixel; cannot place it")
    brain = np.asarray(brain, bool)
    h, w = brain.shape
    pts_b = np.argwhere(brain)[:, ::-1].astype(np.float64)
    c_atlas = inside.mean(0)
    if brain_found and len(pts_b):
        c_brain = pts_b.mean(0)
        scale = np.sqrt(len(pts_b) / len(inside))
    else:
        span = inside.max(0) - inside.min(0) + 1
        c_brain = np.array([(w - 1) / 2, (h - 1) / 2])
        scale = 0.9 * min(w / span[0], h / span[1])
    if not (brain_found and len(pts_b)):
        return _similarity(c_atlas, c_brain, scale, 0.0)
    rng = np.random.default_rng(seed)
    pa = inside[rng.choice(len(inside), min(n_points, len(inside)), replace=False)]
    pb = pts_b[rng.choice(len(pts_b), min(n_points, len(pts_b)), replace=False)]
    labels = atlas.labels != 0

    def score(p):
        t = _similarity(c_atlas, p[:2], np.exp(p[2]), p[3])
        a = np.rint(t(pa)).astype(int)
        ok = (a[:, 0] >= 0) & (a[:, 0] < w) & (a[:, 1] >= 0) & (a[:, 1] < h)
        prec = np.mean(ok & brain[a[:, 1].clip(0, h - 1), a[:, 0].clip(0, w - 1)])
        b = np.rint(t.inverse(pb)).astype(int)
        H, W = labels.shape
        ok = (b[:, 0] >= 0) & (b[:, 0] < W) & (b[:, 1] >= 0) & (b[:, 1] < H)
        rec = np.mean(ok & labels[b[:, 1].clip(0, H - 1), b[:, 0].clip(0, W - 1)])
        return 2 * prec * rec / (prec + rec) if prec + rec else 0.0

    p = np.array([c_brain[0], c_brain[1], np.log(scale), 0.0])
    steps = np.array([0.05 * max(h, w), 0.05 * max(h, w), 0.05, np.deg2rad(4)])
    best = score(p)
    for _ in range(6):
        improved = True
        while improved:
            improved = False
            for i in range(4):
                for sign in (1, -1):
                    q = p.copy()
                    q[i] += sign * steps[i]
                    s = score(q)
                    if s > best + 1e-9:
                        p, best, improved = q, s, True
        steps /= 2
    return _similarity(c_atlas, p[:2], np.exp(p[2]), p[3])
