"""The trial table (``trials.csv``): its one reader, shared by every stage.

One row per trial, in recording order::

    trial_id, start_frame, n_frames[, video_start_frame]

``start_frame`` and ``n_frames`` count widefield frames per illumination channel;
``video_start_frame`` (optional) counts behaviour-video frames. Every frame value is a
non-negative integer, trials are in increasing order of ``start_frame`` and never overlap (a
frame in two trials could land in train and test at once).
"""

from pathlib import Path

import numpy as np
import pandas as pd

TRIAL_COLUMNS = ("trial_id", "start_frame", "n_frames")
OPTIONAL_COLUMNS = ("video_start_frame",)
FRAME_COLUMNS = ("start_frame", "n_frames", "video_start_frame")


class TrialTableError(ValueError):
    """The trial table is unusable; the message names the file, the row and the fix."""


def read_trials(path, n_frames_total: int | None = None) -> pd.DataFrame:
    """Read and check ``trials.csv``; raise :class:`TrialTableError` listing every problem.

    With ``n_frames_total`` (frames per channel of the recording), trials must also end within
    the recording.
    """
    table = _read_csv(path)
    problems = trial_problems(table, path, n_frames_total)
    if problems:
        raise TrialTableError("\n  ".join([f"{path}: unusable trial table", *problems]))
    for column in FRAME_COLUMNS:
        if column in table.columns:
            table[column] = table[column].astype(np.int64)
    return table


def check_trials(path, n_frames_total: int | None = None) -> list[str]:
    """Every problem of the trial table at ``path`` (empty when it is usable)."""
    try:
        table = _read_csv(path)
    except TrialTableError as err:
        return [str(err)]
    return [f"{path}: {p}" for p in trial_problems(table, path, n_frames_total)]


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
                f"(and optionally {OPTIONAL_COLUMNS[0]})"]
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
