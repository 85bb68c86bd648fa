"""Pose → behaviour labels U: mapping, gap interpolation, smoothing, alignment, trials, z-score.

Time convention: video frame ``i`` starts at ``i / fps``, neural frame ``k`` of a trial starts at
``video_start_frame / fps + k / neural_rate``. A neural frame's label is the mean of the video
frames that start inside its interval when video is at least as fast as neural; otherwise the
label is linearly interpolated at the neural frame's start.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io import dataset
from benediff.io.pose import PoseError, pose_array, read_pose
from benediff.io.split import read_split

log = logging.getLogger(__name__)

TRIAL_COLUMNS = ("trial_id", "start_frame", "n_frames")


class LabelError(ValueError):
    """Behaviour labels cannot be built; the message names the input and the fix."""


@dataclass(frozen=True)
class LabelSource:
    """One behaviour = one coordinate of one body part, optionally sign-flipped."""

    bodypart: str
    coord: str
    sign: float = 1.0


def parse_mapping(mapping: dict, behaviors) -> dict[str, LabelSource]:
    """Config mapping → ordered ``{behaviour: LabelSource}`` for the requested behaviours."""
    missing = [b for b in behaviors if b not in mapping]
    if missing:
        raise LabelError(f"config key behavior.labels.mapping has no entry for {missing}; "
                         f"mapped behaviours: {sorted(mapping)}")
    return {b: LabelSource(mapping[b]["bodypart"], mapping[b]["coord"],
                           float(mapping[b].get("sign", 1))) for b in behaviors}


def raw_labels(pose: pd.DataFrame, sources: dict[str, LabelSource], pcutoff: float,
               max_gap: int, source="pose") -> np.ndarray:
    """(n_frames, n_behaviours) labels; points below ``pcutoff`` are interpolated (short gaps)."""
    columns = []
    for name, src in sources.items():
        xyl = pose_array(pose, src.bodypart, source)
        values = xyl[:, "xy".index(src.coord)]
        valid = np.isfinite(values) & (xyl[:, 2] >= pcutoff)
        if not valid.any():
            raise LabelError(f"{source}: body part {src.bodypart!r} (behaviour {name!r}) has no "
                             f"frame with likelihood >= {pcutoff} (NaN or low confidence "
                             "throughout); map the behaviour to another body part")
        columns.append(src.sign * interpolate_gaps(values, valid, max_gap, f"{source}: {name}"))
    return np.stack(columns, axis=1)


def interpolate_gaps(values: np.ndarray, valid: np.ndarray, max_gap: int, source="") -> np.ndarray:
    """Linearly fill runs of invalid samples no longer than ``max_gap``; edges take the nearest
    valid value. A longer run raises: labels there would be invented, not measured."""
    values = np.asarray(values, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    longest, where = _longest_run(~valid)
    if longest > max_gap:
        raise LabelError(f"{source}: {longest} consecutive low-confidence frames starting at "
                         f"frame {where} exceed behavior.labels.max_gap = {max_gap}; raise "
                         "max_gap or lower behavior.pose.pcutoff")
    idx = np.arange(len(values))
    return np.interp(idx, idx[valid], values[valid])


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    best, best_start, start = 0, -1, None
    for i, flag in enumerate(np.append(mask, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best:
                best, best_start = i - start, start
            start = None
    return best, best_start


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` frames (odd; 0 or 1 = off), edges reflected."""
    if window <= 1:
        return values
    if window % 2 == 0:
        raise LabelError(f"config key behavior.labels.smoothing = {window} must be odd (or 0)")
    pad = window // 2
    padded = np.pad(values, [(pad, pad)] + [(0, 0)] * (values.ndim - 1), mode="reflect")
    kernel = np.ones(window) / window
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, padded)


