"""NWB export of a tiny session: the real widefield chain (motion .. LocaNMF) on a planted movie,
stage files written through their owners, the file written with pynwb + ndx-pose, checked by
nwbinspector and read back with pynwb."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_widefield_pipeline import (N_T, N_TRIALS, TRIAL_LEN, atlas_in_own_frame, make_session,
                                     widefield_cfg)

from benediff import config as bconfig
from benediff.io import atlas as atl
from benediff.io import dataset as dataset_io
from benediff.io import nwb as nwb_io
from benediff.io.latents import write_latents
from benediff.io.metrics import write_metrics
from benediff.io.pose import make_pose_frame, write_pose
from benediff.widefield import pipeline as wp
from benediff.widefield.locanmf import LocaNMF

torch.set_num_threads(1)

PARTS = ["lever_tip", "paw_side", "jaw"]
LABELS = ["Levers", "Paw-x", "Jaw"]
FITS = [("ours", "VISp_L", 0), ("ours", "VISp_L", 1), ("vae", "VISp_L", 0)]


@pytest.fixture(scope="module")
def stage_files(tmp_path_factory):
    """Every input of rule nwb_export for a 5-trial session (trial 12 left out of the dataset)."""
    d = tmp_path_factory.mktemp("nwb")
    movie, _ = make_session(d)
    cfg = widefield_cfg()
    out = d / "results"
    wp.run_motion(movie, out / "motion.h5", cfg)
    wp.run_atlas(d / "atlas.npz", d / "landmarks.json", movie, out / "atlas.h5", cfg,
                 motion_h5=out / "motion.h5")
    wp.run_svd(movie, out / "motion.h5", out / "atlas.h5", d / "trials.csv", out / "svd.h5", cfg)
    wp.run_hemo(out / "svd.h5", out / "hemo.h5", cfg)
    with pytest.warns(UserWarning):
        wp.run_locanmf(out / "hemo.h5", out / "atlas.h5", out / "locanmf.h5", cfg)

    rng = np.random.default_rng(3)
    kept = [0, 1, 3, 4]  # trial positions in the dataset (trial id 12 is not)
    labels = [rng.normal(size=(TRIAL_LEN, len(LABELS))).astype(np.float32) for _ in kept]
    ds = dataset_io.Dataset(session="S", frame_rate=30.0, trial_ids=np.array([10, 11, 13, 14]),
                            labels=labels, label_names=LABELS,
                            split={"train": np.array([0, 1]), "val": np.array([2]),
                                   "test": np.array([3])})
    dataset_io.write(d / "dataset.h5", ds)
    pose = rng.uniform(0, 50, (N_T + 20, len(PARTS), 3))
    pose[..., 2] = rng.uniform(0, 1, pose.shape[:2])
    write_pose(make_pose_frame("DLC_test", PARTS, pose), d / "pose.h5")
    (d / "pose.json").write_text(json.dumps({"fps": 30.0, "video": "behavior.mp4"}))
    fits, latents = [], {}
    for model, region, seed in FITS:
        z = [rng.normal(size=(TRIAL_LEN, 4)).astype(np.float32) for _ in kept]
        fit_dir = d / "lvm" / model / str(seed)
        fit_dir.mkdir(parents=True)
        write_latents(fit_dir / "latents.h5", z, z, factor_names=[*LABELS, "u1"],
                      label_names=LABELS, session="S", region=region, split=ds.split,
                      normalisation="z-scored")
        write_metrics(fit_dir / "metrics.json", {"session": "S", "region": region, "model": model,
                                                 "run_seed": seed, "r2": 50.0 + seed,
                                                 "rmse": 10.0, "mig": 2.0 + seed})
        fits.append((model, region, seed, fit_dir / "latents.h5", fit_dir / "metrics.json"))
        latents[f"{model}_{region}_seed{seed}"] = np.concatenate(z)
    return {"dir": d, "out": out, "cfg": cfg, "fits": fits, "latents": latents, "labels": labels,
            "pose": pose, "kept": kept}


def centroid(image) -> np.ndarray:
    """(x, y) intensity centroid of an image."""
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    w = np.clip(image, 0, None)
    return np.array([(xx * w).sum(), (yy * w).sum()]) / w.sum()


def export(files, path, **over):
    d, out = files["dir"], files["out"]
    nwb_cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})["nwb"]
    kwargs = dict(session="S", dataset=d / "dataset.h5", trials=d / "trials.csv",
                  locanmf=out / "locanmf.h5", atlas_h5=out / "atlas.h5", atlas=d / "atlas.npz",
                  landmarks=d / "landmarks.json", pose=d / "pose.h5", pose_json=d / "pose.json",
                  fits=files["fits"], metadata=nwb_io.session_metadata(nwb_cfg, "S"),
                  frame_rate=30.0, atlas_transform=files["cfg"]["atlas"]["transform"],
                  grouping=files["cfg"]["grouping"])
    kwargs.update(over)
    nwb_io.export_session(path, **kwargs)
    return nwb_io.read_export(path)


@pytest.fixture(scope="module")
def exported(stage_files, tmp_path_factory):
    path = tmp_path_factory.mktemp("out") / "S.nwb"
    return path, export(stage_files, path)


def test_reads_back_the_same_arrays(stage_files, exported):
    _, back = exported
    model = LocaNMF.load(stage_files["out"] / "locanmf.h5")
    np.testing.assert_array_equal(back["temporal"], model.temporal_.astype(np.float32))
    np.testing.assert_allclose(back["neural_times"], np.arange(N_T) / 30.0, atol=1e-9)
    assert back["footprints"].shape == (len(model.spatial_), 32, 40)  # the atlas grid
    assert back["footprints"].max() > 0
    assert set(back["regions"]) >= {"VIS_L", "VIS_R", "MOs_L", "MOs_R"}
    np.testing.assert_array_equal(back["atlas_labels"], atlas_in_own_frame().labels)
    inside = back["footprints"].sum(0) > 0.05 * back["footprints"].sum(0).max()
    assert (back["atlas_labels"][inside] != 0).mean() > 0.9  # footprints land in the regions
    tform = atl.fit_transform(stage_files["dir"] / "landmarks.json",
                              None if stage_files["cfg"]["atlas"]["transform"] == "file"
                              else stage_files["cfg"]["atlas"]["transform"])
    for session_map, atlas_map in zip(np.nan_to_num(model.spatial_), back["footprints"]):
        # the atlas-frame centroid, carried by atlas->session, is the session-frame centroid
        np.testing.assert_allclose(tform(centroid(atlas_map)[None])[0], centroid(session_map),
                                   atol=0.3)

    trials = back["trials"]
    assert trials["trial_id"].tolist() == ["10", "11", "12", "13", "14"]
    assert trials["split"].tolist() == ["train", "train", "", "val", "test"]
    np.testing.assert_allclose(trials["start_time"], np.arange(N_TRIALS) * TRIAL_LEN / 30.0)
    np.testing.assert_allclose(trials["stop_time"], (np.arange(N_TRIALS) + 1) * TRIAL_LEN / 30.0)

    labels = np.concatenate(stage_files["labels"])
    for j, name in enumerate(LABELS):
        np.testing.assert_array_equal(back["labels"][name], labels[:, j])
    starts = np.array(stage_files["kept"]) * TRIAL_LEN
    expected = np.concatenate([(s + np.arange(TRIAL_LEN)) / 30.0 for s in starts])
    np.testing.assert_allclose(back["label_times"], expected, atol=1e-9)

    for i, part in enumerate(PARTS):
        np.testing.assert_allclose(back["pose"][part], stage_files["pose"][:, i],
                                   rtol=1e-6)  # float32 in the DLC file
    assert set(back["latents"]) == set(stage_files["latents"])
    for name, z in stage_files["latents"].items():
        np.testing.assert_array_equal(back["latents"][name], z)
    metrics = back["metrics"]
    assert metrics["model"].tolist() == ["ours", "ours", "vae"]
    assert metrics["mig"].tolist() == [2.0, 3.0, 2.0]


def test_nwbinspector_finds_no_critical_or_violation(exported):
    from nwbinspector import Importance, inspect_nwbfile

    path, _ = exported
    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    bad = [f"{m.importance.name}: {m.check_function_name}: {m.message}" for m in messages
           if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    assert not bad, "\n".join(bad)


def test_dropped_frames_put_timestamps_in_the_file(stage_files, tmp_path):
    """A recording whose camera dropped 10 frames after frame 200: the trials, components and
    labels take the real times, not k / rate."""
    times = np.arange(N_T) / 30.0
    times[200:] += 10 / 30.0
    np.save(tmp_path / "neural_times.npy", times)
    back = export(stage_files, tmp_path / "S.nwb", neural_timestamps=tmp_path / "neural_times.npy")
    np.testing.assert_allclose(back["neural_times"], times)
    np.testing.assert_allclose(back["trials"]["start_time"], times[np.arange(N_TRIALS) * TRIAL_LEN])
    assert back["trials"]["start_time"].iloc[3] == pytest.approx(250 / 30.0)
    starts = np.array(stage_files["kept"]) * TRIAL_LEN
    np.testing.assert_allclose(back["label_times"],
                               np.concatenate([times[s:s + TRIAL_LEN] for s in starts]))


def test_bad_metadata_and_mismatched_fits_name_the_fix(stage_files, tmp_path):
    nwb_cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})["nwb"]
    meta = nwb_io.session_metadata(nwb_cfg | {"session_start_time": "2017-12-05T10:00:00"}, "S")
    with pytest.raises(nwb_io.NwbExportError, match="no time zone"):
        export(stage_files, tmp_path / "a.nwb", metadata=meta)
    short = stage_files["dir"] / "short.h5"
    write_latents(short, [np.zeros((5, 2), np.float32)] * 4, [np.zeros((5, 2), np.float32)] * 4,
                  factor_names=["a", "b"], label_names=["a"], session="S", region="VISp_L",
                  split={}, normalisation="z")
    with pytest.raises(nwb_io.NwbExportError, match="rerun the fit"):
        export(stage_files, tmp_path / "b.nwb", fits=[("ours", "VISp_L", 0, short, None)])
    assert not (tmp_path / "a.nwb").exists() and not (tmp_path / "b.nwb").exists()


def test_session_metadata_overrides_per_session():
    cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}},
                            "nwb": {"age": "P90D", "sessions": {"S": {"sex": "F"}}}})["nwb"]
    meta = nwb_io.session_metadata(cfg, "S")
    assert meta["age"] == "P90D" and meta["sex"] == "F" and meta["species"] == "Mus musculus"
    assert nwb_io.session_metadata(cfg, "other")["sex"] == "U"


def test_pose_clock_puts_video_start_frame_on_the_neural_start():
    trials = pd.DataFrame({"trial_id": [1, 2], "start_frame": [0, 100],
                           "video_start_frame": [60, 260], "n_frames": [50, 50]})
    t = nwb_io.pose_clock(400, 60.0, trials, 30.0)  # video at 60 Hz starts 1 s earlier
    assert t[60] == pytest.approx(0.0) and t[260] == pytest.approx(100 / 30.0)


def test_trials_given_in_seconds_keep_their_times(stage_files, tmp_path):
    """A table in seconds (converted by rule session_trials, times kept) is exported with the
    user's start/stop times, not the frames' times."""
    table = pd.read_csv(stage_files["dir"] / "trials.csv")
    table["start_time"] = table["start_frame"] / 30.0 + 0.01
    table["stop_time"] = table["start_time"] + 2.5
    table.to_csv(tmp_path / "trials.csv", index=False)
    back = export(stage_files, tmp_path / "S.nwb", trials=tmp_path / "trials.csv")
    np.testing.assert_allclose(back["trials"]["start_time"], table["start_time"])
    np.testing.assert_allclose(back["trials"]["stop_time"], table["stop_time"])


def test_an_nwb_movie_brings_its_frame_times(stage_files, tmp_path):
    from test_trials import nwb_movie

    movie = nwb_movie(tmp_path / "wf.nwb", drop_at=60)  # 60 frames per channel, not N_T
    with pytest.raises(nwb_io.NwbExportError, match="60 timestamps for a recording of 400 frames"):
        export(stage_files, tmp_path / "S.nwb", nwb_movie=movie)


def test_the_default_target_exports_recorded_sessions_with_widefield_data():
    from pathlib import Path

    import yaml

    demo = yaml.safe_load((Path(__file__).parents[1] / "config" / "demo.yaml").read_text())
    config = bconfig.validate(demo)
    assert nwb_io.export_sessions(config) == ["S1", "S2"]
    fits = nwb_io.export_fits(config, "S1")
    assert ("ours", "VIS_R", 0) in fits and len(set(fits)) == len(fits)
    assert all(f.endswith("/latents.h5") for f in nwb_io.export_fit_files(config, "S1",
                                                                           "latents.h5"))
    assert nwb_io.export_sessions(bconfig.validate(demo | {"nwb": {"export": False}})) == []
    truth = demo | {"dataset": {"neural": "truth"}}
    assert nwb_io.export_sessions(bconfig.validate(truth)) == []


@pytest.mark.parametrize("nwb, needle", [
    ({"age": "90 days"}, "config key nwb.age = '90 days' is not an ISO 8601 age"),
    ({"sessions": {"S1": {"session_start_time": "2017-12-05 10:00"}}},
     "config key nwb.sessions.S1.session_start_time = '2017-12-05 10:00' has no time zone"),
    ({"session_start_time": "yesterday"}, "nwb.session_start_time = 'yesterday' is not an ISO"),
    ({"species": "mouse"}, "nwb.species = 'mouse' is neither a Latin binomial"),
])
def test_bad_nwb_metadata_is_a_problem_before_any_job(nwb, needle):
    from benediff.preflight import config_problems

    config = bconfig.validate({"sessions": {"S1": {"source": "simulate"}}, "nwb": nwb})
    problems, _ = config_problems(config)
    assert any(needle in p for p in problems), problems
    assert not config_problems(bconfig.validate({"sessions": {"S1": {"source": "simulate"}},
                                                 "nwb": nwb | {"export": False}}))[0]


def test_a_file_nwbinspector_would_flag_is_not_written(stage_files, tmp_path):
    nwb_cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})["nwb"]
    meta = nwb_io.session_metadata(nwb_cfg | {"age": "ninety days"}, "S")
    with pytest.raises(nwb_io.NwbExportError, match="nwbinspector finds 1 problem.*check_subject_age"):
        export(stage_files, tmp_path / "S.nwb", metadata=meta)
    assert not (tmp_path / "S.nwb").exists()
