"""Each file that crosses a stage has one module that writes and reads it: round trips."""

import av
import numpy as np
import pytest

from benediff.io import frame_latents, generated, latents, video
from benediff.io.trials import read_trials
from benediff.simulate.params import SimParams, raw_paths, session_files


def test_latents_round_trip_and_pooled_slicing(tmp_path):
    rng = np.random.default_rng(0)
    z = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(5)]
    rec = [rng.normal(size=(5, 4)).astype(np.float32) for _ in range(5)]
    path = tmp_path / "latents.h5"
    latents.write_latents(path, z, rec, factor_names=["a", "b", "u1"], label_names=["a", "b"],
                          session="pooled", region="VIS_L",
                          split={"train": np.arange(3), "test": np.arange(3, 5)},
                          normalisation="z-scored", members=[("S1", 2), ("S2", 3)])
    back, attrs = latents.read_latents(path)
    assert all(np.array_equal(a, b) for a, b in zip(z, back))
    assert attrs["factor_names"] == ["a", "b", "u1"] and attrs["split"]["test"] == [3, 4]
    recon, _ = latents.read_latents(path, "reconstruction")
    assert np.array_equal(recon[4], rec[4])
    s2, names = latents.read_session_latents(path, "S2")
    assert len(s2) == 3 and np.array_equal(s2[0], z[2]) and names == ["a", "b", "u1"]


def test_generated_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (2, 12, 2, 8, 8), dtype=np.uint8)
    path = tmp_path / "Jaw.h5"
    generated.write_generated(path, rng.normal(size=(2, 1, 12, 2, 2)), frames,
                              rng.normal(size=(2, 12, 3)), np.arange(24.0).reshape(2, 12),
                              every=5, attrs={"method": "ours", "factor_index": 2})
    out = generated.read_generated(path)
    assert np.array_equal(out["frames"], frames) and out["method"] == "ours"
    np.testing.assert_array_equal(out["requested"], np.arange(24.0).reshape(2, 12))
    with pytest.raises(generated.GeneratedFileError, match="requested trajectories have shape"):
        generated.write_generated(tmp_path / "bad.h5", rng.normal(size=(2, 1, 12, 2, 2)), frames,
                                  rng.normal(size=(2, 12, 3)), np.zeros((2, 11)), every=5, attrs={})
    assert generated.read_attrs(path)["factor_index"] == 2
    strip, diffs, index = generated.read_strip(path, channel=1, video=1)
    assert index.tolist() == [0, 5, 10]
    np.testing.assert_allclose(strip[1], frames[1, 5, 1] / 255.0)
    np.testing.assert_allclose(diffs[2], (frames[1, 10, 1] - frames[1, 5, 1].astype(float)) / 255,
                               atol=1e-6)


def test_frame_latents_round_trip(tmp_path):
    clips = [np.full((1, 4, 2, 2), i, np.float32) for i in range(3)]
    path = tmp_path / "frame_latents.h5"
    frame_latents.write_frame_latents(path, clips, {"mean": 0.5, "std": 2.0},
                                      {"train": np.array([0, 1]), "test": np.array([2])}, "S1")
    back, scale, split, session = frame_latents.read_frame_file(path)
    assert [c[0, 0, 0, 0] for c in back] == [0, 1, 2] and scale == {"mean": 0.5, "std": 2.0}
    assert split["test"].tolist() == [2] and session == "S1"


def test_mp4_writer_keeps_frames(tmp_path):
    frames = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (10, 16, 1))
    path = tmp_path / "v.mp4"
    video.write_gray_mp4(path, frames, 30, width=32, height=16, crf=0)
    with av.open(str(path)) as container:
        back = np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 2


