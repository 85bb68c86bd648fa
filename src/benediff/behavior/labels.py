"""Pose → behaviour labels U: mapping, gap interpolation, smoothing, alignment, trials, z-score.

A label is one coordinate of one body part, the distance between two body parts, or the angle
of the segment between two body parts (see :class:`LabelSource`).

Time convention: video frame ``i`` starts at ``i / fps``, neural frame ``k`` of a trial starts at
``video_start_frame / fps + k / neural_rate``. A neural frame's label is the mean of the video
frames that start inside its interval when video is at least as fast as neural; otherwise the
label is linearly interpolated at the neural frame's start. With camera timestamps the same rule
runs on the pose resampled to a regular grid in time (:mod:`benediff.behavior.timing`).
"""

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.behavior import timing
from benediff.io import dataset
from benediff.io.pose import PoseError, bodyparts, pose_array, read_pose
from benediff.io.split import read_split
from benediff.io.trials import read_trials

log = logging.getLogger(__name__)



class LabelError(ValueError):
    """Behaviour labels cannot be built; the message names the input and the fix."""


MAPPING_FORMS = ("{bodypart: <part>, coord: x|y}, {distance: [<part>, <part>]} or "
                 "{angle: [<from part>, <to part>]}, each with optional sign: 1|-1")


@dataclass(frozen=True)
class LabelSource:
    """One behaviour: ``kind`` coord (one coordinate of ``bodyparts[0]``), distance (px between
    the two body parts) or angle (degrees of the segment ``bodyparts[0]`` → ``bodyparts[1]``,
    counter-clockwise from image +x with image y pointing up, unwrapped over time)."""

    bodypart: str
    coord: str | None = None
    sign: float = 1.0
    kind: str = "coord"
    other: str | None = None

    @property
    def bodyparts(self) -> tuple[str, ...]:
        return (self.bodypart,) if self.kind == "coord" else (self.bodypart, self.other)


def parse_entry(name: str, entry) -> LabelSource:
    """One mapping entry → LabelSource; fail naming the key and the accepted forms."""
    key = f"behavior.labels.mapping.{name}"
    if not isinstance(entry, dict):
        raise LabelError(f"config key {key} = {entry!r} must be a mapping: {MAPPING_FORMS}")
    sign = entry.get("sign", 1)
    if sign not in (1, -1):
        raise LabelError(f"config key {key}.sign = {sign!r} must be 1 or -1")
    kinds = [k for k in ("distance", "angle") if k in entry]
    has_coord = "bodypart" in entry or "coord" in entry
    if len(kinds) + has_coord != 1:
        raise LabelError(f"config key {key} = {entry!r} must have exactly one of the forms "
                         f"{MAPPING_FORMS}")
    if has_coord:
        if "bodypart" not in entry or entry.get("coord") not in ("x", "y"):
            raise LabelError(f"config key {key} = {entry!r} needs both bodypart and coord "
                             "(x or y)")
        return LabelSource(str(entry["bodypart"]), entry["coord"], float(sign))
    kind = kinds[0]
    parts = entry[kind]
    if (not isinstance(parts, (list, tuple)) or len(parts) != 2
            or not all(isinstance(p, str) for p in parts) or parts[0] == parts[1]):
        raise LabelError(f"config key {key}.{kind} = {parts!r} must list two different body "
                         f"parts, e.g. {{{kind}: [pupil_top, pupil_bottom]}}")
    return LabelSource(parts[0], None, float(sign), kind, parts[1])


def parse_mapping(mapping: dict, behaviors) -> dict[str, LabelSource]:
    """Config mapping → ordered ``{behaviour: LabelSource}`` for the requested behaviours."""
    missing = [b for b in behaviors if b not in mapping]
    if missing:
        raise LabelError(f"config key behavior.labels.mapping has no entry for {missing}; "
                         f"mapped behaviours: {sorted(mapping)}")
    return {b: parse_entry(b, mapping[b]) for b in behaviors}


def check_bodyparts(sources: dict[str, LabelSource], available, source) -> None:
    """Fail naming the pose file, the behaviour, the body part and the available ones."""
    available = list(available)
    for name, src in sources.items():
        for part in src.bodyparts:
            if part not in available:
                raise PoseError(f"{source}: body part {part!r} (behaviour {name!r}, config key "
                                f"behavior.labels.mapping.{name}) is not in the pose file; "
                                f"available body parts: {available}; fix "
                                "behavior.labels.mapping")


