"""The writer of a session's NWB file (pynwb, ndx-pose): :func:`write_nwb` writes an
:class:`~benediff.io.nwb_session.NwbSession` atomically, and the file appears only when
nwbinspector finds no blocking problem (:func:`inspect_file`). Contents and times:
:mod:`benediff.io.nwb`.
"""

import json
from datetime import datetime
from pathlib import Path

import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.nwb_session import NwbExportError, NwbSession, frame_stop_times


SCALAR_METRICS = ("r2", "rmse", "mig", "mig_floor", "mig_ceiling", "mig_calibrated",
                  "mig_relative", "mig_decoder", "mig_decoder_floor", "mig_decoder_calibrated")


def _regular(times: np.ndarray, tol=1e-6) -> tuple[bool, float]:
    if len(times) < 2:
        return True, 1.0
    dt = np.diff(times)
    step = float(np.median(dt))
    return bool(np.all(np.abs(dt - step) <= tol * max(step, 1e-12))), step


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
    log = logging.getLogger("benediff.io.nwb")  # the export's logger, as before the split
    log.info("nwbinspector on %s: %s", label or path,
             ", ".join(f"{n} {k}" for k, n in counts.items()) or "no messages")
    return found