def test_trials_and_session_file_names(tmp_path):
    (tmp_path / "trials.csv").write_text("trial_id,start_frame,n_frames\n0,0,5\n1,5,5\n")
    assert read_trials(tmp_path / "trials.csv")["start_frame"].tolist() == [0, 5]
    names = session_files((80, 96), ("dat",))
    assert names["dat"] == "widefield_2_80_96_uint16.dat" and "tiff" not in names
    config = {"simulate": {"preset": "demo", "movie_formats": ["dat"]}}
    h, w = SimParams(movie_height=80, movie_width=96).movie_shape
    assert raw_paths("S1", config)["trials"] == "resources/sessions/S1/trials.csv"
    assert raw_paths("S1", config)["dat"].endswith(f"widefield_2_{h}_{w}_uint16.dat")


def test_metrics_round_trip_and_clear_errors(tmp_path):
    import pytest

    from benediff.io.metrics import MetricsFileError, read_metrics, write_metrics

    metrics = {"session": "S1", "region": "VIS_L", "model": "ours", "run_seed": 0, "r2": 71.5,
               "rmse": 0.4, "mig": 12.0, "mig_floor": 1.5, "decoding": [[0.5, 0.1], [0.0, 0.4]]}
    path = tmp_path / "metrics.json"
    write_metrics(path, metrics)
    assert read_metrics(path) == metrics
    with pytest.raises(MetricsFileError, match="lack \\['mig'\\]"):
        write_metrics(tmp_path / "bad.json", {k: v for k, v in metrics.items() if k != "mig"})
    assert not (tmp_path / "bad.json").exists()
    (tmp_path / "torn.json").write_text('{"session": ')
    with pytest.raises(MetricsFileError, match="torn.json: cannot read LVM metrics"):
        read_metrics(tmp_path / "torn.json")


def test_hemo_file_round_trip(tmp_path):
    from benediff.io.hemo import read_hemo
    from benediff.io.svd import write_svd
    from benediff.widefield.pipeline import run_hemo

    rng = np.random.default_rng(2)
    U = rng.normal(size=(6, 5, 3)).astype(np.float32)
    mask = np.ones((6, 5), bool)
    write_svd(tmp_path / "svd.h5", U, rng.normal(size=(3, 40)), None, mask, None, n_channels=1)
    run_hemo(tmp_path / "svd.h5", tmp_path / "hemo.h5", {"hemo": {"enabled": True}})
    hemo = read_hemo(tmp_path / "hemo.h5")
    assert np.array_equal(hemo["U"], U) and hemo["V"].shape == (3, 40)
    assert hemo["mask"].dtype == bool and hemo["r"] is None and hemo["T"] is None


