"""A session's results as one NWB file (``results/<session>/<session>.nwb``): the one writer and
reader of that file.

Contents (pynwb + ndx-pose; read back with :func:`read_export`)::

    trials                                  start_time, stop_time (s) + trial_id, start_frame,
                                            n_frames, split (train/val/test, "" = not in dataset)
    processing/ophys/ImageSegmentation/LocaNMF   PlaneSegmentation: one row per LocaNMF
                                            component, image_mask (atlas frame), region,
                                            atlas_code, atlas_name
    processing/ophys/atlas/labels           the atlas (signed codes) on the footprints' grid
    processing/ophys/DfOverF/LocaNMF        RoiResponseSeries (frames, components): the temporal
                                            components of the whole recording
    processing/behavior/PoseEstimation      ndx-pose: one PoseEstimationSeries per DLC body part
    processing/behavior/Skeletons           the body parts as skeleton nodes (no edges)
    processing/behavior/labels              BehavioralTimeSeries: one TimeSeries per behaviour
                                            label, the dataset's trials concatenated
    processing/benediff/<model>_<region>_seed<n>   TimeSeries (frames, factors) of each fit's
                                            per-region latents, on the labels' timestamps
    processing/benediff/metrics             DynamicTable: one row per fit (model, region, seed,
                                            r2, rmse, mig, ...)

Times are seconds on the session clock: neural frame ``k`` is at ``neural_times[k]`` when the
session has ``neural_timestamps``, else ``k / frame_rate``. Pose row ``i`` is at
``video_times[i]`` when the session has ``video_timestamps``, else ``i / fps - offset``, where
``offset`` puts each trial's ``video_start_frame`` on its ``start_frame`` (0 without that
column: video and neural recording start together).
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io.atomic import atomic_output
# the targets and metadata (plain config functions) live in io.nwb_targets; re-exported here
from benediff.io.nwb_targets import (  # noqa: F401
    export_fit_files,
    export_fits,
    export_sessions,
    session_metadata,
)

SCALAR_METRICS = ("r2", "rmse", "mig", "mig_floor", "mig_ceiling", "mig_calibrated",
                  "mig_relative", "mig_decoder", "mig_decoder_floor", "mig_decoder_calibrated")


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


# --- timing -------------------------------------------------------------------------------


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


def _regular(times: np.ndarray, tol=1e-6) -> tuple[bool, float]:
    if len(times) < 2:
        return True, 1.0
    dt = np.diff(times)
    step = float(np.median(dt))
    return bool(np.all(np.abs(dt - step) <= tol * max(step, 1e-12))), step


# --- writing -------------------------------------------------------------------------------


def write_nwb(path, s: NwbSession) -> None:
    """Write ``s`` atomically as an NWB 2 file (pynwb, ndx-pose)."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.file import Subject
    from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries
    from hdmf.common import DynamicTable, VectorData

    meta = s.metadata
    _check_session(s)
    start = datetime.fromisoformat(str(meta["session_start_time"]).replace("Z", "+00:00"))
    if start.tzinfo is None:
        raise NwbExportError(f"config key nwb.session_start_time = {meta['session_start_time']!r} "
                             "has no time zone; write it as ISO 8601 with an offset, e.g. "
                             "2017-12-05T10:00:00+01:00")
    nwb = NWBFile(
        session_description=meta["session_description"],
        identifier=f"benediff-{s.session}-{meta.get('identifier_suffix', '')}".rstrip("-"),
        session_start_time=start,
        session_id=s.session,
        experimenter=list(meta.get("experimenter") or []) or None,
        institution=meta.get("institution") or None,
        lab=meta.get("lab") or None,
        experiment_description=meta.get("experiment_description") or None,
        keywords=list(meta.get("keywords") or []) or None,
        subject=Subject(subject_id=meta.get("subject_id") or s.session,
                        species=meta["species"], sex=meta["sex"], age=meta["age"],
                        description=meta.get("subject_description") or None),
    )

    # trials
    times = s.neural_times
    trials = s.trials
    first = trials["start_frame"].to_numpy(np.int64)
    stop = first + trials["n_frames"].to_numpy(np.int64)
    starts, stops = times[first], frame_stop_times(times, stop, s.frame_rate)
    if all(c in trials.columns for c in ("start_time", "stop_time")):  # given in seconds
        starts = trials["start_time"].to_numpy(np.float64)
        stops = trials["stop_time"].to_numpy(np.float64)
    split = np.full(len(trials), "", dtype=object)
    for name, positions in s.split.items():
        split[s.dataset_trials[np.asarray(positions, np.int64)]] = name
    nwb.add_trial_column("trial_id", "trial id of trials.csv")
    nwb.add_trial_column("start_frame", "first neural frame (per channel) of the trial")
    nwb.add_trial_column("n_frames", "neural frames (per channel) of the trial")
    nwb.add_trial_column("split", "train, val or test split of benediff ('' = not in the dataset)")
    for i in range(len(trials)):
        nwb.add_trial(start_time=float(starts[i]), stop_time=float(stops[i]),
                      trial_id=str(trials["trial_id"].iloc[i]), start_frame=int(first[i]),
                      n_frames=int(stop[i] - first[i]), split=str(split[i]))

    # ophys: LocaNMF components, footprints in the atlas frame
    device = nwb.create_device(name="widefield_camera", description=meta["imaging_device"])
    channel = OpticalChannel(name="GCaMP", description="calcium-dependent fluorescence",
                             emission_lambda=float(meta["emission_lambda"]))
    plane = nwb.create_imaging_plane(
        name="dorsal_cortex", optical_channel=channel, device=device,
        description="widefield image of the dorsal cortex; footprints are stored in the atlas frame",
        excitation_lambda=float(meta["excitation_lambda"]), indicator=meta["indicator"],
        location=meta["location"], imaging_rate=float(s.frame_rate))
    ophys = nwb.create_processing_module("ophys", "LocaNMF decomposition of the haemodynamics-"
                                         "corrected dF/F movie (benediff widefield stage)")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="LocaNMF", imaging_plane=plane,
        description="LocaNMF spatial components warped into the atlas frame (atlas labels' grid)")
    rois.add_column("region", "consolidated analysis region of the component ('' = none)")
    rois.add_column("atlas_code", "signed atlas label code of the component's region")
    rois.add_column("atlas_name", "atlas name of the component's region")
    if s.atlas_labels is not None:
        from pynwb.base import Images
        from pynwb.image import GrayscaleImage

        names = json.dumps({int(k): v for k, v in sorted(s.atlas_names.items())})
        ophys.add(Images(name="atlas", description="the atlas on the footprints' grid",
                         images=[GrayscaleImage(
                             name="labels", data=np.asarray(s.atlas_labels, np.int32),
                             description="signed atlas codes (left hemisphere negative, 0 "
                             f"outside); code -> name: {names}")]))
    for k in range(len(s.footprints)):
        rois.add_roi(image_mask=s.footprints[k], region=s.component_regions[k],
                     atlas_code=int(s.component_codes[k]), atlas_name=s.component_names[k])
    region = rois.create_roi_table_region("all LocaNMF components", region=list(range(len(s.footprints))))
    timing = _timing(times)
    dff = DfOverF()
    ophys.add(dff)
    dff.add_roi_response_series(RoiResponseSeries(
        name="LocaNMF", data=H5DataIO(np.ascontiguousarray(s.temporal.T, np.float32),
                                      compression="gzip"),
        rois=region, unit="n.a.", description="LocaNMF temporal components (dF/F units)", **timing))

    # behaviour: pose and labels
    behavior = nwb.create_processing_module("behavior", "DeepLabCut pose and the behaviour labels "
                                            "benediff derives from it")
    parts = list(s.pose)
    skeleton = Skeleton(name="body_parts", nodes=parts, edges=np.zeros((0, 2), np.uint8))
    behavior.add(Skeletons(skeletons=[skeleton]))
    camera = nwb.create_device(name="behavior_camera", description="behaviour camera (two views "
                               "side by side)")
    pose_timing = _timing(s.pose_times)
    series = []
    for i, part in enumerate(parts):
        xyl = np.asarray(s.pose[part], np.float64)
        series.append(PoseEstimationSeries(
            name=part, description=f"DeepLabCut estimate of {part}",
            data=H5DataIO(np.ascontiguousarray(xyl[:, :2]), compression="gzip"), unit="pixels",
            reference_frame="(0, 0) is the top-left corner of the behaviour video frame",
            confidence=np.ascontiguousarray(xyl[:, 2]), confidence_definition="DeepLabCut likelihood",
            **(pose_timing if i == 0 else {"timestamps": series[0]} if "timestamps" in pose_timing
               else pose_timing)))
    behavior.add(PoseEstimation(
        name="PoseEstimation", pose_estimation_series=series,
        description="DeepLabCut pose" + (f" of {Path(s.pose_video).name}" if s.pose_video else ""),
        device=camera,
        scorer=s.pose_scorer, source_software="DeepLabCut", skeleton=skeleton))

    label_times = _trial_frame_times(times, s.trials, s.dataset_trials, s.labels, s.frame_rate)
    labels = np.concatenate(s.labels).astype(np.float32)
    bts = BehavioralTimeSeries(name="labels")
    behavior.add(bts)
    reference = None
    for j, name in enumerate(s.label_names):
        ts = TimeSeries(name=name, data=labels[:, j], unit="a.u.",
                        description=f"behaviour label {name} per neural frame (dataset trials)",
                        timestamps=reference if reference is not None else label_times)
        bts.add_timeseries(ts)
        reference = reference if reference is not None else ts

    # benediff: latents and metrics
    module = nwb.create_processing_module("benediff", "per-region latents of each benediff model "
                                          "fit (dataset trials) and their metrics")
    for fit in s.fits:
        data = np.concatenate(fit.latents).astype(np.float32)
        if len(data) != len(label_times):
            raise NwbExportError(f"fit {fit.model}/{fit.region}/seed{fit.seed}: {len(data)} latent "
                                 f"frames but the dataset has {len(label_times)}; rerun the fit")
        module.add(TimeSeries(name=f"{fit.model}_{fit.region}_seed{fit.seed}", data=data,
                              unit="a.u.", timestamps=reference if reference is not None
                              else label_times,
                              description="latent factors " + json.dumps(fit.factor_names),
                              comments=json.dumps({"model": fit.model, "region": fit.region,
                                                   "seed": fit.seed})))
    if s.fits:
        columns = [VectorData(name="model", description="model", data=[f.model for f in s.fits]),
                   VectorData(name="region", description="region", data=[f.region for f in s.fits]),
                   VectorData(name="seed", description="seed", data=[int(f.seed) for f in s.fits])]
        for key in SCALAR_METRICS:
            if all(key in f.metrics for f in s.fits):
                columns.append(VectorData(name=key, description=f"{key} (metrics.json)",
                                          data=[float(f.metrics[key]) for f in s.fits]))
        module.add(DynamicTable(name="metrics", description="metrics of each fit (R² in %, MIG "
                                "in %; docs/METHOD.md)", columns=columns))

    with atomic_output(path) as tmp:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
        bad = [m for m in inspect_file(tmp, label=path) if m[0] in BLOCKING]
        if bad:  # the file appears only when it would pass nwbinspector
            raise NwbExportError(f"{path}: nwbinspector finds {len(bad)} problem(s): "
                                 + "; ".join(f"{level} {check}: {text}" for level, check, text
                                             in bad)
                                 + "; fix the nwb config keys they name (config/README.md, nwb)")


