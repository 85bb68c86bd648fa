import h5py
import numpy as np
import pytest

from benediff.io import dataset as dsio


def make_dataset(n=5, L=7, N=4, B=3, S=6):
    rng = np.random.default_rng(0)
    return dsio.Dataset(
        session="S1",
        frame_rate=30.0,
        trial_ids=np.arange(10, 10 + n),
        neural=[rng.standard_normal((L, N)).astype(np.float32) for _ in range(n)],
        labels=[rng.standard_normal((L, B)).astype(np.float32) for _ in range(n)],
        label_names=["Levers", "Spouts", "Jaw"],
        images=[rng.integers(0, 255, (L, 2, S, S), dtype=np.uint8) for _ in range(n)],
        regions={"VIS_L": np.array([0, 1]), "MOs_R": np.array([2, 3])},
        split={"train": np.array([0, 1, 2]), "val": np.array([3]), "test": np.array([4])},
        provenance={"seed": 3},
    )


def test_round_trip(tmp_path):
    ds = make_dataset()
    dsio.write(tmp_path / "d.h5", ds)
    back = dsio.read(tmp_path / "d.h5")
    assert back.session == "S1" and back.frame_rate == 30.0
    np.testing.assert_array_equal(back.trial_ids, ds.trial_ids)
    for name in ("neural", "labels", "images"):
        for a, b in zip(getattr(ds, name), getattr(back, name)):
            np.testing.assert_array_equal(a, b)
    assert back.label_names == ds.label_names
    assert {k: v.tolist() for k, v in back.regions.items()} == {"VIS_L": [0, 1], "MOs_R": [2, 3]}
    assert back.split["val"].tolist() == [3]
    assert back.provenance == {"seed": 3}
    region = back.region_neural("MOs_R")
    np.testing.assert_array_equal(region[0], ds.neural[0][:, 2:4])
    assert back.stacked("labels", [1, 3]).shape == (2, 7, 3)


def test_behavenet_layout(tmp_path):
    dsio.write(tmp_path / "d.h5", make_dataset())
    with h5py.File(tmp_path / "d.h5") as f:
        assert f["images/trial_0000"].dtype == np.uint8
        assert f["images/trial_0000"].shape == (7, 2, 6, 6)
        assert f["neural/trial_0004"].dtype == np.float32
        assert f["regions/indxs_consolidate_lr/VIS_L"].shape == (1, 2)
        assert f["regions"].attrs["index_base"] == 0


def test_partial_groups(tmp_path):
    ds = make_dataset()
    ds.images = ds.labels = None
    dsio.write(tmp_path / "d.h5", ds)
    dsio.validate(tmp_path / "d.h5", require=("neural",))
    with pytest.raises(dsio.DatasetError, match="missing group 'labels'"):
        dsio.validate(tmp_path / "d.h5", require=("labels",))
    assert dsio.read(tmp_path / "d.h5").labels is None


def test_unknown_region_lists_available(tmp_path):
    with pytest.raises(dsio.DatasetError, match=r"available: \['MOs_R', 'VIS_L'\]"):
        make_dataset().region_neural("SSp_L")


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda f: f.attrs.__setitem__("format", "other"), "expected 'benediff-dataset'"),
        (lambda f: f.__delitem__("neural/trial_0003"), "group 'neural' has 4 trials"),
        (lambda f: f["labels/trial_0001"].__setitem__((0, 0), np.nan), "contains NaN"),
        (lambda f: f["regions/indxs_consolidate_lr/VIS_L"].__setitem__((0, 0), 9), "out of range"),
        (lambda f: f["split/val"].__setitem__(0, 0), "overlap"),
    ],
)
def test_validation_errors_name_the_file(tmp_path, corrupt, message):
    path = tmp_path / "d.h5"
    dsio.write(path, make_dataset())
    with h5py.File(path, "a") as f:
        corrupt(f)
    with pytest.raises(dsio.DatasetError, match=message) as err:
        dsio.read(path)
    assert str(path) in str(err.value)


def test_inconsistent_frames_rejected(tmp_path):
    path = tmp_path / "d.h5"
    dsio.write(path, make_dataset())
    with h5py.File(path, "a") as f:
        del f["labels/trial_0002"]
        f["labels/trial_0002"] = np.zeros((6, 3), np.float32)
    with pytest.raises(dsio.DatasetError, match="disagree on the number of frames"):
        dsio.validate(path)


def test_not_hdf5_and_missing(tmp_path):
    (tmp_path / "x.h5").write_text("nope")
    with pytest.raises(dsio.DatasetError, match="not a readable HDF5"):
        dsio.validate(tmp_path / "x.h5")
    with pytest.raises(dsio.DatasetError, match="does not exist"):
        dsio.validate(tmp_path / "y.h5")


def test_bad_data_leaves_no_file(tmp_path):
    ds = make_dataset()
    ds.neural[2][0, 0] = np.inf
    with pytest.raises(dsio.DatasetError, match="trial position 2"):
        dsio.write(tmp_path / "d.h5", ds)
    assert list(tmp_path.iterdir()) == []
