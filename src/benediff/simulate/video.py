"""The behaviour video (PyAV, grayscale H.264 in mp4) and its DeepLabCut-format pose file."""

import numpy as np

from benediff.io.pose import make_pose_frame, write_pose
from benediff.io.video import write_gray_mp4
from benediff.simulate.render import KEYPOINTS, keypoints, render

SCORER = "DLC_simulated"
CHUNK = 512


def write_video(path, behavior, params, rng) -> None:
    """Render ``behavior`` (video timeline) chunk by chunk and encode it at ``params.video_fps``."""
    size = params.view_size
    frames = (img for start in range(0, len(behavior), CHUNK)
              for img in render(behavior[start:start + CHUNK], size, rng, params.video_noise))
    write_gray_mp4(path, frames, params.video_fps, width=2 * size, height=size, crf=17)


def pose_table(behavior, params, rng):
    """DLC table of the keypoints with tracking jitter and occasional low-likelihood jumps."""
    clean = keypoints(behavior, params.view_size)
    n, k, _ = clean.shape
    xy = clean + params.pose_jitter_px * rng.standard_normal(clean.shape)
    likelihood = rng.beta(30, 1.2, (n, k))  # mostly 0.9–1
    bad = rng.random((n, k)) < params.lowlik_fraction
    angle = rng.uniform(0, 2 * np.pi, (n, k))
    jump = rng.uniform(5, 15, (n, k)) * params.view_size / 64
    xy[..., 0] += np.where(bad, jump * np.cos(angle), 0)
    xy[..., 1] += np.where(bad, jump * np.sin(angle), 0)
    xy[..., 0] = np.clip(xy[..., 0], 0, 2 * params.view_size - 1)
    xy[..., 1] = np.clip(xy[..., 1], 0, params.view_size - 1)
    likelihood = np.where(bad, rng.uniform(0.02, 0.55, (n, k)), likelihood)
    values = np.concatenate([xy, likelihood[..., None]], axis=2)
    return make_pose_frame(SCORER, KEYPOINTS, values), clean


def write_pose_file(path, behavior, params, rng) -> np.ndarray:
    """Write the pose .h5; return the noise-free keypoints (n, 6, 2)."""
    df, clean = pose_table(behavior, params, rng)
    write_pose(df, path)
    return clean
