"""One simulated session: every raw input under ``resources/sessions/{session}/``."""

import csv
import json
import logging
from pathlib import Path

import numpy as np
from skimage.transform import warp

from benediff.io.atomic import atomic_output
from benediff.simulate import atlas as sim_atlas
from benediff.simulate import behavior as sim_behavior
from benediff.simulate import movie, neural, truth, video
from benediff.simulate.params import SimParams, SimulationError, session_files

log = logging.getLogger(__name__)
STREAMS = ("transform", "footprints", "behavior", "neural", "baseline", "hemo", "jitter",
           "noise", "video", "pose")


def simulate_session(out_dir, params: SimParams) -> dict[str, Path]:
    """Simulate one session into ``out_dir``; return the written paths by role."""
    out_dir = Path(out_dir)
    _check(params)
    rng = random_streams(params.seed)
    log.info("simulating %s with seed %d", out_dir, params.seed)
    gt, reference = plant_truth(params, rng)
    paths = _paths(out_dir, params)
    log.info("%d trials, %d frames per channel, %d components", params.n_trials,
             len(gt["activities"]), len(gt["footprints"]))
    truth.write_truth(paths["truth"], gt, params)
    movie.write_movie(movie.movie_chunks(gt, rng["noise"], params.noise, params.psf_sigma_px),
                      params.movie_shape,
                      len(gt["activities"]), paths.get("dat"), paths.get("tiff"))
    log.info("movie written: %s", [str(paths[k]) for k in params.movie_formats])
    video.write_video(paths["video"], gt["behavior_video"], params, rng["video"])
    video.write_pose_file(paths["pose"], gt["behavior_video"], params, rng["pose"])
    log.info("behaviour video and pose written (%d frames)", len(gt["behavior_video"]))
    _write_landmarks(paths["landmarks"], reference, gt["transform"])
    _write_atlas(paths["atlas"], reference)
    _write_trials(paths["trials"], gt)
    return paths


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per part, so changing one part leaves the others' numbers alone."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def _check(params: SimParams):
    bad = [f for f in params.movie_formats if f not in ("dat", "tiff")]
    if bad or not params.movie_formats:
        raise SimulationError(f"config key simulate.movie_formats = {list(params.movie_formats)}; "
                              "allowed values: a non-empty subset of ['dat', 'tiff']")
    if params.gap_frames[0] > params.gap_frames[1]:
        raise SimulationError(f"config key simulate.overrides.gap_frames = {list(params.gap_frames)} "
                              "must be [min, max] with min <= max")
    if params.view_size % 2:
        raise SimulationError(f"config key simulate.overrides.view_size = {params.view_size} must be "
                              "even (H.264 needs even frame sizes)")


def _paths(out_dir, params):
    return {k: out_dir / v for k, v in session_files(params.movie_shape, params.movie_formats).items()}


def plant_truth(params: SimParams, rng) -> tuple[dict, object]:
    """All ground-truth arrays of a session (dict) and the atlas in its own frame."""
    shape = params.movie_shape
    reference = sim_atlas.session_atlas(params)
    tform = sim_atlas.random_similarity(rng["transform"], shape, params)
    labels = sim_atlas.warp_labels(reference.labels, tform, shape)
    groups = [g for g, n in params.footprints.items() if n > 0]
    counts = {f"{g}_{side}": params.footprints[g] for g in groups for side in "LR"}
    masks = sim_atlas.region_masks(labels, reference.names, groups)
    footprints, comp_names = neural.make_footprints(rng["footprints"], masks, counts)
    timeline = sim_behavior.make_timeline(rng["behavior"], params)
    beh = sim_behavior.simulate_behavior(rng["behavior"], params, timeline)
    latents = neural.simulate_latents(rng["neural"], params.n_latents, timeline.n_frames, params.frame_rate)
    regions = [(r, counts[r]) for r in masks]
    design = neural.component_design(rng["neural"], regions, params)
    activities = neural.simulate_activities(rng["neural"], beh, latents, design, params)
    blue, violet, hemo_map = movie.baselines(rng["baseline"], labels != 0,
                                             _midline_mm(reference, tform, shape), params)
    return {
        "footprints": footprints, "component_names": comp_names, "activities": activities,
        "behavior": beh, "behavior_video": sim_behavior.resample_to_video(beh, params, timeline),
        "latents": latents, "haemodynamics": movie.haemodynamics(rng["hemo"], timeline.n_frames, params),
        "hemo_map": hemo_map, "baseline_blue": blue, "baseline_violet": violet,
        "jitter": movie.jitter(rng["jitter"], timeline.n_frames, params, beh),
        "transform": tform.params, "session_labels": labels,
        "trial_id": np.arange(1, params.n_trials + 1), "start_frame": timeline.start_frame,
        "video_start_frame": timeline.video_start_frame,
        "n_frames": np.full(params.n_trials, params.frames_per_trial),
        "weights": design[0], "lags": design[1], "behavior_fractions": design[2],
        "latent_loadings": design[3],
    }, reference


def _midline_mm(reference, tform, shape):
    """Distance from the midline (mm, signed) at every session pixel."""
    _, res, bregma = sim_atlas.atlas_landmarks(reference)
    cols = np.arange(reference.shape[1], dtype=np.float64)
    x_mm = np.tile((cols - bregma[0]) * res, (reference.shape[0], 1))
    return warp(x_mm, tform.inverse, output_shape=shape, order=1, mode="edge")


def _write_landmarks(path, reference, tform_params):
    points, res, bregma = sim_atlas.atlas_landmarks(reference)
    names = list(points)
    im = np.array([points[n] for n in names])
    match = (np.c_[im, np.ones(len(im))] @ np.asarray(tform_params).T)[:, :2]
    data = {
        "landmarks": {"name": names, "x": [sim_atlas.LANDMARKS_MM[n][0] for n in names],
                      "y": [sim_atlas.LANDMARKS_MM[n][1] for n in names]},
        "landmarks_im": {"name": names, "x": im[:, 0].tolist(), "y": im[:, 1].tolist()},
        "landmarks_match": {"name": names, "x": match[:, 0].tolist(), "y": match[:, 1].tolist()},
        "transform_type": "similarity", "resolution": res, "bregma_offset": list(bregma),
    }
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1))


def _write_atlas(path, reference):
    codes = np.array(sorted(reference.names), np.int32)
    _, res, bregma = sim_atlas.atlas_landmarks(reference)
    with atomic_output(path) as tmp:
        np.savez(tmp, labels=reference.labels.astype(np.int32), codes=codes,
                 names=np.array([reference.names[c] for c in codes]),
                 resolution=np.float64(res), bregma=np.array(bregma))


def _write_trials(path, gt):
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["trial_id", "start_frame", "video_start_frame", "n_frames"])
        writer.writerows(zip(*(gt[k].tolist() for k in truth.TRIAL_KEYS)))
