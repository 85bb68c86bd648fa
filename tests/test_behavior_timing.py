"""Real behaviour shapes: pose-only sessions, camera timestamps, distance/angle labels."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benediff.behavior import timing
from benediff.behavior.labels import (
    LabelError, build_labels, parse_entry, parse_mapping, raw_labels, segment_trials,
    segment_trials_by_time,
)
from benediff.behavior.pose import normalise_pose
from benediff.io import dataset
from benediff.io.pose import PoseError, make_pose_frame, pose_array, read_bodyparts, read_pose
from benediff.io.split import write_split
from shared_data import SHARED_DATA

DATA = SHARED_DATA
PREDICTIONS = DATA / "pose" / "eks_mirror_mouse" / "180607_004.train_frames=75.rng=0.csv"
HAND_LABELS = DATA / "behavior" / "lightning_pose_mirror_mouse" / "CollectedData.csv"


def pose_of(points: dict, likelihood=1.0):
    """DLC frame from ``{bodypart: (n, 2) xy}``."""
    parts = list(points)
    n = len(next(iter(points.values())))
    values = np.zeros((n, len(parts), 3))
    for i, p in enumerate(parts):
        values[:, i, :2] = points[p]
    values[..., 2] = likelihood
    return make_pose_frame("s", parts, values)


# --- labels from several points ---


def test_distance_label_matches_hand_computation():
    top = np.array([[10.0, 20.0], [10.0, 18.0], [11.0, 20.0]])
    bottom = np.array([[13.0, 24.0], [10.0, 30.0], [11.0, 20.5]])
    sources = parse_mapping({"Pupil": {"distance": ["pupil_top", "pupil_bottom"]}}, ["Pupil"])
    out = raw_labels(pose_of({"pupil_top": top, "pupil_bottom": bottom}), sources, 0.6, 2)
    np.testing.assert_allclose(out[:, 0], [5.0, 12.0, 0.5])  # 3-4-5 triangle, vertical, tiny


def test_angle_label_hand_values_and_unwrapping():
    paw = np.zeros((5, 2))
    # spout relative to paw: right, up (image y down), left-up, left-down (crosses ±180°), down
    spout = np.array([[1.0, 0.0], [0.0, -1.0], [-1.0, -0.01], [-1.0, 0.01], [0.0, 1.0]])
    sources = parse_mapping({"Reach": {"angle": ["paw", "spout"], "sign": 1}}, ["Reach"])
    out = raw_labels(pose_of({"paw": paw, "spout": spout}), sources, 0.6, 2)[:, 0]
    expected = [0.0, 90.0, 180 - np.degrees(0.01), 180 + np.degrees(0.01), 270.0]
    np.testing.assert_allclose(out, expected, atol=1e-4)  # no jump of 360° at ±180°


def test_derived_label_interpolates_over_either_point_missing():
    a = np.zeros((4, 2))
    b = np.array([[3.0, 4.0], [99.0, 99.0], [6.0, 8.0], [6.0, 8.0]])
    lik = np.ones((4, 2))
    lik[1, 1] = 0.1  # b unsure in frame 1
    sources = parse_mapping({"D": {"distance": ["a", "b"]}}, ["D"])
    out = raw_labels(pose_of({"a": a, "b": b}, lik), sources, 0.6, 1)[:, 0]
    np.testing.assert_allclose(out, [5.0, 7.5, 10.0, 10.0])


def test_mapping_forms_are_checked():
    assert parse_entry("X", {"bodypart": "a", "coord": "x", "sign": -1}).kind == "coord"
    src = parse_entry("D", {"distance": ["a", "b"], "sign": 1})
    assert (src.kind, src.bodyparts) == ("distance", ("a", "b"))
    with pytest.raises(LabelError, match="behavior.labels.mapping.B .*exactly one of the forms"):
        parse_entry("B", {"bodypart": "a", "coord": "x", "distance": ["a", "b"]})
    with pytest.raises(LabelError, match=r"mapping.B.angle = \['a'\] must list two different"):
        parse_entry("B", {"angle": ["a"]})
    with pytest.raises(LabelError, match="needs both bodypart and coord"):
        parse_entry("B", {"bodypart": "a"})


def test_missing_bodypart_of_distance_names_file_part_and_available(tmp_path):
    sources = parse_mapping({"Pupil": {"distance": ["pupil_top", "pupil_bot"]}}, ["Pupil"])
    pose = pose_of({"pupil_top": np.zeros((3, 2)), "paw": np.zeros((3, 2))})
    with pytest.raises(PoseError, match=r"pose.h5: body part 'pupil_bot' \(behaviour 'Pupil'.*"
                                        r"available body parts: \['pupil_top', 'paw'\]"):
        raw_labels(pose, sources, 0.6, 2, "pose.h5")


def test_header_only_bodyparts_of_real_files(tmp_path):
    if not PREDICTIONS.exists():
        pytest.skip("shared/data is absent")
    assert read_bodyparts(PREDICTIONS) == list(dict.fromkeys(
        read_pose(PREDICTIONS).columns.get_level_values("bodyparts")))
    assert "nose_top" in read_bodyparts(HAND_LABELS)
    h5 = tmp_path / "videoDLC_x.h5"
    read_pose(PREDICTIONS).to_hdf(h5, key="df_with_missing", format="table")
    assert read_bodyparts(h5) == read_bodyparts(PREDICTIONS)


# --- timestamps ---


def test_read_timestamps_npy_and_csv(tmp_path):
    times = np.array([0.0, 0.0167, 0.0334, 0.0667])
    np.save(tmp_path / "t.npy", times)
    np.testing.assert_array_equal(timing.read_timestamps(tmp_path / "t.npy"), times)
    (tmp_path / "plain.csv").write_text("\n".join(map(str, times)) + "\n")
    np.testing.assert_allclose(timing.read_timestamps(tmp_path / "plain.csv"), times)
    pd.DataFrame({"frame": range(4), "timestamp": times}).to_csv(tmp_path / "named.csv",
                                                                 index=False)
    np.testing.assert_allclose(timing.read_timestamps(tmp_path / "named.csv"), times)
    pd.DataFrame({"a": times, "b": times}).to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(timing.TimingError, match="no single time column"):
        timing.read_timestamps(tmp_path / "two.csv")
    np.save(tmp_path / "bad.npy", np.array([0.0, 0.1, 0.1, 0.2]))
    with pytest.raises(timing.TimingError, match="frame 2 .* is not after frame 1"):
        timing.read_timestamps(tmp_path / "bad.npy", "sessions.P.video_timestamps")


def test_regular_timestamps_equal_constant_rate():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(400, 2))
    trials = pd.DataFrame({"trial_id": [1, 2], "start_frame": [0, 40],
                           "video_start_frame": [3, 121], "n_frames": [30, 45]})
    for fps in (60.0, 45.0, 30.0, 15.0):
        times = np.arange(400) / fps + 12.5  # a clock that does not start at 0
        by_rate = segment_trials(values, trials, fps, 30.0)
        by_time = segment_trials_by_time(values, times, trials, 30.0)
        for a, b in zip(by_rate, by_time):
            np.testing.assert_allclose(b, a, atol=1e-9)


def drifting_camera(duration=20.0, rate=59.95, drop=600):
    times = np.arange(int(duration * rate)) / rate
    return np.delete(times, drop), rate


def signal(t):
    return 40 * np.sin(2 * np.pi * 0.7 * t) + 5 * t  # px; |f'| <= 40·2π·0.7 + 5


def test_dropped_frame_aligned_within_half_a_frame():
    """A 59.95 Hz camera that drops frame 600 (t ≈ 10 s); 30 Hz neural frames. The label is a
    paw moving at 100 px/s; each aligned label must match the position at the centre of its
    neural frame within half a video frame of motion (50/59.95 px)."""
    times, rate = drifting_camera()
    values = 100.0 * times[:, None]
    trials = pd.DataFrame({"trial_id": [0, 1, 2], "start_frame": [0, 250, 400],
                           "n_frames": [150, 100, 140]})  # the drop lies inside trial 1
    half_frame = 0.5 * 100.0 / rate
    expected = [100.0 * (trials.start_frame[i] + np.arange(n) + 0.5) / 30.0
                for i, n in enumerate(trials.n_frames)]
    aligned = segment_trials_by_time(values, times, trials, 30.0)
    for got, want in zip(aligned, expected):
        assert np.abs(got[:, 0] - want).max() < half_frame
    # the constant-rate path (the exact nominal rate, no timestamps) slips a frame at the drop
    naive = segment_trials(values, trials, rate, 30.0)
    assert np.abs(naive[0][:, 0] - expected[0]).max() < half_frame  # before the drop: fine
    assert np.abs(naive[1][:, 0] - expected[1]).max() > 2 * half_frame
    # and a container that claims 60 Hz drifts by 0.05 frames per second on top
    drift = segment_trials(values, trials, 60.0, 30.0)[2][:, 0]
    assert np.abs(drift - expected[2]).min() > 2 * half_frame
    # a smooth real-looking movement stays within half a frame of its fastest motion
    aligned = segment_trials_by_time(signal(times)[:, None], times, trials, 30.0)
    fastest = 0.5 * (40 * 2 * np.pi * 0.7 + 5) / rate
    for i, got in enumerate(aligned):
        want = signal((trials.start_frame[i] + np.arange(len(got)) + 0.5) / 30.0)
        assert np.abs(got[:, 0] - want).max() < fastest


def test_neural_timestamps_give_the_neural_frame_times():
    times, rate = drifting_camera()
    values = signal(times)[:, None]
    neural = 0.25 + np.arange(500) / 29.97  # widefield on its own clock, starts 0.25 s later
    trials = pd.DataFrame({"trial_id": [0], "start_frame": [300], "video_start_frame": [0],
                           "n_frames": [60]})  # video_start_frame is not used
    got = segment_trials_by_time(values, times, trials, 30.0, neural_times=neural)[0][:, 0]
    want = signal(neural[300:360] + 0.5 / 30.0)
    assert np.abs(got - want).max() < 0.5 * (40 * 2 * np.pi * 0.7 + 5) / rate
    with pytest.raises(timing.TimingError, match="neural frames 480..539 .* has 500 times"):
        segment_trials_by_time(values, times, trials.assign(start_frame=480), 30.0, neural)


def test_clip_frames_nearest_in_time_across_a_drop():
    times, rate = drifting_camera(duration=2.0, drop=60)  # row 60 is the frame at 61/rate
    when = np.array([0.0, 58 / rate, 59.4 / rate, 60 / rate, 60.6 / rate, 62.49 / rate])
    idx = timing.nearest_frames(times, when)
    np.testing.assert_array_equal(idx, [0, 58, 59, 60, 60, 61])  # tie in the gap: later frame
    # the constant-rate rule would show the frame at 63/rate for 62.49/rate, one frame late
    with pytest.raises(timing.TimingError, match="check trials.csv and that the timestamps are"):
        timing.nearest_frames(times, np.array([5.0]), trial_id=3)


# --- pose-only sessions ---


def test_pose_only_normalise_needs_rate_or_timestamps(tmp_path):
    pose_path = tmp_path / "camDLC_s.h5"
    pose_of({"a": np.zeros((6, 2))}).to_hdf(pose_path, key="df_with_missing", format="table")
    meta = normalise_pose(pose_path, None, tmp_path / "p.h5", tmp_path / "p.json",
                          frame_rate=59.95, session="P1")
    assert meta["fps"] == 59.95 and meta["video"] is None and meta["time_base"] == "frame_rate"
    with pytest.raises(PoseError, match="set sessions.P1.video_frame_rate .* or "
                                        "sessions.P1.video_timestamps"):
        normalise_pose(pose_path, None, tmp_path / "q.h5", tmp_path / "q.json", session="P1")
    stamps = tmp_path / "t.npy"
    np.save(stamps, np.delete(np.arange(7) / 59.95, 3))
    meta = normalise_pose(pose_path, None, tmp_path / "r.h5", tmp_path / "r.json",
                          timestamps=stamps, session="P1")
    assert meta["time_base"] == "timestamps" and meta["fps"] == pytest.approx(59.95)
    np.save(stamps, np.arange(6) * 1000 / 59.95)  # milliseconds by mistake
    with pytest.raises(PoseError, match="timestamps must be in seconds"):
        normalise_pose(pose_path, None, tmp_path / "s.h5", tmp_path / "s.json",
                       frame_rate=59.95, timestamps=stamps, session="P1")
    np.save(stamps, np.arange(5) / 59.95)
    with pytest.raises(timing.TimingError, match="5 timestamps but 6 rows"):
        normalise_pose(pose_path, None, tmp_path / "s.h5", tmp_path / "s.json",
                       timestamps=stamps, session="P1")


def test_pose_only_real_predictions_distance_and_angle(tmp_path):
    """Real DLC predictions, no video: a paw-to-paw distance and angle at 30 Hz match a hand
    computation frame by frame (30 Hz camera = 30 Hz neural, so no averaging)."""
    if not PREDICTIONS.exists():
        pytest.skip("shared/data is absent")
    normalise_pose(PREDICTIONS, None, tmp_path / "pose.h5", tmp_path / "pose.json",
                   pcutoff=0.0, frame_rate=30.0, session="P1")
    pd.DataFrame({"trial_id": [1, 2], "start_frame": [0, 1000],
                  "n_frames": [900, 900]}).to_csv(tmp_path / "trials.csv", index=False)
    write_split(tmp_path / "split.json", {"train": np.array([0]), "val": np.array([1]),
                                          "test": np.array([], dtype=int)})
    mapping = {"PawDist": {"distance": ["paw1LH_top", "paw2LF_top"]},
               "PawAngle": {"angle": ["paw1LH_top", "paw2LF_top"], "sign": -1}}
    build_labels(tmp_path / "pose.h5", tmp_path / "pose.json", tmp_path / "trials.csv",
                 tmp_path / "split.json", tmp_path / "labels.h5", session="P1",
                 behaviors=list(mapping), mapping=mapping, neural_rate=30.0, max_gap=0,
                 zscore=False)
    back = dataset.read(tmp_path / "labels.h5")
    pose = read_pose(PREDICTIONS)
    a, b = pose_array(pose, "paw1LH_top"), pose_array(pose, "paw2LF_top")
    dist = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
    np.testing.assert_allclose(back.labels[1][:, 0], dist[1000:1900], rtol=1e-5)
    angle = np.degrees(np.unwrap(np.arctan2(-(b[:, 1] - a[:, 1]), b[:, 0] - a[:, 0])))
    np.testing.assert_allclose(back.labels[0][:, 1], -angle[:900], rtol=1e-5, atol=1e-3)
    assert json.loads((tmp_path / "pose.json").read_text())["video"] is None


def test_clips_follow_the_timestamps(tmp_path):
    """A video whose frame i is uniformly gray 4·i; its camera dropped the frame at 10/rate."""
    from benediff.behavior.clips import extract_clips
    from benediff.behavior.video import write_gray_video

    frames = np.repeat((4 * np.arange(40, dtype=np.uint8))[:, None, None], 16, 1).repeat(16, 2)
    write_gray_video(tmp_path / "v.mp4", frames, 60)
    times = np.delete(np.arange(41) / 60.0, 10)  # 40 frames; row 10 was taken at 11/60 s
    trials = pd.DataFrame({"trial_id": [0], "start_frame": [0], "n_frames": [19]})
    views = [{"x": 0, "y": 0, "width": 16, "height": 16}]
    clip = extract_clips(tmp_path / "v.mp4", trials, views, 4, 30.0, video_times=times)[0]
    rows = timing.nearest_frames(times, np.arange(19) / 30.0)
    np.testing.assert_array_equal(rows[4:7], [8, 10, 11])  # 5/30 s is 10/60 s: the dropped time
    np.testing.assert_allclose(clip[:, 0, 0, 0], 4 * rows, atol=2)
    assert np.abs(times[rows] - np.arange(19) / 30.0).max() <= 1 / 60 + 1e-9
    with pytest.raises(timing.TimingError, match="39 timestamps but 40 video frames"):
        extract_clips(tmp_path / "v.mp4", trials, views, 4, 30.0, video_times=times[:-1])


def test_schema_accepts_new_keys_and_rejects_bad_values():
    from benediff import config as bconfig

    schemas = Path(__file__).resolve().parents[1] / "workflow" / "schemas"
    session = {"source": "files", "pose": "p.csv", "trials": "t.csv", "video_frame_rate": 59.95,
               "video_timestamps": "v.npy", "neural_timestamps": "n.csv"}
    mapping = {"Pupil": {"distance": ["pupil_top", "pupil_bottom"]},
               "Reach": {"angle": ["paw", "spout"], "sign": -1}}
    cfg = bconfig.validate({"sessions": {"P1": session}, "behaviors": ["Pupil", "Reach"],
                            "behavior": {"labels": {"mapping": mapping}}}, schemas)
    assert cfg["behavior"]["labels"]["mapping"]["Pupil"] == {**mapping["Pupil"], "sign": 1}
    assert "video_frame_rate" in cfg["sessions"]["P1"]
    with pytest.raises(bconfig.ConfigError, match="sessions.P1.video_frame_rate"):
        bconfig.validate({"sessions": {"P1": {**session, "video_frame_rate": 0}}}, schemas)
    with pytest.raises(bconfig.ConfigError, match="mapping.Pupil.distance"):
        bconfig.validate({"sessions": {"P1": session}, "behavior": {"labels": {"mapping": {
            "Pupil": {"distance": ["pupil_top"]}}}}}, schemas)
    with pytest.raises(bconfig.ConfigError, match="'diameter'"):
        bconfig.validate({"sessions": {"P1": session}, "behavior": {"labels": {"mapping": {
            "Pupil": {"diameter": ["a", "b"]}}}}}, schemas)


def test_pose_only_predicate():
    from benediff.behavior.sessions import dataset_sessions, is_pose_only, pose_only_sessions

    config = {"sessions": {
        "S1": {"source": "simulate"},
        "P1": {"source": "files", "pose": "p.csv", "trials": "t.csv", "video_frame_rate": 60},
        "W1": {"source": "files", "widefield": "w.dat", "trials": "t.csv", "pose": "p.csv"},
        "B1": {"source": "behavenet", "behavenet": "d.hdf5"},
    }}
    assert [is_pose_only(c) for c in config["sessions"].values()] == [False, True, False, False]
    assert pose_only_sessions(config) == ["P1"]
    assert dataset_sessions(config) == ["S1", "W1", "B1"]