def test_widefield_files_keep_their_layout(tmp_path):
    """motion.h5, svd.h5, hemo.h5 and atlas.h5: the datasets, dtypes and attributes the stage
    has always written (what older results and other tools read)."""
    import json

    import h5py

    from benediff.io import hemo, motion, session_atlas, svd
    from benediff.io.atlas import Atlas

    rng = np.random.default_rng(4)
    shifts, refs = rng.normal(size=(2, 9, 2)), rng.random((2, 4, 5)).astype(np.float32)
    bad, fill = np.zeros((2, 9), bool), np.zeros((2, 4, 5), np.float32)
    motion.write_motion(tmp_path / "m.h5", shifts, refs, bad, fill, {"blank": 0}, [1, 0], (4, 5))
    with h5py.File(tmp_path / "m.h5") as f:
        assert sorted(f) == ["bad_frames", "fill", "refs", "shifts"]
        assert f.attrs["order"].tolist() == [1, 0] and f.attrs["frame_shape"].tolist() == [4, 5]
        assert json.loads(f.attrs["bad_reasons"]) == {"blank": 0}
    back, order = motion.read_motion(tmp_path / "m.h5")
    assert np.array_equal(back, shifts) and order == [1, 0]
    reference, _ = motion.read_reference(tmp_path / "m.h5")
    assert np.array_equal(reference, refs[0])
    motion.write_skipped(tmp_path / "skip.h5", "compressed input")
    assert motion.read_motion(tmp_path / "skip.h5") == (None, None)
    assert motion.read_frame_quality(tmp_path / "skip.h5") == (None, None)

    U, SVT = rng.normal(size=(4, 5, 3)), rng.normal(size=(3, 18))
    svd.write_svd(tmp_path / "s.h5", U, SVT, np.ones((2, 4, 5)), np.ones((4, 5), bool),
                  np.arange(3.0), 2, blue_first=False)
    with h5py.File(tmp_path / "s.h5") as f:
        assert sorted(f) == ["F0", "SVT", "U", "eigenvalues", "mask"]
        assert f["U"].dtype == np.float32 and f["SVT"].dtype == np.float32
        assert f.attrs["n_channels"] == 2 and not f.attrs["blue_first"]
    data = svd.read_svd(tmp_path / "s.h5")
    assert data["n_channels"] == 2 and data["blue_first"] is False
    np.testing.assert_array_equal(data["SVT"], SVT.astype(np.float32))

    moved = {"regressors": rng.normal(size=(2, 9)), "coef": rng.normal(size=(3, 2)),
             "names": ["x", "y"]}
    hemo.write_hemo(tmp_path / "h.h5", U, rng.normal(size=(3, 9)), np.ones((4, 5), bool),
                    rng.normal(size=(4, 5)), np.eye(3), moved)
    with h5py.File(tmp_path / "h.h5") as f:
        assert sorted(f) == ["T", "U", "V", "mask", "motion", "r"] and f["V"].dtype == np.float32
        assert sorted(f["motion"]) == ["coef", "regressors"]
        assert f["motion/coef"].dtype == np.float32
    assert hemo.read_hemo(tmp_path / "h.h5")["motion"]["names"] == ["x", "y"]

    atlas = Atlas(np.array([[1, -1], [0, 2]]), {1: "VISp", 2: "MOs"})
    session_atlas.write_atlas_h5(tmp_path / "a.h5", atlas, extras={
        "brain_mask": np.ones((2, 2)), "dropped_outside": [3],
        "inside_fraction": {-1: 0.5, 1: 1.0}, "landmarks": {"name": ["a"]}})
    with h5py.File(tmp_path / "a.h5") as f:
        assert sorted(f) == ["brain_mask", "dropped_outside", "inside_fraction", "labels",
                             "residuals", "transform"]
        assert f["brain_mask"].dtype == bool and f["dropped_outside"].dtype == np.int64
        np.testing.assert_array_equal(f["transform"][()], np.eye(3))
        assert json.loads(f.attrs["names"]) == {"1": "VISp", "2": "MOs"}
    back = session_atlas.read_atlas_h5(tmp_path / "a.h5")
    assert np.array_equal(back.labels, atlas.labels) and back.names == atlas.names
    checks = session_atlas.read_atlas_checks(tmp_path / "a.h5")
    assert checks["inside_fraction"] == {-1: 0.5, 1: 1.0} and checks["dropped_outside"] == [3]
    assert checks["overlap"] is None and checks["mean_frame"] is None
    assert session_atlas.read_brain_mask(tmp_path / "a.h5").all()


def test_widefield_file_readers_name_the_file_and_the_rule(tmp_path):
    import h5py

    from benediff.io import hemo, motion, session_atlas, svd

    with pytest.raises(motion.MotionFileError, match="nope.h5: file does not exist; run the "
                       "widefield_motion job"):
        motion.read_motion(tmp_path / "nope.h5")
    (tmp_path / "torn.h5").write_bytes(b"not hdf5")
    with pytest.raises(svd.SvdFileError, match="torn.h5: not a readable HDF5 file"):
        svd.read_svd(tmp_path / "torn.h5")
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["U"] = np.zeros((2, 2, 1))
    with pytest.raises(hemo.HemoFileError, match="empty.h5: no V, mask in this file.*rerun "
                       "widefield_hemo"):
        hemo.read_hemo(tmp_path / "empty.h5")
    with pytest.raises(svd.SvdFileError, match="no SVT, mask"):
        svd.read_svd(tmp_path / "empty.h5")
    with h5py.File(tmp_path / "labels.h5", "w") as f:
        f["labels"] = np.zeros((2, 2), np.int32)
    with pytest.raises(session_atlas.SessionAtlasError, match="labels.h5: attribute 'names'"):
        session_atlas.read_atlas_h5(tmp_path / "labels.h5")
