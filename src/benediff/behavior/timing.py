"""Time base of the behaviour stage: camera timestamps, neural frame times, time alignment.

Every pose row (= behaviour video frame) ``i`` has a time ``t_i`` in seconds: the entry ``i`` of
``sessions.<s>.video_timestamps`` when given, else ``i / fps`` (constant frame rate). Neural
frame ``k`` of a trial starts at

* ``neural_times[start_frame + k]`` when ``sessions.<s>.neural_timestamps`` is given (same clock
  as the video timestamps; ``video_start_frame`` is then not used),
* else ``t[video_start_frame] + k / neural_rate`` when trials.csv has ``video_start_frame``,
* else ``t_0 + (start_frame + k) / neural_rate`` (video and neural recording start together).

With timestamps, labels are computed on a regular grid at the camera's nominal rate (the median
frame interval): the pose is linearly interpolated in time onto that grid, which fills dropped
frames and absorbs drift, and the grid is then binned into neural frames exactly as a
constant-rate video is (see :mod:`benediff.behavior.labels`). Clip frames take the real video
frame whose timestamp is nearest to the neural frame's start.
"""

from pathlib import Path

import numpy as np
import pandas as pd

TIME_COLUMNS = ("time", "times", "timestamp", "timestamps", "t", "time_s", "seconds")


class TimingError(ValueError):
    """Timestamps are unreadable or do not fit the session; the message names file and fix."""


def read_timestamps(path, key="sessions.<session>.video_timestamps") -> np.ndarray:
    """Per-frame times in seconds from a ``.npy`` (1-D) or ``.csv``/``.txt`` file.

    A CSV holds one column (header optional) or a column named time/timestamp(s)/t/seconds.
    The times must be finite and strictly increasing.
    """
    path = Path(path)
    if not path.exists():
        raise TimingError(f"config key {key} points at {path}, which does not exist; "
                          "fix the path in your config")
    try:
        if path.suffix == ".npy":
            times = np.load(path, allow_pickle=False)
            times = np.asarray(times, dtype=np.float64)
            if times.ndim == 2 and 1 in times.shape:
                times = times.ravel()
        elif path.suffix in (".csv", ".txt", ".tsv"):
            times = _read_table(path, key)
        else:
            raise TimingError(f"{path} (config key {key}): unsupported timestamp file type "
                              f"{path.suffix!r}; give a .npy array or a .csv column of seconds")
    except TimingError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise TimingError(f"{path} (config key {key}): cannot read timestamps ({exc}); give a "
                          "1-D .npy array or a one-column .csv of times in seconds") from exc
    return check_timestamps(times, path, key)


def write_timestamps(path, times) -> None:
    """Write per-frame times in seconds as a 1-D ``.npy`` (atomically), the file
    :func:`read_timestamps` reads: the NWB inputs' frame times (rules ``nwb_pose`` and
    ``nwb_neural_times``)."""
    from benediff.io.atomic import atomic_output

    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(times, np.float64))


def _read_table(path, key) -> np.ndarray:
    sep = {".tsv": "\t", ".txt": r"[,\s]+"}.get(path.suffix, ",")
    raw = pd.read_csv(path, header=None, dtype=str, sep=sep, engine="python",
                      skipinitialspace=True)
    if raw.empty:
        raise TimingError(f"{path} (config key {key}): the timestamp file is empty")
    first = pd.to_numeric(raw.iloc[0], errors="coerce")
    header = [str(h).strip() for h in raw.iloc[0]] if first.isna().any() else None
    body = raw.iloc[1:] if header else raw
    if body.shape[1] == 1:
        column = 0
    else:
        names = [h.lower() for h in header or []]
        matches = [i for i, h in enumerate(names) if h in TIME_COLUMNS]
        if len(matches) != 1:
            raise TimingError(f"{path} (config key {key}): {body.shape[1]} columns "
                              f"{header or '(no header)'} and no single time column; keep one "
                              f"column or name the time column one of {list(TIME_COLUMNS)}")
        column = matches[0]
    values = pd.to_numeric(body.iloc[:, column].str.strip(), errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0]) + (2 if header else 1)
        raise TimingError(f"{path} (config key {key}): line {row} is not a number; the file "
                          "must hold one time in seconds per frame")
    return values.to_numpy(dtype=np.float64)