def label_signal(pose: pd.DataFrame, src: LabelSource, pcutoff: float,
                 source="pose") -> tuple[np.ndarray, np.ndarray]:
    """Per-frame values of one label and the frames where every point it uses is confident."""
    points = [pose_array(pose, part, source) for part in src.bodyparts]
    if src.kind == "coord":
        values = points[0][:, "xy".index(src.coord)]
        return values, np.isfinite(values) & (points[0][:, 2] >= pcutoff)
    valid = np.ones(len(pose), dtype=bool)
    for xyl in points:
        valid &= np.isfinite(xyl[:, :2]).all(axis=1) & (xyl[:, 2] >= pcutoff)
    dx = points[1][:, 0] - points[0][:, 0]
    dy = points[1][:, 1] - points[0][:, 1]
    if src.kind == "distance":
        return np.hypot(dx, dy), valid
    values = np.full(len(pose), np.nan)
    values[valid] = np.unwrap(np.arctan2(-dy[valid], dx[valid]))  # image y points down
    return np.degrees(values), valid


def raw_labels(pose: pd.DataFrame, sources: dict[str, LabelSource], pcutoff: float,
               max_gap: int, source="pose") -> np.ndarray:
    """(n_frames, n_behaviours) labels; points below ``pcutoff`` are interpolated (short gaps)."""
    check_bodyparts(sources, bodyparts(pose), source)
    columns = []
    for name, src in sources.items():
        values, valid = label_signal(pose, src, pcutoff, source)
        if not valid.any():
            parts = " and ".join(repr(p) for p in src.bodyparts)
            noun = "body part" if len(src.bodyparts) == 1 else "body parts"
            raise LabelError(f"{source}: {noun} {parts} (behaviour {name!r}) has no "
                             f"frame with likelihood >= {pcutoff} (NaN or low confidence "
                             "throughout); map the behaviour to another body part")
        columns.append(src.sign * interpolate_gaps(values, valid, max_gap, f"{source}: {name}"))
    return np.stack(columns, axis=1)


def confident_nan_counts(pose: pd.DataFrame, sources: dict[str, LabelSource], pcutoff: float,
                         source="pose") -> dict[str, int]:
    """Frames per used body part whose x or y is NaN although the likelihood is >= ``pcutoff``
    (DLC writes NaN with a low likelihood; a high one means the file was edited or converted).
    Those frames are treated as missing, like low-confidence ones; this only counts them."""
    parts = dict.fromkeys(p for src in sources.values() for p in src.bodyparts)
    counts = {}
    for part in parts:
        xyl = pose_array(pose, part, source)
        n = int((~np.isfinite(xyl[:, :2]).all(axis=1) & (xyl[:, 2] >= pcutoff)).sum())
        if n:
            counts[part] = n
    return counts


def warn_confident_nan(counts: dict[str, int], n_frames: int, pcutoff: float, source) -> str | None:
    """One warning line (log and console) for :func:`confident_nan_counts`, or None."""
    if not counts:
        return None
    listed = ", ".join(f"{p} {n}" for p, n in counts.items())
    message = (f"{source}: {sum(counts.values())} body-part frames of {n_frames} have NaN x/y "
               f"with likelihood >= {pcutoff} ({listed}); they are treated as missing and "
               "interpolated over (behavior.labels.max_gap); check how the pose file was "
               "made if that is unexpected")
    log.warning(message)
    if sys.stderr is not sys.__stderr__:  # a job: stderr is the rule's log, show it too
        print(f"WARNING {message}", file=sys.__stderr__, flush=True)
    return message


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


def align_trial(values: np.ndarray, video_start: float, n_frames: int, fps: float,
                neural_rate: float, trial_id=None) -> np.ndarray:
    """Labels of one trial at the ``n_frames`` neural frames starting at video frame
    ``video_start`` (see the module docstring for the time convention)."""
    ratio = fps / neural_rate
    return align_starts(values, video_start + np.arange(n_frames) * ratio, ratio, trial_id)


