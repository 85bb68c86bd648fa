"""Pose from an NWB file's ndx-pose PoseEstimation, and an NWB movie's frame times as the behaviour
stage's neural clock (benediff.io.nwb_pose, benediff.behavior.nwb_inputs, rules nwb_pose and
nwb_neural_times)."""

from datetime import datetime, timezone

import numpy as np
import pytest
import yaml

from benediff.behavior.labels import build_labels
from benediff.behavior.nwb_inputs import import_nwb_pose, write_neural_times
from benediff.behavior.pose import normalise_pose
from benediff.io import dataset
from benediff.io.nwb_pose import NwbPoseError, read_nwb_pose
from benediff.io.pose import make_pose_frame, read_pose, write_pose
from benediff.io.split import make_split, write_split
from benediff.io.trials import write_trials
from benediff.testing.lab import PARTS

from test_nwb_export import exported, stage_files  # noqa: F401  (its fixtures)

pynwb = pytest.importorskip("pynwb")
pytest.importorskip("ndx_pose")

RATE = 60.0  # behaviour camera
N_POSE = 330  # 5.5 s
STORED = 300  # movie frames, two channels interleaved: 150 per channel at 30 Hz
GAP_AT, GAP = 50, 0.4  # neural frames from 50 on are 0.4 s late (dropped frames)
TRIALS = ((0, 30), (45, 75), (100, 130))  # neural frames [start, stop) of each trial (30 each)


def pose_times() -> np.ndarray:
    """A camera started 50 ms before the movie, with jitter and one dropped frame."""
    rng = np.random.default_rng(1)
    times = np.arange(N_POSE + 1) / RATE - 0.05 + rng.uniform(-0.002, 0.002, N_POSE + 1)
    return np.delete(times, 200)


