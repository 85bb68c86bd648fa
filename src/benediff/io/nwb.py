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

One module per job, all importable from here: :mod:`benediff.io.nwb_session` (the arrays and
their clocks), :mod:`benediff.io.nwb_write` (the writer, gated by nwbinspector),
:mod:`benediff.io.nwb_read` (the read-back), :mod:`benediff.io.nwb_targets` (targets and
metadata, without pynwb); this module gathers a session's stage outputs (rule nwb_export).
"""

import json
from pathlib import Path

import numpy as np

from benediff.io.nwb_read import read_export  # noqa: F401
from benediff.io.nwb_session import (  # noqa: F401
    Fit,
    NwbExportError,
    NwbSession,
    frame_stop_times,
    neural_clock,
    pose_clock,
)
# the targets and metadata (plain config functions) live in io.nwb_targets; re-exported here
from benediff.io.nwb_targets import (  # noqa: F401
    export_fit_files,
    export_fits,
    export_sessions,
    metadata_problems,
    session_metadata,
)
from benediff.io.nwb_write import BLOCKING, SCALAR_METRICS, inspect_file, write_nwb  # noqa: F401


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