def align_starts(values: np.ndarray, starts: np.ndarray, ratio: float, trial_id=None,
                 unit="video frames") -> np.ndarray:
    """Labels at neural frames starting at (fractional) video frame positions ``starts``, each
    ``ratio`` video frames long: bin mean if ``ratio >= 1``, else linear interpolation."""
    last_needed = starts[-1] + max(ratio, 1.0)
    if starts[0] < -1e-9 or last_needed > len(values) + 1e-9:
        raise LabelError(f"trial {trial_id}: needs {unit} {int(np.floor(starts[0] + 1e-9))}.."
                         f"{int(np.ceil(last_needed)) - 1} but the pose has {len(values)} frames; "
                         "check video_start_frame/n_frames in trials.csv and the frame rates "
                         "(or timestamps)")
    if ratio < 1:
        idx = np.arange(len(values))
        return np.stack([np.interp(starts, idx, col) for col in values.T], axis=1)
    lo = np.ceil(starts - 1e-9).astype(int)
    hi = np.ceil(starts + ratio - 1e-9).astype(int)
    csum = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


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


def segment_trials_by_time(values: np.ndarray, video_times: np.ndarray, trials: pd.DataFrame,
                           neural_rate: float, neural_times=None) -> list[np.ndarray]:
    """Per-trial aligned labels when every pose row has a timestamp (camera drift, dropped
    frames): resample to the camera's nominal rate in time, then bin as :func:`segment_trials`."""
    if len(video_times) != len(values):
        raise LabelError(f"{len(video_times)} video timestamps but {len(values)} pose rows; "
                         "give one time per behaviour video frame")
    regular, fps = timing.resample_regular(values, video_times)
    per_trial = timing.trial_neural_times(trials, video_times, neural_rate, neural_times)
    return [align_starts(regular, (when - video_times[0]) * fps, fps / neural_rate, trial_id,
                         unit=f"resampled frames (at {fps:.4g} Hz from the timestamps)")
            for when, trial_id in zip(per_trial, trials["trial_id"])]


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
                 smoothing: int = 0, zscore: bool = True, video_timestamps=None,
                 neural_timestamps=None, provenance=None) -> dataset.Dataset:
    """The labels stage end to end: write ``out`` (dataset with labels/) and return it.

    ``video_timestamps`` (file, one time per pose row) switches alignment from the constant
    ``fps`` of ``pose.json`` to time; ``neural_timestamps`` (file, one time per neural frame of
    the session, same clock) then gives the neural frame times.
    """
    meta = json.loads(Path(pose_json).read_text())
    pose = read_pose(pose_h5)
    if len(pose) != meta["n_frames"]:
        raise PoseError(f"{pose_h5}: {len(pose)} rows but {pose_json} says {meta['n_frames']}; "
                        "rerun the pose rule")
    sources = parse_mapping(mapping, behaviors)
    source = meta.get("source") or str(pose_h5)
    nan_counts = confident_nan_counts(pose, sources, meta["pcutoff"], str(pose_h5))
    warn_confident_nan(nan_counts, len(pose), meta["pcutoff"], source)
    values = smooth(raw_labels(pose, sources, meta["pcutoff"], max_gap, str(pose_h5)), smoothing)
    trials = read_trials(trials_csv)
    if neural_timestamps and not video_timestamps:
        raise LabelError("config key sessions.<session>.neural_timestamps needs "
                         "sessions.<session>.video_timestamps on the same clock")
    if video_timestamps:
        video_times = timing.read_timestamps(video_timestamps,
                                             f"sessions.{session}.video_timestamps")
        timing.check_length(video_times, len(values), video_timestamps,
                            key=f"sessions.{session}.video_timestamps")
        neural_times = (timing.read_timestamps(neural_timestamps,
                                               f"sessions.{session}.neural_timestamps")
                        if neural_timestamps else None)
        per_trial = segment_trials_by_time(values, video_times, trials, neural_rate, neural_times)
    else:
        per_trial = segment_trials(values, trials, meta["fps"], neural_rate)
    stats = {}
    if zscore:
        per_trial, stats = zscore_by_train(per_trial, read_split(split_json)["train"])
    ds = dataset.Dataset(
        session=session, frame_rate=neural_rate, trial_ids=trials["trial_id"].to_numpy(),
        labels=[x.astype(np.float32) for x in per_trial], label_names=list(sources),
        provenance={**(provenance or {}), "pose_scorer": meta["scorer"], "zscore": stats,
                    "nan_confident_frames": nan_counts,
                    "time_base": "timestamps" if video_timestamps else "frame_rate"},
    )
    dataset.write(out, ds)
    log.info("labels %s: %d trials × %s", out, ds.n_trials, list(sources))
    return ds
