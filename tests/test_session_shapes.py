"""Session shapes a lab really has (benediff.behavior.sessions): movie + pose without a
behaviour video runs to every LVM table and figure (no clips, no video stage); a movie-only
session runs the widefield stage and stops; a mixed config's video stage takes the session
with a video. Dry runs on tiny but consistent lab files (benediff.testing.lab)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benediff import config as bconfig
from benediff.behavior import sessions as shapes
from benediff.cli import validate_files
from benediff.testing.lab import write_lab_files

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
VIDEO_RULES = ("behavior_clips", "train_video_ae", "train_vdm", "generate", "specificity")


def atlas(path) -> str:
    from benediff.io.atlas import save_npz
    from benediff.simulate.atlas import procedural_atlas

    save_npz(path, procedural_atlas((64, 80)))
    return str(path)


def session(data, *drop, **extra) -> dict:
    """A lab session from files, without the keys in ``drop``."""
    files = write_lab_files(data)
    cfg = {"source": "files", **{k: v for k, v in files.items() if k not in drop}, **extra}
    return cfg


def write_config(tmp_path, sessions: dict, **top) -> Path:
    cfg = {"sessions": sessions, "widefield": {"atlas": {"path": atlas(tmp_path / "atlas.npz")}},
           **top}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def dry(tmp_path, config, *targets):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(tmp_path), f"--configfile={config}", *targets, "-n", "--quiet", "rules"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def planned(run) -> set[str]:
    """Rule names of a `-n --quiet rules` job table."""
    rules = set()
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            rules.add(parts[0])
    return rules


def test_shapes_are_decided_in_one_place(tmp_path):
    full = session(tmp_path / "a")
    no_video = session(tmp_path / "b", "behavior_video", video_frame_rate=30)
    movie = session(tmp_path / "c", "behavior_video", "pose")
    pose = session(tmp_path / "d", "behavior_video", "widefield", "landmarks",
                   video_frame_rate=30)
    config = bconfig.validate({"sessions": {"F": full, "N": no_video, "M": movie, "P": pose}},
                              ROOT / "workflow" / "schemas")
    assert shapes.dataset_sessions(config) == ["F", "N"]
    assert shapes.video_sessions(config) == ["F"]
    assert shapes.movie_only_sessions(config) == ["M"]
    assert shapes.widefield_sessions(config) == ["F", "N", "M"]
    assert shapes.pose_only_sessions(config) == ["P"]
    assert "images" in shapes.dataset_sources(config, "F")
    assert set(shapes.dataset_sources(config, "N")) == {"neural", "labels"}
    assert shapes.no_video_message(config) is None
    assert "session 'N' has no behaviour video" in shapes.no_video_message(config, "N")


def test_movie_and_pose_without_video_plans_every_table_but_no_video_stage(tmp_path):
    config = write_config(tmp_path, {"M1": session(tmp_path, "behavior_video",
                                                   video_frame_rate=30)})
    run = dry(tmp_path, config, "results/tables/table1.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned(run)
    assert {"assemble_dataset", "behavior_labels", "widefield_neural", "lvm_fit"} <= rules
    assert not any(r.startswith(VIDEO_RULES) for r in rules), rules
    run = dry(tmp_path, config)  # the default target: every table and figure, no video stage
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned(run)
    assert {"lvm_table", "behavior_fig1b", "widefield_qc", "lvm_fit"} <= rules, rules
    assert not any(r.startswith(VIDEO_RULES) for r in rules), rules
    out = run.stdout + run.stderr
    assert out.count("no session has a behaviour video: the video stage is left out") == 1
    assert validate_files([str(config)], directory=str(tmp_path)) == 0
    # a video file asked for by name: one error naming why
    run = dry(tmp_path, config, "results/figures/fig6.pdf")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "session 'M1' has no behaviour video (sessions.M1.behavior_video)" in out


def test_movie_only_session_runs_the_widefield_stage_and_stops(tmp_path):
    config = write_config(tmp_path, {"W1": session(tmp_path, "behavior_video", "pose")})
    run = dry(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned(run)
    assert {"widefield_qc", "widefield_neural"} <= rules, rules
    for rule in ("lvm_fit", "assemble_dataset", "behavior_labels", "behavior_pose",
                 "behavior_fig1b", *VIDEO_RULES):
        assert rule not in rules, rule
    assert "session 'W1' has a widefield movie but no pose" in run.stdout + run.stderr
    assert validate_files([str(config)], directory=str(tmp_path)) == 0


def test_mixed_config_runs_the_video_stage_on_the_session_with_a_video(tmp_path):
    sessions = {"N1": session(tmp_path / "n", "behavior_video", video_frame_rate=30),
                "F1": session(tmp_path / "f")}
    config = write_config(tmp_path, sessions)
    run = dry(tmp_path, config, "results/tables/specificity.csv", "results/N1/dataset.h5")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train_video_ae" in planned(run)
    # only F1's clips are cut; the video stage reads F1's dataset
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(tmp_path), f"--configfile={config}", "-n", "-p", "results/tables/specificity.csv",
           "results/N1/dataset.h5"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    assert "results/F1/behavior/clips.h5" in out and "results/N1/behavior/clips.h5" not in out
    assert "results/video/F1/ae/model.pt" in out and "results/video/N1/" not in out
    # video.session naming the session without a video: one error before any job
    cfg = yaml.safe_load(config.read_text())
    cfg["video"] = {"session": "N1"}
    config.write_text(yaml.safe_dump(cfg))
    run = dry(tmp_path, config)
    assert run.returncode != 0
    assert ("config key video.session = 'N1': session 'N1' has no behaviour video"
            in run.stdout + run.stderr)
    assert "Building DAG" not in run.stdout + run.stderr


@pytest.mark.e2e
def test_movie_and_pose_without_video_runs_to_table1(tmp_path):
    """The real thing on the tiny config: a simulated session's raw files (movie, landmarks,
    DLC pose, trials, atlas) given as a lab's `source: files` session with no behaviour video
    run to Table 1 (27 jobs, ~5 min on one core); its dataset holds neural + labels only."""
    import pandas as pd

    from benediff.io import dataset as dsio
    from benediff.simulate.params import raw_paths

    tiny = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    tiny["sessions"] = {"S1": tiny["sessions"]["S1"]}
    sim = tmp_path / "sim.yaml"
    sim.write_text(yaml.safe_dump(tiny))
    raw = raw_paths("S1", tiny)
    base = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
            str(tmp_path), "--cores", "1"]
    done = subprocess.run([*base, f"--configfile={sim}", raw["dat"]], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    tiny.pop("simulate")
    tiny["sessions"] = {"M1": {"source": "files", "widefield": raw["dat"],
                               "landmarks": raw["landmarks"], "pose": raw["pose"],
                               "trials": raw["trials"], "video_frame_rate": 30}}
    tiny["widefield"]["atlas"] = {"path": raw["atlas"]}
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump(tiny))
    done = subprocess.run([*base, f"--configfile={lab}", "results/tables/table1.csv"],
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ds = dsio.read(tmp_path / "results" / "M1" / "dataset.h5")
    assert ds.images is None and ds.n_trials == 10 and len(ds.label_names) == 6
    assert not (tmp_path / "results" / "M1" / "behavior" / "clips.h5").exists()
    table = pd.read_csv(tmp_path / "results" / "tables" / "table1.csv")
    assert {"ours", "pivae"} <= set(table["model"])
    assert table[table["metric"].isin(["r2", "rmse", "mig"])]["mean"].notna().all()