BLOCKING = ("CRITICAL", "BEST_PRACTICE_VIOLATION")


def inspect_file(path, label=None) -> list[tuple[str, str, str]]:
    """nwbinspector's messages on ``path``: (importance, check, message), most important first;
    their counts go to the log."""
    import logging

    from nwbinspector import inspect_nwbfile

    found = sorted(((m.importance.name, m.check_function_name, m.message)
                    for m in inspect_nwbfile(nwbfile_path=str(path))),
                   key=lambda m: (m[0] not in BLOCKING, m[0] != "CRITICAL"))
    counts = {}
    for level, _, _ in found:
        counts[level] = counts.get(level, 0) + 1
    logging.getLogger(__name__).info("nwbinspector on %s: %s", label or path,
                                     ", ".join(f"{n} {k}" for k, n in counts.items()) or
                                     "no messages")
    return found


AGE = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")


def metadata_problems(nwb_cfg: dict, sessions) -> list[str]:
    """Values of the ``nwb`` keys NWB or nwbinspector would refuse (checked before any job)."""
    problems = []
    for session in sessions:
        meta = session_metadata(nwb_cfg, session)
        where = (lambda key: f"nwb.sessions.{session}.{key}"
                 if key in (nwb_cfg.get("sessions") or {}).get(session, {}) else f"nwb.{key}")
        start = str(meta["session_start_time"])
        try:
            when = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"config key {where('session_start_time')} = {start!r} is not an ISO "
                            "8601 date and time; write e.g. 2017-12-05T10:00:00+01:00")
        else:
            if when.tzinfo is None:
                problems.append(f"config key {where('session_start_time')} = {start!r} has no "
                                "time zone; add the offset, e.g. 2017-12-05T10:00:00+01:00")
        age = str(meta["age"])
        bounds = age.split("/") if "/" in age else [age]
        if len(bounds) > 2 or not all(AGE.fullmatch(b) for b in bounds if b) or not any(bounds):
            problems.append(f"config key {where('age')} = {age!r} is not an ISO 8601 age; write "
                            "e.g. P90D (90 days), P12W, or a range P60D/P120D (P90D/ = 90 days "
                            "or older)")
        if " " not in str(meta["species"]).strip() and not str(meta["species"]).startswith("http"):
            problems.append(f"config key {where('species')} = {meta['species']!r} is neither a "
                            "Latin binomial (Mus musculus) nor an NCBI taxonomy URL")
        for key in ("subject_id",):
            if "/" in str(meta.get(key) or ""):
                problems.append(f"config key {where(key)} = {meta[key]!r} contains '/'; NWB "
                                "names cannot")
    return problems


