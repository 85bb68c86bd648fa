"""Behaviour clips Y: per-trial uint8 (L, n_views, S, S) frames aligned to the neural frames.

Each neural frame takes the video frame that starts closest to it (nearest neighbour in time,
no blending, so frames stay sharp); with ``sessions.<s>.video_timestamps`` "closest" is measured
on the timestamps (:mod:`benediff.behavior.timing`), so drift and dropped frames are absorbed.
The video is decoded once, sequentially, and only the frames some trial needs are cropped and
resized; each trial is written as soon as its last frame is decoded, so memory is bounded by the
trials being filled (about one), not by the session.
"""

import logging
from collections import defaultdict

import numpy as np
from skimage.transform import resize

from benediff.behavior import timing
from benediff.behavior.labels import with_video_starts
from benediff.behavior.pose import check_frame_rate
from benediff.behavior.video import VideoError, iter_gray_frames, video_info
from benediff.io import dataset
from benediff.io.trials import read_trials

log = logging.getLogger(__name__)


def frame_indices(video_start: int, n_frames: int, fps: float, neural_rate: float) -> np.ndarray:
    """Video frame shown at each neural frame of a trial (nearest start time)."""
    return np.floor(video_start + np.arange(n_frames) * fps / neural_rate + 0.5).astype(int)


def crop_resize(frame: np.ndarray, views, size: int) -> np.ndarray:
    """(n_views, size, size) uint8: each view box ``{x, y, width, height}`` cut and resized."""
    out = np.empty((len(views), size, size), dtype=np.uint8)
    for v, box in enumerate(views):
        crop = frame[box["y"]:box["y"] + box["height"], box["x"]:box["x"] + box["width"]]
        out[v] = np.clip(np.rint(_resize(crop, size)), 0, 255).astype(np.uint8)
    return out


def _resize(crop: np.ndarray, size: int) -> np.ndarray:
    """Area average for whole-number shrink factors (fast, exact), else anti-aliased bilinear."""
    h, w = crop.shape
    if h % size == 0 and w % size == 0:
        return crop.reshape(size, h // size, size, w // size).mean(axis=(1, 3))
    return resize(crop, (size, size), order=1, anti_aliasing=True, preserve_range=True)


def check_views(views, width: int, height: int, video) -> None:
    for i, box in enumerate(views):
        inside = (box["x"] >= 0 and box["y"] >= 0 and box["width"] > 0 and box["height"] > 0
                  and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height)
        if not inside:
            raise VideoError(f"config key behavior.clips.views[{i}] = {box} does not fit inside "
                             f"the {width}×{height} frames of {video}; fix the view box")


def extract_clips(video, trials, views, size: int, neural_rate: float,
                  expected_fps=None, fps_tolerance: float = 0.01, video_times=None,
                  neural_times=None) -> list[np.ndarray]:
    """Per-trial uint8 clips (L, n_views, size, size) for the rows of the ``trials`` table.

    ``video_times`` (one time per video frame, s) and optionally ``neural_times`` (one per
    neural frame of the session, same clock) align by time instead of by the constant rate.
    """
    clips = [None] * len(trials)
    for t, clip in iter_clips(video, trials, views, size, neural_rate, expected_fps,
                              fps_tolerance, video_times, neural_times):
        clips[t] = clip
    return clips


def iter_clips(video, trials, views, size: int, neural_rate: float, expected_fps=None,
               fps_tolerance: float = 0.01, video_times=None, neural_times=None):
    """Yield ``(trial position, clip)`` as each trial's last frame is decoded (see
    :func:`extract_clips`): only trials still being filled are held in memory."""
    info = video_info(video)
    check_frame_rate(info.fps, expected_fps, fps_tolerance, video)
    check_views(views, info.width, info.height, video)
    if video_times is not None:
        timing.check_length(video_times, info.n_frames, video, "video frames",
                            key="sessions.<session>.video_timestamps")
        when = timing.trial_neural_times(trials, video_times, neural_rate, neural_times)
        indices = [timing.nearest_frames(video_times, w, row.trial_id, video)
                   for w, row in zip(when, trials.itertuples(index=False))]
    else:
        trials = with_video_starts(trials, info.fps, neural_rate)
        indices = [frame_indices(int(row.video_start_frame), int(row.n_frames), info.fps,
                                 neural_rate) for row in trials.itertuples(index=False)]
    wanted = defaultdict(list)  # video frame -> [(trial position, neural frame)]
    for t, (row, idx) in enumerate(zip(trials.itertuples(index=False), indices)):
        if idx.min() < 0 or idx.max() >= info.n_frames:
            raise VideoError(f"trial {row.trial_id}: needs video frames {idx.min()}..{idx.max()} "
                             f"but {video} has {info.n_frames}; check trials.csv and frame rates")
        for k, i in enumerate(idx):
            wanted[int(i)].append((t, k))
    n_frames = [int(r.n_frames) for r in trials.itertuples(index=False)]
    todo = list(n_frames)  # neural frames still to fill, per trial
    open_clips = {}  # trial position -> clip being filled
    last = max(wanted)
    for i, frame in iter_gray_frames(video):
        if i in wanted:
            small = crop_resize(frame, views, size)
            for t, k in wanted.pop(i):
                if t not in open_clips:
                    open_clips[t] = np.empty((n_frames[t], len(views), size, size), np.uint8)
                open_clips[t][k] = small
                todo[t] -= 1
                if todo[t] == 0:
                    yield t, open_clips.pop(t)
        if i >= last:
            break
    if wanted:
        raise VideoError(f"{video}: decoding stopped before frames {sorted(wanted)[:5]}...; "
                         "the video is truncated, re-encode it")


def build_clips(video, trials_csv, out, *, session: str, views, size: int, neural_rate: float,
                expected_fps=None, fps_tolerance: float = 0.01, video_timestamps=None,
                neural_timestamps=None, provenance=None) -> dataset.Dataset:
    """The clips stage end to end: write ``out`` (dataset with images/) and return it."""
    trials = read_trials(trials_csv)
    video_times = neural_times = None
    if video_timestamps:
        video_times = timing.read_timestamps(video_timestamps,
                                             f"sessions.{session}.video_timestamps")
        if neural_timestamps:
            neural_times = timing.read_timestamps(neural_timestamps,
                                                  f"sessions.{session}.neural_timestamps")
    ds = dataset.Dataset(session=session, frame_rate=neural_rate,
                         trial_ids=trials["trial_id"].to_numpy(),
                         provenance={**(provenance or {}), "views": list(views), "size": size})
    with dataset.stream_write(out, ds, groups=("images",)) as put:
        for t, clip in iter_clips(video, trials, views, size, neural_rate, expected_fps,
                                  fps_tolerance, video_times, neural_times):
            put("images", t, clip)
    log.info("clips %s: %d trials, %d views at %d px", out, ds.n_trials, len(views), size)
    return dataset.read(out, groups=("images",), lazy=True)
