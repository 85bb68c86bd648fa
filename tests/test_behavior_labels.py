"""Behaviour labels: mapping, gap interpolation, alignment, segmentation, z-scoring, import."""

import json

import numpy as np
import pandas as pd
import pytest

from benediff.behavior.labels import (
    LabelError, align_trial, build_labels, interpolate_gaps, parse_mapping, raw_labels,
    segment_trials, smooth, zscore_by_train,
)
from benediff.behavior.pose import normalise_pose
from benediff.behavior.video import write_gray_video
from benediff.io import dataset
from benediff.io.pose import PoseError, make_pose_frame, pose_array, read_pose
from benediff.io.split import write_split
from shared_data import SHARED_DATA

DATA = SHARED_DATA
PREDICTIONS = DATA / "pose" / "eks_mirror_mouse" / "180607_004.train_frames=75.rng=0.csv"
HAND_LABELS = DATA / "behavior" / "lightning_pose_mirror_mouse" / "CollectedData.csv"


def two_part_pose(likelihood=None):
    values = np.zeros((4, 2, 3))
    values[:, 0, 0] = [1, 2, 3, 4]      # a.x
    values[:, 0, 1] = [10, 20, 30, 40]  # a.y
    values[:, 1, 1] = [5, 6, 7, 8]      # b.y
    values[..., 2] = 1.0 if likelihood is None else likelihood
    return make_pose_frame("s", ["a", "b"], values)


def tiny_video(path, n_frames, fps):
    frames = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (n_frames, 16, 1))
    write_gray_video(path, frames, fps)
    return path


def test_mapping_picks_coordinate_and_sign():
    mapping = {"B-y": {"bodypart": "b", "coord": "y", "sign": -1},
               "A-x": {"bodypart": "a", "coord": "x"}, "unused": {"bodypart": "a", "coord": "y"}}
    sources = parse_mapping(mapping, ["A-x", "B-y"])
    assert list(sources) == ["A-x", "B-y"]
    out = raw_labels(two_part_pose(), sources, pcutoff=0.6, max_gap=2)
    np.testing.assert_array_equal(out, [[1, -5], [2, -6], [3, -7], [4, -8]])
    with pytest.raises(LabelError, match=r"no entry for \['Jaw'\]"):
        parse_mapping(mapping, ["Jaw"])


def test_absent_bodypart_in_mapping_lists_available():
    sources = parse_mapping({"Jaw": {"bodypart": "jaw", "coord": "y"}}, ["Jaw"])
    with pytest.raises(PoseError, match=r"'jaw'.*available body parts: \['a', 'b'\]"):
        raw_labels(two_part_pose(), sources, 0.6, 2, "pose.h5")


def test_low_likelihood_frames_are_interpolated():
    lik = np.ones((4, 2))
    lik[1, 0] = lik[2, 0] = 0.1  # a is unsure in frames 1 and 2
    pose = two_part_pose(lik)
    pose.iloc[1, 0] = 99.0  # a wild low-confidence x
    sources = parse_mapping({"A-x": {"bodypart": "a", "coord": "x"}}, ["A-x"])
    out = raw_labels(pose, sources, pcutoff=0.6, max_gap=2)
    np.testing.assert_allclose(out[:, 0], [1, 2, 3, 4])
    with pytest.raises(LabelError, match="2 consecutive low-confidence frames starting at frame 1"):
        raw_labels(pose, sources, pcutoff=0.6, max_gap=1)