def _timing(times: np.ndarray) -> dict:
    regular, step = _regular(times)
    if regular and len(times) > 1:
        return {"starting_time": float(times[0]), "rate": 1.0 / step}
    return {"timestamps": np.asarray(times, np.float64)}


def _trial_frame_times(times, trials, positions, per_trial, frame_rate) -> np.ndarray:
    out = []
    for pos, x in zip(positions, per_trial):
        first = int(trials["start_frame"].iloc[pos])
        idx = first + np.arange(len(x))
        inside = idx < len(times)
        t = np.empty(len(x))
        t[inside] = times[idx[inside]]
        if (~inside).any():
            last = times[-1]
            t[~inside] = last + (idx[~inside] - (len(times) - 1)) / float(frame_rate)
        out.append(t)
    return np.concatenate(out) if out else np.zeros(0)


def _check_session(s: NwbSession) -> None:
    if len(s.labels) != len(s.dataset_trials):
        raise NwbExportError(f"session {s.session!r}: {len(s.labels)} label trials for "
                             f"{len(s.dataset_trials)} dataset trials")
    if s.temporal.shape[0] != len(s.footprints):
        raise NwbExportError(f"session {s.session!r}: {s.temporal.shape[0]} temporal but "
                             f"{len(s.footprints)} spatial LocaNMF components")