def check_timestamps(times, source="timestamps", key="sessions.<session>.video_timestamps"):
    """``times`` as a float64 1-D array; fail unless finite and strictly increasing."""
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or len(times) < 2:
        raise TimingError(f"{source} (config key {key}): expected a 1-D array of at least two "
                          f"frame times, got shape {times.shape}")
    if not np.isfinite(times).all():
        bad = int(np.flatnonzero(~np.isfinite(times))[0])
        raise TimingError(f"{source} (config key {key}): frame {bad} has time {times[bad]}; "
                          "every frame needs a finite time in seconds")
    steps = np.diff(times)
    if (steps <= 0).any():
        bad = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise TimingError(f"{source} (config key {key}): times must increase strictly, but "
                          f"frame {bad} (t = {times[bad]:g} s) is not after frame {bad - 1} "
                          f"(t = {times[bad - 1]:g} s); fix or re-export the timestamps")
    return times


def check_length(times, n_frames: int, source, what="pose rows",
                 key="sessions.<session>.video_timestamps") -> None:
    if len(times) != n_frames:
        raise TimingError(f"{source} (config key {key}): {len(times)} timestamps but {n_frames} "
                          f"{what}; give one time per behaviour video frame")


def nominal_rate(times) -> float:
    """Camera rate in Hz from the median frame interval (robust to dropped frames)."""
    return float(1.0 / np.median(np.diff(times)))


def resample_regular(values: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, float]:
    """``values`` (n, B) sampled at ``times`` → the same signal on the regular grid
    ``times[0] + j / fps`` (linear interpolation; dropped frames are filled), and ``fps``."""
    fps = nominal_rate(times)
    n = int(np.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    grid = times[0] + np.arange(n) / fps
    out = np.stack([np.interp(grid, times, col) for col in np.asarray(values).T], axis=1)
    return out, fps


def trial_neural_times(trials: pd.DataFrame, video_times: np.ndarray, neural_rate: float,
                       neural_times=None) -> list[np.ndarray]:
    """Start time (s) of every neural frame of every trial (module docstring convention)."""
    out = []
    for row in trials.itertuples(index=False):
        n = int(row.n_frames)
        if neural_times is not None:
            first, last = int(row.start_frame), int(row.start_frame) + n
            if first < 0 or last > len(neural_times):
                raise TimingError(f"trial {row.trial_id}: needs neural frames {first}..{last - 1} "
                                  f"but sessions.<session>.neural_timestamps has "
                                  f"{len(neural_times)} times; check start_frame/n_frames in "
                                  "trials.csv")
            out.append(np.asarray(neural_times[first:last], dtype=np.float64))
            continue
        if "video_start_frame" in trials.columns:
            start = int(row.video_start_frame)
            if not 0 <= start < len(video_times):
                raise TimingError(f"trial {row.trial_id}: video_start_frame {start} is outside "
                                  f"the {len(video_times)} video frames; check trials.csv")
            t0 = video_times[start]
        else:
            t0 = video_times[0] + int(row.start_frame) / neural_rate
        out.append(t0 + np.arange(n) / neural_rate)
    return out


def nearest_frames(video_times: np.ndarray, when: np.ndarray, trial_id=None,
                   source="video") -> np.ndarray:
    """Index of the video frame whose time is nearest to each of ``when`` (ties: later frame).

    Fails when a time lies more than one median frame interval outside the recording.
    """
    dt = 1.0 / nominal_rate(video_times)
    if when.min() < video_times[0] - dt or when.max() > video_times[-1] + dt:
        raise TimingError(f"trial {trial_id}: needs video at {when.min():.4f}..{when.max():.4f} s "
                          f"but {source} covers {video_times[0]:.4f}..{video_times[-1]:.4f} s; "
                          "check trials.csv and that the timestamps are in seconds")
    hi = np.clip(np.searchsorted(video_times, when, side="left"), 1, len(video_times) - 1)
    lo = hi - 1
    later = (video_times[hi] - when) <= (when - video_times[lo]) + 1e-9 * dt
    return np.where(later, hi, lo)
