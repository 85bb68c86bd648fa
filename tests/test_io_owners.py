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
    from benediff.widefield.pipeline import read_hemo, run_hemo

    import h5py

    rng = np.random.default_rng(2)
    U = rng.normal(size=(6, 5, 3)).astype(np.float32)
    mask = np.ones((6, 5), bool)
    with h5py.File(tmp_path / "svd.h5", "w") as f:
        f["U"], f["SVT"], f["mask"] = U, rng.normal(size=(3, 40)).astype(np.float32), mask
        f.attrs["n_channels"], f.attrs["blue_first"] = 1, True
    run_hemo(tmp_path / "svd.h5", tmp_path / "hemo.h5", {"hemo": {"enabled": True}})
    hemo = read_hemo(tmp_path / "hemo.h5")
    assert np.array_equal(hemo["U"], U) and hemo["V"].shape == (3, 40)
    assert hemo["mask"].dtype == bool and hemo["r"] is None and hemo["T"] is None
