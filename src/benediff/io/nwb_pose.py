"""Pose from an NWB file's ndx-pose ``PoseEstimation``: the one reader of that input.

A session whose ``sessions.<s>.pose`` ends in ``.nwb`` takes its pose from the ndx-pose
``PoseEstimation`` named ``sessions.<s>.nwb_pose`` (null: the file's only one, in any processing
module). It becomes the in-memory pose table of :mod:`benediff.io.pose` (DLC layout), so the
behaviour stage's labels read it unchanged:

* one body part per ``PoseEstimationSeries``, named as the series (in the order of the
  container's skeleton nodes, else by name);
* x, y = the series' first two data columns (a z column is dropped);
* likelihood = the series' ``confidence``; a series without one gets 1 where x and y are finite
  and 0 where they are NaN (as hand labels, :func:`benediff.io.pose.read_pose`);
* scorer = the container's ``scorer``, else its ``source_software``, else ``NWB``;
* one time in seconds per row: the series' ``timestamps``, else ``starting_time + i / rate``.
  Every series must have the same rows and times (one camera).

Rule ``nwb_pose`` (:func:`benediff.behavior.nwb_inputs.import_nwb_pose`) writes it as a DLC file
and its times as a timestamps file; :mod:`benediff.preflight` reads the header (body parts, row
times) before any job. pynwb and ndx-pose are imported inside the functions: parsing the
workflow needs neither.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io.pose import PoseError, make_pose_frame

POSE_TYPE = "PoseEstimation"


class NwbPoseError(PoseError):
    """An NWB pose input is unusable; the message names the file, the key and the fix."""


def is_nwb_pose(path) -> bool:
    """Whether a configured pose path is an NWB file (read here, not as a DLC file)."""
    return bool(path) and str(path).lower().endswith(".nwb")


@dataclass
class NwbPose:
    """The pose of one ``PoseEstimation``: the DLC-layout table, its row times and where the
    times come from (``timestamps`` or ``rate``)."""

    table: pd.DataFrame | None
    times: np.ndarray
    time_base: str
    name: str
    bodyparts: list[str]


def read_nwb_pose(path, name=None, session="<session>") -> NwbPose:
    """The pose of the ``PoseEstimation`` ``name`` of the NWB file ``path`` (module docstring)."""
    def table(container, series, where):
        values = np.stack([_xyl(s, where) for s in series], axis=1)
        scorer = str(getattr(container, "scorer", None)
                     or getattr(container, "source_software", None) or "NWB")
        return make_pose_frame(scorer, [s.name for s in series], values)

    return _read(path, name, session, table)


def nwb_pose_header(path, name=None, session="<session>") -> NwbPose:
    """Body parts and row times of an NWB pose without its values (``table`` is None): the
    checks made before any job."""
    return _read(path, name, session, lambda *args: None)


# --- pieces ---------------------------------------------------------------------------------


def _read(path, name, session, table) -> NwbPose:
    path = Path(path)
    io, nwb = _open(path, session)
    try:
        container = _find(nwb, path, name, session)
        series = _ordered(container)
        where = f"{path} ({POSE_TYPE} {container.name!r}, config key sessions.{session}.pose)"
        if not series:
            raise NwbPoseError(f"{where}: holds no PoseEstimationSeries; store one series per "
                               "body part")
        n_rows = {s.name: int(s.data.shape[0]) for s in series}
        if len(set(n_rows.values())) != 1:
            raise NwbPoseError(f"{where}: its series have different lengths {n_rows}; every body "
                               "part needs one row per behaviour video frame")
        times, time_base = _times(series, where)
        return NwbPose(table(container, series, where), times, time_base, container.name,
                       [s.name for s in series])
    finally:
        io.close()


def _open(path: Path, session):
    if not path.exists():
        raise NwbPoseError(f"config key sessions.{session}.pose points at {path}, which does not "
                           "exist; fix the path in your config")
    try:
        import ndx_pose  # noqa: F401  (registers the extension's types)
        from pynwb import NWBHDF5IO
    except ImportError as exc:
        raise NwbPoseError(f"{path}: reading pose from NWB needs pynwb and ndx-pose; "
                           "pip install pynwb ndx-pose") from exc
    io = NWBHDF5IO(str(path), "r")
    try:
        return io, io.read()
    except Exception as exc:
        io.close()
        raise NwbPoseError(f"{path} (config key sessions.{session}.pose): not a readable NWB "
                           f"file ({exc})") from exc


def _find(nwb, path, name, session):
    """The PoseEstimation named ``name`` in any processing module, or the only one."""
    found = {}
    for module in nwb.processing.values():
        for key, obj in module.data_interfaces.items():
            if type(obj).__name__ == POSE_TYPE:
                found[key] = obj
    names = sorted(found)
    key = f"sessions.{session}.nwb_pose"
    if name is not None:
        if name not in found:
            raise NwbPoseError(f"{path}: no {POSE_TYPE} named {name!r}; its {POSE_TYPE} are "
                               f"{names or 'none'}; fix config key {key}")
        return found[name]
    if not found:
        modules = {m: sorted(mod.data_interfaces) for m, mod in nwb.processing.items()}
        raise NwbPoseError(f"{path} (config key sessions.{session}.pose): no ndx-pose "
                           f"{POSE_TYPE} in its processing modules ({modules or 'none'}); store "
                           "the pose with ndx-pose, or point the key at a DeepLabCut .h5/.csv")
    if len(found) > 1:
        raise NwbPoseError(f"{path}: {len(names)} {POSE_TYPE} in the file: {names}; name the "
                           f"one to read in config key {key}")
    return found[names[0]]


def _ordered(container) -> list:
    """The container's series in its skeleton's node order (the order they were written in),
    else by name (HDF5 keeps no order)."""
    series = dict(container.pose_estimation_series)
    skeleton = getattr(container, "skeleton", None)
    nodes = [str(n) for n in skeleton.nodes[:]] if skeleton is not None else []
    first = [n for n in nodes if n in series]
    return [series[n] for n in first + sorted(set(series) - set(first))]


def _series_times(series) -> np.ndarray:
    if series.timestamps is not None:
        return np.asarray(series.get_timestamps()[()], np.float64)
    start = float(series.starting_time or 0.0)
    return start + np.arange(int(series.data.shape[0])) / float(series.rate)


def _times(series, where) -> tuple[np.ndarray, str]:
    times = _series_times(series[0])
    for s in series[1:]:
        other = _series_times(s)
        if not np.allclose(other, times, rtol=0, atol=1e-9):
            raise NwbPoseError(f"{where}: series {s.name!r} has other times than "
                               f"{series[0].name!r}; every body part must be on the one camera's "
                               "frame times")
    return times, "timestamps" if series[0].timestamps is not None else "rate"


def _xyl(series, where) -> np.ndarray:
    data = np.asarray(series.data[()], np.float64)
    if data.ndim != 2 or data.shape[1] < 2:
        raise NwbPoseError(f"{where}: series {series.name!r} has data of shape {data.shape}; "
                           "expected (frames, 2) x, y or (frames, 3) x, y, z")
    xy = data[:, :2] * float(series.conversion or 1.0) + float(getattr(series, "offset", 0) or 0)
    if series.confidence is not None:
        likelihood = np.asarray(series.confidence[()], np.float64)
        if likelihood.shape != (len(xy),):
            raise NwbPoseError(f"{where}: series {series.name!r} has {likelihood.shape} "
                               f"confidence values for {len(xy)} rows; give one per row")
    else:
        likelihood = np.isfinite(xy).all(axis=1).astype(np.float64)
    return np.column_stack([xy, likelihood])