# --- reading back --------------------------------------------------------------------------


def read_export(path) -> dict:
    """The arrays of an exported file: trials (DataFrame), temporal (components, T),
    footprints, regions, labels {name: (N,)}, pose {part: (n, 3)}, latents {name: (N, d)},
    metrics (DataFrame), neural_times, label_times, pose_times."""
    import ndx_pose  # noqa: F401  (registers the extension's types)
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.exists():
        raise NwbExportError(f"{path}: no such NWB file")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        out = {"trials": nwb.trials.to_dataframe(), "session_id": nwb.session_id}
        ophys = nwb.processing["ophys"]
        rois = ophys["ImageSegmentation"]["LocaNMF"]
        series = ophys["DfOverF"]["LocaNMF"]
        out["temporal"] = series.data[()].T
        out["neural_times"] = series.get_timestamps()[()] if series.timestamps is not None \
            else series.starting_time + np.arange(series.data.shape[0]) / series.rate
        out["footprints"] = np.stack([np.asarray(m) for m in rois["image_mask"][:]])
        out["regions"] = list(rois["region"][:])
        out["atlas_labels"] = ophys["atlas"]["labels"].data[()] if "atlas" in \
            ophys.data_interfaces else None
        behavior = nwb.processing["behavior"]
        labels = behavior["labels"]
        out["labels"] = {name: ts.data[()] for name, ts in labels.time_series.items()}
        first = next(iter(labels.time_series.values()))
        out["label_times"] = first.timestamps[()]
        pose = behavior["PoseEstimation"]
        out["pose"] = {name: np.column_stack([p.data[()], p.confidence[()]])
                       for name, p in pose.pose_estimation_series.items()}
        one = next(iter(pose.pose_estimation_series.values()))
        out["pose_times"] = np.asarray(one.get_timestamps()[()]) if one.timestamps is not None \
            else one.starting_time + np.arange(one.data.shape[0]) / one.rate
        module = nwb.processing["benediff"] if "benediff" in nwb.processing else None
        out["latents"], out["metrics"] = {}, None
        if module is not None:
            for name, obj in module.data_interfaces.items():
                if name == "metrics":
                    out["metrics"] = obj.to_dataframe()
                else:
                    out["latents"][name] = obj.data[()]
    return out


# --- gathering a session's files -----------------------------------------------------------