def align_trial(values: np.ndarray, video_start: int, n_frames: int, fps: float,
                neural_rate: float, trial_id=None) -> np.ndarray:
    """Labels of one trial at the ``n_frames`` neural frames starting at video frame
    ``video_start`` (see the module docstring for the time convention)."""
    ratio = fps / neural_rate
    starts = video_start + np.arange(n_frames) * ratio
    last_needed = starts[-1] + max(ratio, 1.0)
    if video_start < 0 or last_needed > len(values) + 1e-9:
        raise LabelError(f"trial {trial_id}: needs video frames {video_start}.."
                         f"{int(np.ceil(last_needed)) - 1} but the pose has {len(values)} frames; "
                         "check video_start_frame/n_frames in trials.csv and the frame rates")
    if ratio < 1:
        idx = np.arange(len(values))
        return np.stack([np.interp(starts, idx, col) for col in values.T], axis=1)
    lo = np.ceil(starts - 1e-9).astype(int)
    hi = np.ceil(starts + ratio - 1e-9).astype(int)
    csum = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def read_trials(path) -> pd.DataFrame:
    """Trial table; ``video_start_frame`` is optional (see :func:`with_video_starts`)."""
    trials = pd.read_csv(path)
    missing = [c for c in TRIAL_COLUMNS if c not in trials.columns]
    if missing:
        raise LabelError(f"{path}: trial table lacks columns {missing}; it needs "
                         f"{list(TRIAL_COLUMNS)} (+ optional video_start_frame)")
    return trials


def with_video_starts(trials: pd.DataFrame, fps: float, neural_rate: float) -> pd.DataFrame:
    """Fill a missing ``video_start_frame`` assuming video and neural recording start together."""
    if "video_start_frame" in trials.columns:
        return trials
    starts = np.rint(trials["start_frame"].to_numpy() * fps / neural_rate).astype(np.int64)
    return trials.assign(video_start_frame=starts)


def segment_trials(values: np.ndarray, trials: pd.DataFrame, fps: float,
                   neural_rate: float) -> list[np.ndarray]:
    """Per-trial aligned labels, one (n_frames, B) array per row of ``trials``."""
    trials = with_video_starts(trials, fps, neural_rate)
    return [align_trial(values, int(row.video_start_frame), int(row.n_frames), fps,
                        neural_rate, row.trial_id)
            for row in trials.itertuples(index=False)]


def zscore_by_train(per_trial: list[np.ndarray], train) -> tuple[list[np.ndarray], dict]:
    """Z-score every trial with mean/std over the frames of the ``train`` trial positions only."""
    if len(train) == 0:
        raise LabelError("the split has no training trials; z-scoring needs them")
    frames = np.concatenate([per_trial[i] for i in train])
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant behaviour stays 0 instead of NaN
    return [(x - mean) / std for x in per_trial], {"mean": mean.tolist(), "std": std.tolist()}


def build_labels(pose_h5, pose_json, trials_csv, split_json, out, *, session: str,
                 behaviors, mapping: dict, neural_rate: float, max_gap: int,
                 smoothing: int = 0, zscore: bool = True, provenance=None) -> dataset.Dataset:
    """The labels stage end to end: write ``out`` (dataset with labels/) and return it."""
    meta = json.loads(Path(pose_json).read_text())
    pose = read_pose(pose_h5)
    if len(pose) != meta["n_frames"]:
        raise PoseError(f"{pose_h5}: {len(pose)} rows but {pose_json} says {meta['n_frames']}; "
                        "rerun the pose rule")
    sources = parse_mapping(mapping, behaviors)
    values = smooth(raw_labels(pose, sources, meta["pcutoff"], max_gap, str(pose_h5)), smoothing)
    trials = read_trials(trials_csv)
    per_trial = segment_trials(values, trials, meta["fps"], neural_rate)
    stats = {}
    if zscore:
        per_trial, stats = zscore_by_train(per_trial, read_split(split_json)["train"])
    ds = dataset.Dataset(
        session=session, frame_rate=neural_rate, trial_ids=trials["trial_id"].to_numpy(),
        labels=[x.astype(np.float32) for x in per_trial], label_names=list(sources),
        provenance={**(provenance or {}), "pose_scorer": meta["scorer"], "zscore": stats},
    )
    dataset.write(out, ds)
    log.info("labels %s: %d trials × %s", out, ds.n_trials, list(sources))
    return ds
