"""The trial table (``trials.csv``): its one reader, shared by every stage.

One row per trial, in recording order, either in frames::

    trial_id, start_frame, n_frames[, video_start_frame]

or in seconds (the NWB convention)::

    [trial_id,] start_time, stop_time

``start_frame`` and ``n_frames`` count widefield frames per illumination channel;
``video_start_frame`` (optional) counts behaviour-video frames. Every frame value is a
non-negative integer, trials are in increasing order of ``start_frame`` and never overlap (a
frame in two trials could land in train and test at once).

A table in seconds is on the neural clock (:class:`Clock`): neural frame ``k`` is at
``neural_timestamps[k]`` when the session has them (the clock of ``video_timestamps``), else at
``k / widefield.frame_rate`` (seconds since the first neural frame). A trial holds the frames
whose time ``t`` has ``start_time <= t < stop_time`` (to a hundredth of a frame interval), so
with dropped frames (a gap in the timestamps) a trial spanning the gap has fewer frames and the
trials after it start at the right frame. ``trial_id`` defaults to the row number (0-based).
:func:`frames_from_times` converts; rule ``session_trials`` writes the converted table as
``results/<session>/trials.csv`` for the stages, and the checks before any job convert the same
way.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io.atomic import atomic_output

TRIAL_COLUMNS = ("trial_id", "start_frame", "n_frames")
OPTIONAL_COLUMNS = ("video_start_frame",)
FRAME_COLUMNS = ("start_frame", "n_frames", "video_start_frame")
TIME_COLUMNS = ("start_time", "stop_time")


class TrialTableError(ValueError):
    """The trial table is unusable; the message names the file, the row and the fix."""


@dataclass
class Clock:
    """Time of each neural frame: ``times`` (seconds per frame) when known, else ``k / rate``."""

    rate: float
    times: np.ndarray | None = None
    source: str = "widefield.frame_rate"

    def describe(self) -> str:
        if self.times is not None:
            return f"the neural timestamps ({self.source}, {len(self.times)} frames)"
        return f"{self.rate:g} Hz ({self.source}; frame k at k / rate)"


def is_time_table(table: pd.DataFrame) -> bool:
    """A table in seconds: start_time and stop_time, and no start_frame."""
    return all(c in table.columns for c in TIME_COLUMNS) and "start_frame" not in table.columns


def is_time_file(path) -> bool:
    """Whether the CSV at ``path`` gives trials in seconds (reads its header only)."""
    try:
        return is_time_table(pd.read_csv(path, nrows=0))
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False


def frames_from_times(table: pd.DataFrame, clock: Clock, path="trials.csv"
                      ) -> tuple[pd.DataFrame, list[str]]:
    """A table in seconds as frames (trial_id, start_frame, n_frames, start_time, stop_time) on
    ``clock``, and every problem found (row, value, fix)."""
    problems = []
    values = {}
    for column in TIME_COLUMNS:
        v = pd.to_numeric(table[column], errors="coerce")
        for i in np.flatnonzero(~np.isfinite(v.to_numpy(np.float64))):
            problems.append(f"{_row(i)}: {column} = {table[column].iloc[i]!r} is not a number of "
                            "seconds")
        values[column] = v.to_numpy(np.float64)
    if problems:
        return table, problems
    start, stop = values["start_time"], values["stop_time"]
    for i in np.flatnonzero(stop <= start):
        problems.append(f"{_row(i)}: stop_time {stop[i]:g} s is not after start_time "
                        f"{start[i]:g} s; each trial ends after it starts")
    if clock.times is not None:
        times = np.asarray(clock.times, np.float64)
        step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / clock.rate
        eps = 0.01 * step
        first = np.searchsorted(times, start - eps, side="left")
        last = np.searchsorted(times, stop - eps, side="left")
        for i in np.flatnonzero((start < times[0] - step) | (stop > times[-1] + step + eps)):
            problems.append(f"{_row(i)}: trial {start[i]:g}..{stop[i]:g} s lies outside "
                            f"{clock.describe()}, which run {times[0]:g}..{times[-1]:g} s; "
                            "give the times on the neural clock (config/README.md, trials)")
    else:
        eps = 0.01
        first = np.ceil(start * clock.rate - eps).astype(np.int64)
        last = np.ceil(stop * clock.rate - eps).astype(np.int64)
        for i in np.flatnonzero(start < -eps / clock.rate):
            problems.append(f"{_row(i)}: start_time {start[i]:g} s is before the first neural "
                            f"frame (0 s on {clock.describe()})")
    for i in np.flatnonzero((last - first < 1) & (stop > start)):
        problems.append(f"{_row(i)}: trial {start[i]:g}..{stop[i]:g} s holds no neural frame on "
                        f"{clock.describe()}")
    ids = table["trial_id"] if "trial_id" in table.columns else pd.Series(np.arange(len(table)))
    out = pd.DataFrame({"trial_id": ids.to_numpy(), "start_frame": np.asarray(first, np.int64),
                        "n_frames": np.asarray(last - first, np.int64),
                        "start_time": start, "stop_time": stop})
    return out, problems


def write_trials(path, table: pd.DataFrame) -> None:
    """Write a frame table (atomically) as ``trials.csv``."""
    with atomic_output(path) as tmp:
        table.to_csv(tmp, index=False)


def read_trials(path, n_frames_total: int | None = None, clock: Clock | None = None
                ) -> pd.DataFrame:
    """Read and check ``trials.csv``; raise :class:`TrialTableError` listing every problem.

    With ``n_frames_total`` (frames per channel of the recording), trials must also end within
    the recording. A table in seconds needs ``clock`` to become frames.
    """
    table = _read_csv(path)
    table, problems = _frames(table, path, clock)
    problems = problems or trial_problems(table, path, n_frames_total)
    if problems:
        raise TrialTableError("\n  ".join([f"{path}: unusable trial table", *problems]))
    for column in FRAME_COLUMNS:
        if column in table.columns:
            table[column] = table[column].astype(np.int64)
    return table


def check_trials(path, n_frames_total: int | None = None, clock: Clock | None = None
                 ) -> list[str]:
    """Every problem of the trial table at ``path`` (empty when it is usable)."""
    try:
        table = _read_csv(path)
    except TrialTableError as err:
        return [str(err)]
    table, problems = _frames(table, path, clock)
    problems = problems or trial_problems(table, path, n_frames_total)
    return [f"{path}: {p}" for p in problems]


def _frames(table: pd.DataFrame, path, clock: Clock | None) -> tuple[pd.DataFrame, list[str]]:
    if not is_time_table(table):
        return table, []
    if clock is None:
        return table, ["the trials are in seconds (start_time, stop_time) but no neural clock was "
                       "given to turn them into frames; the pipeline reads them through rule "
                       "session_trials (results/<session>/trials.csv)"]
    if table.empty:
        return table, ["no trials; add one row per trial"]
    return frames_from_times(table, clock, path)


def _read_csv(path) -> pd.DataFrame:
    path = Path(path)
    try:
        return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise TrialTableError(f"{path}: the trial table does not exist") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TrialTableError(f"{path}: not a readable CSV trial table ({exc}); it needs the "
                              f"columns {', '.join(TRIAL_COLUMNS)}") from exc


def _row(i: int) -> str:
    return f"row {i + 2}"  # the header is line 1 of the file


def trial_problems(table: pd.DataFrame, path, n_frames_total: int | None = None) -> list[str]:
    """What is wrong with a trial table: columns, integer frames, order, overlaps, length."""
    missing = [c for c in TRIAL_COLUMNS if c not in table.columns]
    if missing:
        return [f"column(s) {missing} missing; the trial table needs {list(TRIAL_COLUMNS)} "
                f"(and optionally {OPTIONAL_COLUMNS[0]}), or start_time and stop_time in "
                "seconds on the neural clock (config/README.md, sessions.<name>.trials)"]
    if table.empty:
        return ["no trials; add one row per trial"]
    problems = []
    for column in FRAME_COLUMNS:
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        for i in np.flatnonzero(values.isna().to_numpy()):
            problems.append(f"{_row(i)}: {column} = {table[column].iloc[i]!r} is not a number; "
                            "write a whole frame index")
        finite = values.notna().to_numpy()
        fractional = finite & (np.mod(values.fillna(0).to_numpy(), 1) != 0)
        for i in np.flatnonzero(fractional):
            problems.append(f"{_row(i)}: {column} = {values.iloc[i]} is not a whole frame; "
                            "frame indices are integers (round them where the trial starts)")
        low = 1 if column == "n_frames" else 0
        for i in np.flatnonzero(finite & (values.fillna(low).to_numpy() < low)):
            problems.append(f"{_row(i)}: {column} = {values.iloc[i]} must be >= {low}")
    duplicated = table["trial_id"].duplicated(keep=False).to_numpy()
    if duplicated.any():
        ids = sorted(set(table["trial_id"][duplicated].astype(str)))
        problems.append(f"trial_id value(s) {ids} appear more than once; each trial needs its "
                        "own id")
    if problems:
        return problems
    start = table["start_frame"].to_numpy(np.int64)
    stop = start + table["n_frames"].to_numpy(np.int64)
    for i in np.flatnonzero(np.diff(start) <= 0):
        problems.append(f"{_row(i + 1)}: start_frame {start[i + 1]} is not after the previous "
                        f"trial's {start[i]}; list trials in recording order")
    if not problems:
        for i in np.flatnonzero(stop[:-1] > start[1:]):
            problems.append(f"{_row(i + 1)}: trial {str(table['trial_id'].iloc[i + 1])!r} starts at "
                            f"frame {start[i + 1]}, inside trial {str(table['trial_id'].iloc[i])!r} "
                            f"(frames {start[i]}..{stop[i] - 1}); trials must not overlap, "
                            "shorten n_frames or fix start_frame")
    if n_frames_total is not None:
        for i in np.flatnonzero(stop > n_frames_total):
            problems.append(f"{_row(i)}: trial {str(table['trial_id'].iloc[i])!r} ends at frame "
                            f"{stop[i] - 1}, past the recording's {n_frames_total} frames per "
                            "channel; check start_frame/n_frames against the movie")
    return problems


SHORT_TRIAL = 0.5  # a trial under this share of the median trial length is reported


def short_trials(table: pd.DataFrame, path) -> str | None:
    """One warning naming the trials far shorter than the others (under half the median),
    with their counts, or None. Not an error: an aborted trial may be real, but it enters the
    split and the models as a whole trial."""
    n = table["n_frames"].to_numpy(np.int64)
    if len(n) < 3:
        return None
    median = float(np.median(n))
    short = np.flatnonzero(n < SHORT_TRIAL * median)
    if not len(short):
        return None
    listed = ", ".join(f"{str(table['trial_id'].iloc[i])!r} ({n[i]} frames, {_row(i)})"
                       for i in short[:5]) + (" ..." if len(short) > 5 else "")
    return (f"{path}: {len(short)} of {len(n)} trials are shorter than half the median trial "
            f"({median:g} frames): {listed}; each is kept as a whole trial (its labels and "
            "neural data are that short); drop the row if the trial was aborted")


def unequal_trials(table: pd.DataFrame, path) -> str | None:
    """A problem when trials differ in length (the sequential VAE stacks trials and needs one
    length), naming the lengths with their counts and the trials of the rarer ones; else None."""
    n = table["n_frames"].to_numpy(np.int64)
    lengths, counts = np.unique(n, return_counts=True)
    if len(lengths) < 2:
        return None
    common = lengths[np.argmax(counts)]
    odd = np.flatnonzero(n != common)
    summary = ", ".join(f"{c} × {length} frames" for length, c in
                        sorted(zip(lengths, counts), key=lambda lc: -lc[1]))
    listed = ", ".join(f"{str(table['trial_id'].iloc[i])!r} ({n[i]} frames, {_row(i)})"
                       for i in odd[:5]) + (" ..." if len(odd) > 5 else "")
    return (f"{path}: trials differ in length ({summary}); the lvm stage's sequential VAE needs "
            f"equal-length trials and would stop only after the widefield stage ran; odd "
            f"one(s): {listed}; give every trial n_frames = {common} (trim or drop the others)")


def write_session_trials(src, out, rate: float, neural_timestamps=None, nwb=None,
                         nwb_series=None, channels: int = 2, session="<session>") -> pd.DataFrame:
    """Rule ``session_trials``: the session's trials in frames as ``out``.

    From ``src`` (a table in seconds), else from the trials table of ``nwb`` (an NWB movie), on
    the clock of ``neural_timestamps`` if given, else of the NWB movie's imaging series (its
    timestamps), else ``rate``.
    """
    times, clock_name, nwb_table = None, "widefield.frame_rate", None
    if nwb is not None and (src is None or not neural_timestamps):  # else the file is not read
        from benediff.widefield.readers import read_nwb_timing  # the NWB movie's one reader

        times, nwb_table = read_nwb_timing(nwb, nwb_series, channels)
        clock_name = f"{nwb} imaging series"
    if src is None:
        if nwb_table is None:
            raise TrialTableError(f"{nwb}: the NWB file has no trials table; set "
                                  f"sessions.{session}.trials to a trial table")
        table, path = nwb_table, f"{nwb} (trials table)"
    else:
        table, path = _read_csv(src), src
    if neural_timestamps:
        from benediff.behavior.timing import read_timestamps  # the timestamps' one reader

        times = read_timestamps(neural_timestamps, f"sessions.{session}.neural_timestamps")
        clock_name = f"sessions.{session}.neural_timestamps"
    clock = Clock(rate, times, clock_name)
    if not is_time_table(table):
        missing = [c for c in TIME_COLUMNS if c not in table.columns]
        raise TrialTableError(f"{path}: not a table in seconds (column(s) {missing} missing)")
    frames, problems = frames_from_times(table, clock, path)
    problems = problems or trial_problems(frames, path, len(times) if times is not None else None)
    if problems:
        raise TrialTableError("\n  ".join([f"{path}: unusable trial table", *problems]))
    write_trials(out, frames)
    return frames
