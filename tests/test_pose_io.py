"""DeepLabCut file reader/writer/validator (benediff.io.pose) on synthetic and real files."""


import numpy as np
import pandas as pd
import pytest

from benediff.behavior.pose import find_pose_file
from benediff.io.pose import (
    PoseError, bodyparts, check_model_dir, labels_index_to_dlc, make_pose_frame, pose_array,
    read_pose, scorer, write_pose,
)
from shared_data import SHARED_DATA

DATA = SHARED_DATA
PREDICTIONS = DATA / "pose" / "eks_mirror_mouse" / "180607_004.train_frames=75.rng=0.csv"
HAND_LABELS = DATA / "behavior" / "lightning_pose_mirror_mouse" / "CollectedData.csv"


def synthetic_pose(n=20, parts=("nose", "paw"), seed=0):
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 64, (n, len(parts), 3))
    values[..., 2] = rng.uniform(0, 1, (n, len(parts)))
    values[3, 1, :] = np.nan  # DLC files may hold NaN
    return make_pose_frame("DLC_resnet50_testNov1shuffle1_snapshot_5", parts, values)


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_synthetic_file_round_trips_exactly(tmp_path, suffix):
    df = synthetic_pose()
    path = tmp_path / f"videoDLC_x{suffix}"
    write_pose(df, path)
    pd.testing.assert_frame_equal(read_pose(path), df)
    if suffix == ".h5":  # exact DLC layout: key, table format, levels, dtypes
        raw = pd.read_hdf(path, key="df_with_missing")
        pd.testing.assert_frame_equal(raw, df)
        assert list(raw.columns.names) == ["scorer", "bodyparts", "coords"]
        with pd.HDFStore(path, "r") as store:
            assert store.get_storer("df_with_missing").is_table
    else:
        raw = pd.read_csv(path, header=[0, 1, 2], index_col=0)
        assert raw.columns[0] == (scorer(df), "nose", "x")


def test_real_predictions_csv():
    if not PREDICTIONS.exists():
        pytest.skip("shared/data is absent")
    df = read_pose(PREDICTIONS)
    assert df.shape == (2000, 24)
    assert scorer(df) == "heatmap_mhcrnn_tracker"
    assert bodyparts(df)[:2] == ["paw1LH_top", "paw2LF_top"]
    assert df.index.dtype == np.int64 and (df.dtypes == np.float32).all()
    raw = pd.read_csv(PREDICTIONS, header=[0, 1, 2], index_col=0)
    np.testing.assert_allclose(df.to_numpy(), raw.to_numpy(dtype=np.float32))


def test_real_hand_labels_csv_converted():
    if not HAND_LABELS.exists():
        pytest.skip("shared/data is absent")
    raw = pd.read_csv(HAND_LABELS, header=[0, 1, 2], index_col=0)
    df = read_pose(HAND_LABELS)
    assert df.shape == (90, 17 * 3)
    xyl = pose_array(df, "paw1LH_top")
    np.testing.assert_allclose(xyl[0], [77.25, 36.25, 1.0])
    missing = raw[("rick", "tailBase_top", "x")].isna().to_numpy()
    assert missing.any()
    np.testing.assert_array_equal(pose_array(df, "tailBase_top")[:, 2], ~missing)
    index = labels_index_to_dlc(raw.index, "test_vid")
    assert index[0] == ("labeled-data", "test_vid", "img01.png")


def test_absent_bodypart_lists_available():
    with pytest.raises(PoseError, match=r"'tail'.*available body parts: \['nose', 'paw'\]"):
        pose_array(synthetic_pose(), "tail", "f.h5")


def test_multi_animal_file_rejected(tmp_path):
    cols = pd.MultiIndex.from_product([["s"], ["mouse1"], ["nose"], ["x", "y", "likelihood"]],
                                      names=["scorer", "individuals", "bodyparts", "coords"])
    path = tmp_path / "maDLC_x.h5"
    pd.DataFrame(np.zeros((3, 3)), columns=cols).to_hdf(path, key="df_with_missing", format="table")
    with pytest.raises(PoseError, match="multi-animal"):
        read_pose(path)


def test_missing_likelihood_rejected(tmp_path):
    df = synthetic_pose()
    df = df.drop(columns=[(scorer(df), "paw", "likelihood")])
    with pytest.raises(PoseError, match=r"'paw' has coords \['x', 'y'\]"):
        write_pose(df, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_unreadable_pose_file(tmp_path):
    path = tmp_path / "bad.h5"
    path.write_text("not hdf5")
    with pytest.raises(PoseError, match="bad.h5: cannot read"):
        read_pose(path)


def test_find_pose_file_prefers_filtered_and_needs_one(tmp_path):
    for name in ("vidDLC_resnet50_a_snapshot_5.h5", "vidDLC_resnet50_a_snapshot_5_filtered.h5",
                 "otherDLC_x.h5"):
        (tmp_path / name).touch()
    assert find_pose_file(tmp_path, "vid").name.endswith("_filtered.h5")
    (tmp_path / "vidDLC_resnet18_b_snapshot_9_filtered.h5").touch()
    with pytest.raises(PoseError, match="expected exactly one vidDLC_"):
        find_pose_file(tmp_path, "vid")
    with pytest.raises(PoseError, match="found none"):
        find_pose_file(tmp_path, "missing")


def test_model_dir_without_snapshot(tmp_path):
    (tmp_path / "pytorch_config.yaml").write_text("net_type: resnet_50\n")
    with pytest.raises(PoseError, match="no snapshot-\\*.pt"):
        check_model_dir(tmp_path)
    for name in ("snapshot-5.pt", "snapshot-10.pt"):
        (tmp_path / name).touch()
    assert check_model_dir(tmp_path)[1].name == "snapshot-10.pt"
    (tmp_path / "snapshot-best-3.pt").touch()
    assert check_model_dir(tmp_path)[1].name == "snapshot-best-3.pt"