def export_session(out, *, session, dataset, trials, locanmf, atlas_h5, atlas, landmarks, pose,
                   pose_json, fits, metadata, frame_rate, atlas_transform="file",
                   grouping=None, neural_timestamps=None, video_timestamps=None,
                   nwb_movie=None, nwb_series=None, channels=2) -> None:
    """Read a session's stage outputs through their owners and write ``out`` (rule nwb_export).

    ``fits`` is a list of (model, region, seed, latents.h5, metrics.json). The neural clock
    is ``neural_timestamps``, else the frame times of ``nwb_movie`` (an NWB widefield movie),
    else k / ``frame_rate``.
    """
    # later stages' readers, imported here: this is the last step of the pipeline
    from benediff.behavior.timing import read_timestamps
    from benediff.io import atlas as atl
    from benediff.io import dataset as dataset_io
    from benediff.io.latents import read_session_latents
    from benediff.io.metrics import read_metrics
    from benediff.io.pose import bodyparts, pose_array, read_pose, scorer
    from benediff.io.trials import read_trials
    from benediff.widefield.locanmf import LocaNMF
    from benediff.widefield.pipeline import component_regions, read_atlas_h5

    ds = dataset_io.read(dataset, groups=("labels",))
    table = read_trials(trials)
    model = LocaNMF.load(locanmf)
    n_frames = model.temporal_.shape[1]
    neural, source = None, str(neural_timestamps)
    if neural_timestamps:
        neural = read_timestamps(neural_timestamps, f"sessions.{session}.neural_timestamps")
    elif nwb_movie:  # an NWB movie brings its own frame times
        from benediff.widefield.readers import read_nwb_timing

        neural, source = read_nwb_timing(nwb_movie, nwb_series, channels)[0], str(nwb_movie)
    times = neural_clock(n_frames, frame_rate, neural, source)

    ids = table["trial_id"].astype(str).tolist()
    position = {tid: i for i, tid in enumerate(ids)}
    missing = [t for t in ds.trial_ids.astype(str) if t not in position]
    if missing:
        raise NwbExportError(f"{dataset}: trial id(s) {missing[:5]} are not in {trials}; rebuild "
                             "the dataset from this trial table")
    dataset_trials = np.array([position[t] for t in ds.trial_ids.astype(str)], np.int64)

    session_atlas = read_atlas_h5(atlas_h5)
    full = atl.load_atlas(atlas)
    kind = None if atlas_transform == "file" else atlas_transform
    tform = atl.fit_transform(landmarks, kind)  # as rule widefield_atlas fits it
    footprints = warp_to_atlas(model.spatial_, tform, full.shape)
    grouping_fn = atl.make_grouping(grouping or {})
    by_region = component_regions(model.regions_, session_atlas, grouping_fn)
    regions = [""] * len(model.regions_)
    for name, idx in by_region.items():
        for k in idx:
            regions[int(k)] = name
    names = [session_atlas.names.get(int(c), "") or "" for c in model.regions_]

    df = read_pose(pose)
    parts = bodyparts(df)
    pose_data = {p: pose_array(df, p, str(pose)) for p in parts}
    side = json.loads(Path(pose_json).read_text()) if pose_json else {}
    video = None
    if video_timestamps:
        video = read_timestamps(video_timestamps, f"sessions.{session}.video_timestamps")
    fps = float(side.get("fps") or frame_rate)
    pose_times = pose_clock(len(df), fps, table, frame_rate, video, times)

    out_fits = []
    for model_name, region, seed, latents_path, metrics_path in fits:
        z, factor_names = read_session_latents(latents_path, session)
        out_fits.append(Fit(model_name, region, int(seed), z, factor_names,
                            read_metrics(metrics_path) if metrics_path else {}))

    write_nwb(out, NwbSession(
        session=session, metadata=metadata, frame_rate=float(frame_rate), neural_times=times,
        trials=table, dataset_trials=dataset_trials, split=ds.split, temporal=model.temporal_,
        footprints=footprints, component_regions=regions, atlas_labels=full.labels,
        atlas_names=dict(full.names),
        component_codes=np.asarray(model.regions_, np.int64), component_names=names,
        label_names=list(ds.label_names), labels=list(ds.labels), pose=pose_data,
        pose_times=pose_times, pose_scorer=scorer(df), pose_video=side.get("video"),
        fits=out_fits))


def warp_to_atlas(spatial: np.ndarray, tform, shape) -> np.ndarray:
    """(components, H, W) session-frame footprints resampled onto the atlas grid ``shape``
    with the atlas->session transform (bilinear; 0 outside the recording and its mask)."""
    from skimage.transform import warp

    out = np.zeros((len(spatial), *shape), np.float32)
    for k, image in enumerate(spatial):
        image = np.nan_to_num(np.asarray(image, np.float64), nan=0.0)  # NaN outside the mask
        out[k] = warp(image, tform, output_shape=tuple(shape), order=1,
                      mode="constant", cval=0.0, preserve_range=True)
    return out
