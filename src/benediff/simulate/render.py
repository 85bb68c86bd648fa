"""A stylised head-fixed mouse in two square views (left: side, right: bottom) and its keypoints.

Geometry is in view units (0..1) scaled by the view size, so the same behaviour renders at any
resolution. Each behaviour variable moves one keypoint coordinate linearly:

    Levers -> lever_tip y (side view, rises: y decreases)   Spouts -> spout_tip x (side, moves left)
    Paw-x  -> paw_side x (side view)                          Paw-y  -> paw_side y (side, up = smaller y)
    Jaw    -> jaw y (side view, opens downwards)              Chest  -> chest y (side, expands down)

paw_bottom (bottom view) follows Paw-x along its y axis. Keypoints are in full-video pixels (the
bottom view is offset by one view width).
"""

import numpy as np

KEYPOINTS = ("lever_tip", "spout_tip", "paw_side", "paw_bottom", "jaw", "chest")
BACKGROUND = 40.0


def keypoints(behavior, size) -> np.ndarray:
    """(n, 6, 2) noise-free keypoint (x, y) positions in full-video pixels."""
    lev, spo, px, py, jaw, chest = (behavior[:, i] for i in range(6))
    n = len(behavior)
    one = np.ones(n)
    pts = np.stack([
        np.stack([0.7 * one, 0.95 - 0.3 * lev], 1),
        np.stack([0.97 - 0.17 * spo, 0.52 * one], 1),
        np.stack([0.52 + 0.22 * px, 0.84 - 0.22 * py], 1),
        np.stack([1.64 * one, 0.45 - 0.2 * px], 1),
        np.stack([0.78 * one, 0.53 + 0.15 * jaw], 1),
        np.stack([0.5 * one, 0.68 + 0.13 * chest], 1),
    ], axis=1)
    return pts * size


def render(behavior, size, rng=None, noise=0.0) -> np.ndarray:
    """(n, size, 2·size) uint8 frames; ``noise`` is the Gaussian pixel noise std (gray levels)."""
    side = _side_view(behavior, size)
    bottom = _bottom_view(behavior, size)
    frames = np.concatenate([side, bottom], axis=2)
    if noise > 0:
        frames *= 1 + 0.01 * rng.standard_normal((len(frames), 1, 1), dtype=np.float32)
        frames += noise * rng.standard_normal(frames.shape, dtype=np.float32)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def render_views(behavior, size) -> np.ndarray:
    """(n, 2, size, size) noise-free views stacked as channels (side, bottom)."""
    frames = render(behavior, size)
    return np.stack([frames[:, :, :size], frames[:, :, size:]], axis=1)


def _grid(size):
    c = ((np.arange(size) + 0.5) / size).astype(np.float32)
    return c[None, None, :], c[None, :, None]  # x (cols), y (rows), broadcast over frames


def _col(v):
    return np.asarray(v, dtype=np.float32).reshape(-1, 1, 1)


def _paint(img, alpha, value):
    img -= alpha * (img - value)


def _ellipse(x, y, cx, cy, rx, ry, size):
    """Anti-aliased coverage of an ellipse; (q² − 1)/2 approximates the edge distance."""
    rx, ry = _col(rx), _col(ry)
    q2 = ((x - _col(cx)) / rx) ** 2 + ((y - _col(cy)) / ry) ** 2
    scale = 0.5 * np.minimum(rx, ry) * size
    q2 -= 1
    q2 *= -scale
    q2 += 0.5
    return np.clip(q2, 0, 1, out=q2)


def _box(x, y, x0, x1, y0, y1, size):
    dx = np.maximum(_col(x0) - x, x - _col(x1))
    dy = np.maximum(_col(y0) - y, y - _col(y1))
    d = np.maximum(dx, dy)
    d *= -size
    d += 0.5
    return np.clip(d, 0, 1, out=d)


def _side_view(b, size):
    n = len(b)
    x, y = _grid(size)
    kp = keypoints(b, 1.0)
    img = np.full((n, size, size), BACKGROUND, np.float32)
    _paint(img, _box(x, y, 0.0, 1.0, 0.93, 1.0, size), 70)  # floor / platform
    _paint(img, _ellipse(x, y, 0.32, 0.55, 0.3, 0.17, size), 140)  # body
    _paint(img, _ellipse(x, y, 0.5, kp[:, 5, 1] - 0.12, 0.16, 0.12, size), 155)  # chest
    _paint(img, _ellipse(x, y, 0.78, kp[:, 4, 1] - 0.035, 0.07, 0.035, size), 185)  # lower jaw
    _paint(img, _ellipse(x, y, 0.7, 0.42, 0.13, 0.1, size), 170)  # head
    _paint(img, _ellipse(x, y, 0.74, 0.38, 0.02, 0.02, size), 20)  # eye
    _paint(img, _box(x, y, 0.68, 0.72, kp[:, 0, 1], 1.0, size), 250)  # lever
    _paint(img, _box(x, y, kp[:, 1, 0], 1.0, 0.5, 0.54, size), 230)  # spout
    _paint(img, _ellipse(x, y, kp[:, 2, 0], kp[:, 2, 1], 0.045, 0.045, size), 215)  # paw
    return img


def _bottom_view(b, size):
    n = len(b)
    x, y = _grid(size)
    kp = keypoints(b, 1.0)
    img = np.full((n, size, size), BACKGROUND, np.float32)
    _paint(img, _ellipse(x, y, 0.5, 0.65, 0.17 + 0.04 * b[:, 5], 0.3, size), 140)  # body
    _paint(img, _ellipse(x, y, 0.5, 0.24 + 0.02 * b[:, 4], 0.1, 0.13 + 0.03 * b[:, 4], size), 170)  # head
    _paint(img, _box(x, y, 0.48, 0.52, 0.0, 0.04 + 0.1 * b[:, 1], size), 230)  # spout
    _paint(img, _box(x, y, 1.0 - 0.3 * b[:, 0], 1.0, 0.1, 0.14, size), 250)  # lever
    _paint(img, _ellipse(x, y, 0.36, 0.45, 0.04, 0.04, size), 215)  # left paw (static)
    _paint(img, _ellipse(x, y, kp[:, 3, 0] - 1.0, kp[:, 3, 1], 0.04, 0.04, size), 215)  # right paw
    return img
