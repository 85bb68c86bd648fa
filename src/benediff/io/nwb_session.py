"""What an NWB export holds, as plain arrays (:class:`NwbSession`), and its clocks: the neural
frames' times, the trials' stop times and the pose rows' times on the neural clock (see
:mod:`benediff.io.nwb` for the file's contents and times).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class NwbExportError(ValueError):
    """The NWB export got unusable input; the message names the file or key and the fix."""


@dataclass
class Fit:
    """One LVM fit of the session: per-trial latents (dataset trial order) and its metrics."""

    model: str
    region: str
    seed: int
    latents: list[np.ndarray]
    factor_names: list[str]
    metrics: dict = field(default_factory=dict)


@dataclass
class NwbSession:
    """Everything the NWB file holds, as plain arrays (no file of another stage is opened here).

    ``trials`` has trial_id, start_frame, n_frames (all trials of trials.csv);
    ``dataset_trials`` are the positions (rows of ``trials``) of the dataset's trials, whose
    per-trial ``labels`` and fit latents are written. ``neural_times`` (T,) gives the time of
    each neural frame; ``temporal`` is (components, T), ``footprints`` (components, H, W) in the
    atlas frame.
    """

    session: str
    metadata: dict
    frame_rate: float
    neural_times: np.ndarray
    trials: pd.DataFrame
    dataset_trials: np.ndarray
    split: dict[str, np.ndarray]
    temporal: np.ndarray
    footprints: np.ndarray
    component_regions: list[str]
    component_codes: np.ndarray
    component_names: list[str]
    label_names: list[str]
    labels: list[np.ndarray]
    pose: dict[str, np.ndarray]  # body part -> (n_rows, 3) x, y, likelihood
    pose_times: np.ndarray
    pose_scorer: str = "DLC"
    pose_video: str | None = None
    fits: list[Fit] = field(default_factory=list)
    atlas_labels: np.ndarray | None = None  # (H, W) signed atlas codes on the footprints' grid
    atlas_names: dict[int, str] = field(default_factory=dict)


def neural_clock(n_frames: int, frame_rate: float, neural_times=None, source="neural_timestamps"):
    """(n_frames,) seconds of each neural frame: the timestamps when given, else k / rate."""
    if neural_times is None:
        return np.arange(n_frames, dtype=np.float64) / float(frame_rate)
    times = np.asarray(neural_times, np.float64)
    if times.ndim != 1 or len(times) < n_frames:
        raise NwbExportError(f"{source}: {times.shape[0] if times.ndim else 0} timestamps for a "
                             f"recording of {n_frames} frames per channel; give one time per "
                             "neural frame")
    return times[:n_frames]


def frame_stop_times(times: np.ndarray, stop: np.ndarray, frame_rate: float) -> np.ndarray:
    """End time of frames ``stop - 1``: the next frame's time, or + 1/rate past the last frame."""
    stop = np.asarray(stop, np.int64)
    out = np.empty(len(stop))
    inside = stop < len(times)
    out[inside] = times[stop[inside]]
    out[~inside] = times[stop[~inside] - 1] + 1.0 / float(frame_rate)
    return out


def pose_clock(n_rows: int, fps: float, trials: pd.DataFrame, frame_rate: float,
               video_times=None, neural_times=None) -> np.ndarray:
    """(n_rows,) seconds of each pose row on the neural clock (see the module docstring)."""
    if video_times is not None:
        return np.asarray(video_times, np.float64)[:n_rows]
    times = np.arange(n_rows, dtype=np.float64) / float(fps)
    if "video_start_frame" not in trials.columns:
        return times
    start = trials["start_frame"].to_numpy(np.int64)
    neural = (neural_times[start] if neural_times is not None else start / float(frame_rate))
    offset = float(np.median(trials["video_start_frame"].to_numpy(np.float64) / fps - neural))
    return times - offset