def test_interpolate_gaps_hand_values():
    np.testing.assert_allclose(
        interpolate_gaps([0, 9, 9, 3, 4], [1, 0, 0, 1, 1], max_gap=2), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(interpolate_gaps([9, 5, 6, 9], [0, 1, 1, 0], 1), [5, 5, 6, 6])


def test_bodypart_nan_throughout():
    pose = two_part_pose()
    pose.loc[:, ("s", "b", "y")] = np.nan
    sources = parse_mapping({"Jaw": {"bodypart": "b", "coord": "y"}}, ["Jaw"])
    with pytest.raises(LabelError, match="'b' \\(behaviour 'Jaw'\\) has no frame"):
        raw_labels(pose, sources, 0.6, 5, "pose.h5")


def test_smoothing_moving_average():
    out = smooth(np.array([[0.0], [3.0], [6.0], [0.0]]), 3)
    np.testing.assert_allclose(out[:, 0], [2, 3, 3, 4])  # reflected edges: (3+0+3)/3, (6+0+6)/3
    with pytest.raises(LabelError, match="must be odd"):
        smooth(np.zeros((4, 1)), 2)


def test_alignment_across_frame_rates():
    values = np.arange(8.0)[:, None]
    # 60 Hz video → 30 Hz neural: each neural frame averages two video frames
    np.testing.assert_allclose(align_trial(values, 2, 3, 60, 30)[:, 0], [2.5, 4.5, 6.5])
    np.testing.assert_allclose(align_trial(values, 3, 2, 30, 30)[:, 0], [3, 4])
    # 45 Hz → 30 Hz: bins [0, 1.5) and [1.5, 3) in video frames
    np.testing.assert_allclose(align_trial(values, 0, 2, 45, 30)[:, 0], [0.5, 2])
    # 15 Hz → 30 Hz: linear interpolation at the neural frame starts
    np.testing.assert_allclose(align_trial(values * 10, 1, 4, 15, 30)[:, 0], [10, 15, 20, 25])
    with pytest.raises(LabelError, match="trial 7: needs video frames 6..9"):
        align_trial(values, 6, 2, 60, 30, trial_id=7)


def test_trial_segmentation():
    values = np.arange(20.0).reshape(10, 2)
    trials = pd.DataFrame({"trial_id": [3, 5], "start_frame": [0, 4],
                           "video_start_frame": [0, 8], "n_frames": [2, 1]})
    out = segment_trials(values, trials, fps=60, neural_rate=30)
    np.testing.assert_allclose(out[0], [[1, 2], [5, 6]])   # frames (0,1) and (2,3)
    np.testing.assert_allclose(out[1], [[17, 18]])         # frames (8,9)
    # without video_start_frame, video starts with the neural recording: 4 neural → 8 video
    out = segment_trials(values, trials.drop(columns="video_start_frame"), 60, 30)
    np.testing.assert_allclose(out[1], [[17, 18]])


def test_zscore_uses_training_trials_only():
    trials = [np.array([[0.0], [2.0]]), np.array([[4.0], [6.0]]), np.array([[100.0], [100.0]])]
    out, stats = zscore_by_train(trials, train=[0, 1])
    assert stats["mean"] == [3.0] and stats["std"] == [pytest.approx(np.sqrt(5))]
    np.testing.assert_allclose(out[2], (100 - 3) / np.sqrt(5))
    np.testing.assert_allclose(np.concatenate(out[:2]).mean(), 0)


def _import_and_build(tmp_path, source, n_frames, fps, mapping, trials, zscore=False):
    video = tiny_video(tmp_path / "vid.mp4", n_frames, fps)
    normalise_pose(source, video, tmp_path / "pose.h5", tmp_path / "pose.json", pcutoff=0.6)
    pd.DataFrame(trials).to_csv(tmp_path / "trials.csv", index=False)
    n = len(trials["trial_id"])
    write_split(tmp_path / "split.json", {"train": np.arange(n - 1), "val": np.array([n - 1]),
                                          "test": np.array([], dtype=int)})
    return build_labels(tmp_path / "pose.h5", tmp_path / "pose.json", tmp_path / "trials.csv",
                        tmp_path / "split.json", tmp_path / "labels.h5", session="real",
                        behaviors=list(mapping), mapping=mapping, neural_rate=30.0, max_gap=20,
                        zscore=zscore)


def test_import_real_predictions_to_aligned_labels(tmp_path):
    if not PREDICTIONS.exists():
        pytest.skip("shared/data is absent")
    mapping = {"Paw-x": {"bodypart": "paw3RF_bot", "coord": "x"},
               "Paw-y": {"bodypart": "paw3RF_bot", "coord": "y", "sign": -1}}
    trials = {"trial_id": [1, 2, 3], "start_frame": [0, 75, 150],
              "video_start_frame": [0, 625, 1250], "n_frames": [60, 60, 60]}
    # a 250 fps stand-in video with as many frames as the real predictions
    ds = _import_and_build(tmp_path, PREDICTIONS, 2000, 250, mapping, trials)
    meta = json.loads((tmp_path / "pose.json").read_text())
    assert meta["scorer"] == "heatmap_mhcrnn_tracker" and meta["n_frames"] == 2000
    back = dataset.read(tmp_path / "labels.h5")
    assert back.label_names == ["Paw-x", "Paw-y"] and back.frame_rate == 30.0
    assert [x.shape for x in back.labels] == [(60, 2)] * 3
    xyl = pose_array(read_pose(PREDICTIONS), "paw3RF_bot")
    assert (xyl[:, 2] >= 0.6).all()  # confident throughout, so the bins are plain means
    # neural frame 1 of trial 2 covers video frames with 625 + 250/30 <= i < 625 + 500/30
    np.testing.assert_allclose(back.labels[1][1], [xyl[634:642, 0].mean(), -xyl[634:642, 1].mean()],
                               rtol=1e-5)
    np.testing.assert_allclose(ds.labels[0][0, 0], xyl[0:9, 0].mean(), rtol=1e-5)


def test_import_real_hand_labels_to_aligned_labels(tmp_path):
    if not HAND_LABELS.exists():
        pytest.skip("shared/data is absent")
    mapping = {"Paw-x": {"bodypart": "paw3RF_bot", "coord": "x"}}
    trials = {"trial_id": [0, 1, 2], "start_frame": [0, 30, 60],
              "video_start_frame": [0, 30, 60], "n_frames": [30, 30, 30]}
    ds = _import_and_build(tmp_path, HAND_LABELS, 90, 30, mapping, trials)
    raw = pd.read_csv(HAND_LABELS, header=[0, 1, 2], index_col=0)[("rick", "paw3RF_bot", "x")]
    got = np.concatenate(ds.labels)[:, 0]
    labelled = raw.notna().to_numpy()
    np.testing.assert_allclose(got[labelled], raw.to_numpy()[labelled], rtol=1e-6)
    assert np.isfinite(got).all()


def test_pose_rows_must_match_video_frames(tmp_path):
    pose = two_part_pose()
    pose_path = tmp_path / "vidDLC_s.h5"
    pose.to_hdf(pose_path, key="df_with_missing", format="table")
    video = tiny_video(tmp_path / "vid.mp4", 5, 30)
    with pytest.raises(PoseError, match="pose has 4 rows but video .* has 5 frames"):
        normalise_pose(pose_path, video, tmp_path / "pose.h5", tmp_path / "pose.json")
    assert not (tmp_path / "pose.h5").exists() and not (tmp_path / "pose.json").exists()


def test_frame_rate_mismatch_beyond_tolerance(tmp_path):
    pose_path = tmp_path / "vidDLC_s.h5"
    two_part_pose().to_hdf(pose_path, key="df_with_missing", format="table")
    video = tiny_video(tmp_path / "vid.mp4", 4, 60)
    normalise_pose(pose_path, video, tmp_path / "ok.h5", tmp_path / "ok.json",
                   expected_fps=60.3, fps_tolerance=0.01)  # within 1 %
    with pytest.raises(PoseError, match="frame rate 60 fps differs from the configured "
                                        "behavior.video_fps = 30"):
        normalise_pose(pose_path, video, tmp_path / "pose.h5", tmp_path / "pose.json",
                       expected_fps=30, fps_tolerance=0.01)
    assert not (tmp_path / "pose.h5").exists()