def neural_times() -> np.ndarray:
    times = np.arange(STORED // 2) / 30.0
    times[GAP_AT:] += GAP
    return times


def pose_values(times) -> np.ndarray:
    """(rows, parts, 3): smooth x/y in time (so alignment by time shows), likelihood 0.95."""
    values = np.empty((len(times), len(PARTS), 3), np.float32)
    for j in range(len(PARTS)):
        values[:, j, 0] = 100 + 20 * np.sin(2 * np.pi * (0.7 + 0.2 * j) * times)
        values[:, j, 1] = 80 + 15 * np.cos(2 * np.pi * (0.4 + 0.3 * j) * times)
    values[:, :, 2] = 0.95
    return values


def write_nwb(path, *, movie=True, pose=True, names=("PoseEstimation",), rate=None,
              confidence=True, parts=PARTS):
    """One lab NWB file: the widefield movie (OnePhotonSeries with timestamps, trials table) and
    the DLC pose as ndx-pose PoseEstimation(s) in processing/behavior."""
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb.ophys import OnePhotonSeries, OpticalChannel

    nwb = pynwb.NWBFile("lab session", "M1", datetime(2017, 12, 5, tzinfo=timezone.utc))
    if movie:
        device = nwb.create_device("widefield")
        plane = nwb.create_imaging_plane(
            name="plane", optical_channel=OpticalChannel(name="ch", description="blue/violet",
                                                         emission_lambda=525.0),
            description="dorsal cortex", device=device, excitation_lambda=470.0,
            imaging_rate=60.0, indicator="GCaMP6f", location="Isocortex")
        stamps = np.repeat(neural_times(), 2) + np.tile([0.0, 1 / 60], STORED // 2)
        nwb.add_acquisition(OnePhotonSeries(name="movie", imaging_plane=plane, unit="au",
                                            data=np.zeros((STORED, 4, 4), np.uint16),
                                            timestamps=stamps))
        t = neural_times()
        for start, stop in TRIALS:  # a trial holds the frames with start <= t < stop
            nwb.add_trial(start_time=t[start] - 1e-3, stop_time=t[stop] - 1e-3)
    if pose:
        behavior = nwb.create_processing_module("behavior", "pose")
        skeleton = Skeleton(name="mouse", nodes=list(parts), edges=np.zeros((0, 2), np.uint8))
        behavior.add(Skeletons(skeletons=[skeleton]))
        times = pose_times()
        values = pose_values(times)
        for name in names:
            series = []
            for j, part in enumerate(parts):
                timing = ({"rate": rate, "starting_time": 0.0} if rate else
                          {"timestamps": times if j == 0 else series[0]})
                series.append(PoseEstimationSeries(
                    name=part, data=values[:, j, :2], reference_frame="top left of the frame",
                    confidence=values[:, j, 2] if confidence else None, **timing))
            behavior.add(PoseEstimation(name=name, pose_estimation_series=series,
                                        scorer="DLC_resnet50", source_software="DeepLabCut",
                                        skeleton=skeleton))
    path.parent.mkdir(parents=True, exist_ok=True)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def write_dlc(path):
    """The same pose as a DeepLabCut .h5, and its times as a video_timestamps file."""
    times = pose_times()
    write_pose(make_pose_frame("DLC_resnet50", PARTS, pose_values(times)), path)
    np.save(path.with_name("pose_times.npy"), times)
    return path, path.with_name("pose_times.npy")


# --- the reader ---------------------------------------------------------------------------


def test_nwb_pose_is_the_same_pose_table_as_the_dlc_file(tmp_path):
    nwb = write_nwb(tmp_path / "s.nwb", movie=False)
    dlc, stamps = write_dlc(tmp_path / "pose.h5")
    pose = read_nwb_pose(nwb)
    expected = read_pose(dlc)
    assert pose.table.columns.equals(expected.columns)  # scorer, body parts, x/y/likelihood
    np.testing.assert_array_equal(pose.table.to_numpy(), expected.to_numpy())
    np.testing.assert_allclose(pose.times, np.load(stamps))
    assert pose.time_base == "timestamps" and pose.name == "PoseEstimation"

    # rule nwb_pose's files read back as a DLC file and a timestamps file
    out = import_nwb_pose(nwb, tmp_path / "out.h5", tmp_path / "out_times.npy")
    np.testing.assert_array_equal(read_pose(tmp_path / "out.h5").to_numpy(), expected.to_numpy())
    np.testing.assert_array_equal(np.load(tmp_path / "out_times.npy"), out.times)


def test_a_series_with_a_rate_and_no_confidence(tmp_path):
    nwb = write_nwb(tmp_path / "s.nwb", movie=False, rate=RATE, confidence=False)
    pose = read_nwb_pose(nwb)
    assert pose.time_base == "rate"
    np.testing.assert_allclose(pose.times, np.arange(len(pose_times())) / RATE)  # from 0
    likelihood = pose.table.xs("likelihood", level="coords", axis=1).to_numpy()
    assert (likelihood == 1).all()  # like hand labels: 1 where x and y are given


def test_unusable_nwb_pose_names_file_key_and_fix(tmp_path):
    bare = write_nwb(tmp_path / "bare.nwb", pose=False)
    with pytest.raises(NwbPoseError, match=r"bare.nwb \(config key sessions.M1.pose\): no "
                       r"ndx-pose PoseEstimation.*DeepLabCut .h5/.csv"):
        read_nwb_pose(bare, session="M1")
    two = write_nwb(tmp_path / "two.nwb", movie=False, names=("dlc", "sleap"))
    with pytest.raises(NwbPoseError, match=r"2 PoseEstimation in the file: \['dlc', 'sleap'\]; "
                       r"name the one to read in config key sessions.M1.nwb_pose"):
        read_nwb_pose(two, session="M1")
    with pytest.raises(NwbPoseError, match=r"no PoseEstimation named 'lp'; its PoseEstimation "
                       r"are \['dlc', 'sleap'\]; fix config key sessions.M1.nwb_pose"):
        read_nwb_pose(two, "lp", session="M1")
    assert read_nwb_pose(two, "sleap").name == "sleap"


# --- the labels: aligned by the NWB times --------------------------------------------------


def _labels(tmp_path, name, pose_file, video_times, neural):
    """The behaviour stage as its two jobs run it (pose, labels) on one session's files."""
    out = tmp_path / name
    out.mkdir()
    trials = out / "trials.csv"
    import pandas as pd

    write_trials(trials, pd.DataFrame({"trial_id": range(len(TRIALS)),
                                       "start_frame": [a for a, _ in TRIALS],
                                       "n_frames": [b - a for a, b in TRIALS]}))
    write_split(out / "split.json", make_split(len(TRIALS), [1, 1, 1], 0))
    normalise_pose(pose_file, None, out / "pose.h5", out / "pose.json", timestamps=video_times)
    mapping = {part: {"bodypart": part, "coord": "x"} for part in PARTS}
    build_labels(out / "pose.h5", out / "pose.json", trials, out / "split.json",
                 out / "labels.h5", session="M1", behaviors=PARTS, mapping=mapping,
                 neural_rate=30.0, max_gap=5, video_timestamps=video_times,
                 neural_timestamps=neural)
    return np.stack(dataset.read(out / "labels.h5", groups=("labels",)).labels)


def test_labels_from_nwb_are_those_of_the_same_files_given_as_dlc_and_timestamps(tmp_path):
    nwb = write_nwb(tmp_path / "s.nwb")
    import_nwb_pose(nwb, tmp_path / "nwb_pose.h5", tmp_path / "nwb_pose_times.npy")
    write_neural_times(nwb, tmp_path / "nwb_neural_times.npy", channels=2)
    np.testing.assert_allclose(np.load(tmp_path / "nwb_neural_times.npy"), neural_times())
    from_nwb = _labels(tmp_path, "nwb", tmp_path / "nwb_pose.h5",
                       tmp_path / "nwb_pose_times.npy", tmp_path / "nwb_neural_times.npy")

    dlc, stamps = write_dlc(tmp_path / "pose.h5")
    np.save(tmp_path / "neural.npy", neural_times())
    from_files = _labels(tmp_path, "files", dlc, stamps, tmp_path / "neural.npy")
    np.testing.assert_array_equal(from_nwb, from_files)

    np.save(tmp_path / "regular.npy", np.arange(STORED // 2) / 30.0)  # the gap ignored
    regular = _labels(tmp_path, "regular", dlc, stamps, tmp_path / "regular.npy")
    assert np.abs(regular - from_nwb).max() > 0.1  # trial 2 spans the gap: the times matter


# --- a lab session configured that way: dry run, real run, errors before any job -----------


def _config(tmp_path, **session):
    from test_cli import lab

    path = lab(tmp_path)
    config = yaml.safe_load(path.read_text())
    m1 = config["sessions"]["M1"]
    for key in ("widefield", "behavior_video", "pose", "trials"):
        m1.pop(key)
    m1.update(session)
    config["split"] = {"blocks": [1, 1, 1]}
    path.write_text(yaml.safe_dump(config))
    return path, config


def test_a_session_with_its_pose_and_movie_in_nwb_runs_its_behaviour_stage(tmp_path):
    """Dry run: the NWB pose and frame times come in through their rules; real runs to the
    labels: the same labels as the same pose, pose times and neural times given as files, and
    as a DLC pose + video timestamps with the NWB movie's frame times."""
    from test_bad_input import snakemake

    nwb = str(write_nwb(tmp_path / "data" / "session.nwb"))
    path, _ = _config(tmp_path / "a", widefield=nwb, pose=nwb)
    rc, out = snakemake(tmp_path / "a" / "run", path, "-n")
    assert rc == 0, out
    for rule in ("nwb_pose", "nwb_neural_times", "behavior_pose", "behavior_labels",
                 "session_trials", "widefield_locanmf", "lvm_fit"):
        assert f"rule {rule}:" in out, rule
    assert "rule behavior_clips:" not in out  # no behaviour video: no clips

    rc, out = snakemake(tmp_path / "a" / "run", path, "--cores", "1",
                        "results/M1/behavior/labels.h5")
    assert rc == 0, out
    from_nwb = dataset.read(tmp_path / "a" / "run" / "results/M1/behavior/labels.h5",
                            groups=("labels",))

    dlc, stamps = write_dlc(tmp_path / "data" / "pose.h5")
    np.save(tmp_path / "data" / "neural.npy", neural_times())
    path, _ = _config(tmp_path / "b", widefield=nwb, pose=str(dlc), video_timestamps=str(stamps),
                      neural_timestamps=str(tmp_path / "data" / "neural.npy"))
    rc, out = snakemake(tmp_path / "b" / "run", path, "--cores", "1",
                        "results/M1/behavior/labels.h5")
    assert rc == 0, out
    assert "rule nwb_neural_times:" not in out  # neural_timestamps take precedence
    from_files = dataset.read(tmp_path / "b" / "run" / "results/M1/behavior/labels.h5",
                              groups=("labels",))
    assert from_nwb.label_names == from_files.label_names
    np.testing.assert_array_equal(np.stack(from_nwb.labels), np.stack(from_files.labels))

    # a DLC pose with video timestamps: the NWB movie's frame times are the neural clock
    path, _ = _config(tmp_path / "c", widefield=nwb, pose=str(dlc), video_timestamps=str(stamps))
    rc, out = snakemake(tmp_path / "c" / "run", path, "--cores", "1",
                        "results/M1/behavior/labels.h5")
    assert rc == 0, out
    assert "rule nwb_neural_times:" in out and "rule nwb_pose:" not in out
    from_movie = dataset.read(tmp_path / "c" / "run" / "results/M1/behavior/labels.h5",
                              groups=("labels",))
    np.testing.assert_array_equal(np.stack(from_movie.labels), np.stack(from_files.labels))


@pytest.mark.parametrize("change, expected", [
    ({"nwb_pose": "lp"}, "no PoseEstimation named 'lp'; its PoseEstimation are "
                         "['PoseEstimation']; fix config key sessions.M1.nwb_pose"),
    ({"pose": "BARE"}, "(config key sessions.M1.pose): no ndx-pose PoseEstimation"),
    ({"video_timestamps": "STAMPS"}, "config key sessions.M1.video_timestamps is set but the "
                                     "pose comes from the NWB file"),
    ({"parts": PARTS[1:]}, "body part 'lever_tip' (behaviour 'Levers', config key "
                           "behavior.labels.mapping.Levers) is not in the pose file"),
    ({"nwb_pose": "PoseEstimation", "pose": "DLC", "video_frame_rate": 60},
     "config key sessions.M1.nwb_pose names a PoseEstimation but sessions.M1.pose"),
])
def test_bad_nwb_pose_stops_before_any_job(tmp_path, capsys, change, expected):
    from benediff.cli import main

    change = dict(change)
    nwb = write_nwb(tmp_path / "data" / "session.nwb", parts=change.pop("parts", PARTS))
    files = {"BARE": str(write_nwb(tmp_path / "data" / "bare.nwb", pose=False)),
             "STAMPS": str(write_dlc(tmp_path / "data" / "pose.h5")[1]),
             "DLC": str(tmp_path / "data" / "pose.h5")}
    session = {"widefield": str(nwb), "pose": str(nwb)}
    session.update({k: files.get(v, v) for k, v in change.items()})
    path, _ = _config(tmp_path, **session)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "invalid input (1 problem)" in err, err
    assert expected in err, err


def test_a_bad_nwb_pose_stops_the_dry_run(tmp_path):
    from test_bad_input import snakemake

    nwb = str(write_nwb(tmp_path / "data" / "session.nwb", names=("dlc", "sleap")))
    path, _ = _config(tmp_path, widefield=nwb, pose=nwb)
    rc, out = snakemake(tmp_path / "run", path, "-n")
    assert rc != 0
    assert "invalid input (1 problem)" in out, out[-3000:]
    assert ("2 PoseEstimation in the file: ['dlc', 'sleap']; name the one to read in config key "
            "sessions.M1.nwb_pose") in out
    assert "Traceback" not in out and "rule nwb_pose:" not in out


def test_benediffs_own_nwb_export_reads_back_as_the_pose_it_was_made_from(request):
    """An exported session file is an input too: its PoseEstimation is the DLC pose exported."""
    pose = read_nwb_pose(request.getfixturevalue("exported")[0])
    expected = read_pose(request.getfixturevalue("stage_files")["dir"] / "pose.h5")
    assert pose.table.columns.equals(expected.columns)
    np.testing.assert_allclose(pose.table.to_numpy(), expected.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.diff(pose.times), 1 / 30.0)  # pose.json: 30 fps
