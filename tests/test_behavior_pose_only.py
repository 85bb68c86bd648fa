"""A pose-only session (pose + trials, no widefield, no behaviour video) through Snakemake."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from benediff.io import dataset as dsio
from benediff.io.pose import make_pose_frame, write_pose

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
LABELS = "results/P1/behavior/labels.h5"
BODYPARTS = ["paw1LH_top", "paw2LF_top", "paw3RF_bot", "nose_top"]


def predictions(path, n_frames=2000, seed=0) -> Path:
    """DLC predictions of a mouse's paws: smooth random walks, confident, in DLC's CSV layout."""
    rng = np.random.default_rng(seed)
    xy = 100 + np.cumsum(rng.normal(0, 0.5, (n_frames, len(BODYPARTS), 2)), axis=0)
    xy[:, 1] += 20  # paw2 never sits on paw1: the distance and angle are defined everywhere
    values = np.concatenate([xy, np.full((n_frames, len(BODYPARTS), 1), 0.95)], axis=2)
    write_pose(make_pose_frame("DLC_resnet50_sim", BODYPARTS, values), path)
    return path


def pose_only_config(tmp_path, **session) -> Path:
    """A complete stand-alone config: one pose-only session on DLC predictions (2000 rows),
    labels from a distance, an angle and a single coordinate."""
    predictions(tmp_path / "pose.csv")
    trials = tmp_path / "trials.csv"
    rows = [f"{i},{i * 22},20" for i in range(10)]
    trials.write_text("trial_id,start_frame,n_frames\n" + "\n".join(rows) + "\n")
    entry = {"source": "files", "pose": str(tmp_path / "pose.csv"), "trials": str(trials),
             **session}
    config = {
        "seed": 0,
        "device": "cpu",
        "sessions": {"P1": {k: v for k, v in entry.items() if v is not None}},
        "regions": ["VIS_L", "VIS_R"],
        "behaviors": ["PawDist", "PawAngle", "Paw-x"],
        "behavior": {"labels": {"mapping": {
            "PawDist": {"distance": ["paw1LH_top", "paw2LF_top"]},
            "PawAngle": {"angle": ["paw1LH_top", "paw2LF_top"]},
            "Paw-x": {"bodypart": "paw3RF_bot", "coord": "x"},
        }}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(tmp_path, config, *args):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(tmp_path), "--configfile", str(config), "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_pose_only_session_plans_labels_without_video_or_widefield(tmp_path):
    dry = run(tmp_path, pose_only_config(tmp_path, video_frame_rate=250), "-n", LABELS)
    assert dry.returncode == 0, dry.stderr[-3000:]
    for rule in ("split_trials", "behavior_pose", "behavior_labels"):
        assert f"rule {rule}:" in dry.stdout, rule
    for rule in ("simulate_session", "widefield_", "behavior_clips", "dlc_infer"):
        assert rule not in dry.stdout, rule


def test_pose_only_session_without_rate_fails_at_parse_time(tmp_path):
    dry = run(tmp_path, pose_only_config(tmp_path), "-n", LABELS)
    assert dry.returncode != 0
    out = dry.stdout + dry.stderr
    assert "config key sessions.P1.video_frame_rate is required" in out
    assert "sessions.P1.video_timestamps" in out and "Building DAG" not in out


@pytest.mark.parametrize("problem, message", [
    ("neural timestamps alone", "sessions.P1.neural_timestamps needs sessions.P1.video_timestamps"),
    ("coordinate and distance", "config key behavior.labels.mapping.Paw-x = "),
])
def test_bad_behaviour_config_fails_at_parse_time(tmp_path, problem, message):
    config = pose_only_config(tmp_path, video_frame_rate=250)
    cfg = yaml.safe_load(config.read_text())
    if problem == "neural timestamps alone":
        np.save(tmp_path / "neural.npy", np.arange(300) / 30.0)
        cfg["sessions"]["P1"]["neural_timestamps"] = str(tmp_path / "neural.npy")
    else:
        cfg["behavior"]["labels"]["mapping"]["Paw-x"]["distance"] = ["paw1LH_top", "paw2LF_top"]
    config.write_text(yaml.safe_dump(cfg))
    dry = run(tmp_path, config, "-n", LABELS)
    assert dry.returncode != 0
    out = dry.stdout + dry.stderr
    assert message in out and "Building DAG" not in out


def test_unknown_bodypart_of_a_distance_fails_at_parse_time(tmp_path):
    config = pose_only_config(tmp_path, video_frame_rate=250)
    text = config.read_text().replace("- paw2LF_top", "- paw9_top", 1)
    config.write_text(text)
    dry = run(tmp_path, config, "-n", LABELS)
    assert dry.returncode != 0
    out = dry.stdout + dry.stderr
    assert str(tmp_path / "pose.csv") in out and "body part 'paw9_top'" in out
    assert "available body parts: ['paw1LH_top'" in out


@pytest.mark.e2e
def test_pose_only_session_with_dropped_frame_timestamps_runs(tmp_path):
    """Three small jobs: split, pose (no video, 249.9 Hz timestamps with a drop), labels."""
    stamps = tmp_path / "camera_times.csv"
    times = 3.0 + np.delete(np.arange(2001) / 249.9, 500)
    stamps.write_text("time\n" + "\n".join(f"{t:.6f}" for t in times) + "\n")
    config = pose_only_config(tmp_path, video_timestamps=str(stamps))
    done = run(tmp_path, config, LABELS)
    assert done.returncode == 0, done.stderr[-3000:]
    ds = dsio.read(tmp_path / LABELS)
    assert ds.label_names == ["PawDist", "PawAngle", "Paw-x"] and ds.n_trials == 10
    assert [x.shape for x in ds.labels] == [(20, 3)] * 10
    assert all(np.isfinite(x).all() for x in ds.labels)
    assert ds.provenance["time_base"] == "timestamps"
