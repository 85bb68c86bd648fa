"""The video jobs read a session's images one trial at a time (issue #27): the same frames,
metrics, canvas video and specificity table as reading every image at once."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from benediff.behavior.video import write_gray_video
from benediff.io import dataset as dio
from benediff.io.generated import read_generated, write_generated
from benediff.video import autoencoder as ae
from benediff.video import canvas, frames, pipeline, readout
from benediff.video import specificity as spec

torch.set_num_threads(1)
NAMES = ["A", "B", "C"]
VIEWS = [{"name": "side", "x": 0, "y": 0, "width": 16, "height": 16},
         {"name": "bottom", "x": 16, "y": 0, "width": 16, "height": 16}]


def write_session(path, n_trials=12, size=16):
    """Trials of different lengths (so rows cross trial boundaries unevenly), labels, split."""
    rng = np.random.default_rng(3)
    lengths = rng.integers(9, 15, n_trials)
    labels = [rng.normal(size=(n, 3)).astype(np.float32) for n in lengths]
    images = [rng.integers(0, 256, (n, 2, size, size), dtype=np.uint8) for n in lengths]
    split = {"train": np.arange(0, 8), "val": np.array([8, 9]), "test": np.array([10, 11])}
    dio.write(path, dio.Dataset(session="S", frame_rate=30.0, trial_ids=np.arange(n_trials),
                                labels=labels, label_names=NAMES, images=images, split=split))
    return path


@pytest.fixture
def session(tmp_path):
    return write_session(tmp_path / "dataset.h5")


def test_gather_is_the_rows_of_the_concatenated_trials(session):
    eager, lazy = dio.read(session), frames.read_streamed(session, groups=("images", "labels"))
    assert isinstance(lazy.images, dio.TrialArrays) and isinstance(lazy.labels, list)
    trials = [3, 0, 7, 5]
    whole = np.concatenate([eager.images[i] for i in trials])
    assert frames.n_frames(lazy.images, trials) == len(whole)
    keep = np.sort(np.random.default_rng(0).choice(len(whole), 17, replace=False))
    for images in (lazy.images, eager.images):
        np.testing.assert_array_equal(frames.gather(images, trials, keep), whole[keep])
    assert frames.gather(lazy.images, trials, []).shape == (0, *whole.shape[1:])


@pytest.mark.parametrize("limit", [20, 10_000])
def test_autoencoder_frames_equal_reading_every_image(session, limit):
    eager = dio.read(session, groups=("images",))
    whole = np.concatenate([eager.images[i] for i in eager.split["train"]])
    rng = np.random.default_rng(5)
    expected = (whole[np.sort(rng.choice(len(whole), limit, replace=False))]
                if len(whole) > limit else whole)
    got = pipeline._frames(frames.read_streamed(session), "train", limit, np.random.default_rng(5))
    np.testing.assert_array_equal(got, expected)


def test_regressor_frames_and_labels_equal_reading_every_image(session):
    eager = dio.read(session, groups=("images", "labels"))
    trials = eager.split["test"]
    x = np.concatenate([eager.images[i] for i in trials])
    y = np.concatenate([eager.labels[i] for i in trials])
    keep = np.sort(np.random.default_rng(2).choice(len(x), 15, replace=False))
    got_x, got_y = readout.frames_and_labels(
        frames.read_streamed(session, groups=("images", "labels")), "test", 15,
        np.random.default_rng(2))
    np.testing.assert_array_equal(got_x, x[keep])
    np.testing.assert_array_equal(got_y, y[keep])


@pytest.mark.parametrize("kind", ["uint8", "unit"])
def test_pixels_pooled_in_chunks_equal_pooling_at_once(monkeypatch, kind):
    x = np.random.default_rng(1).integers(0, 256, (10, 2, 8, 8), dtype=np.uint8)
    x = x if kind == "uint8" else x.astype(np.float64) / 255.0
    whole = torch.as_tensor(np.asarray(x, dtype=np.float32))
    whole = whole / 255.0 if whole.max() > 1.5 else whole
    expected = torch.nn.functional.avg_pool2d(whole, 2).flatten(1).numpy()
    monkeypatch.setattr(readout, "POOL_CHUNK", 3)
    np.testing.assert_array_equal(readout._pixels(x, 2), expected)


def test_reconstruction_metrics_in_chunks_equal_the_whole_array(monkeypatch):
    torch.manual_seed(0)
    model = ae.FrameAutoencoder(in_channels=2, image_size=16, latent_size=4, latent_channels=1,
                                base_channels=4).eval()
    x = np.random.default_rng(4).integers(0, 256, (23, 2, 16, 16), dtype=np.uint8)
    unit = x.astype(np.float32) / 255.0
    recon = ae.decode_latents(model, ae.encode_frames(model, unit))
    monkeypatch.setattr(pipeline, "METRIC_CHUNK", 5)
    got = pipeline.reconstruction_metrics(model, x, "cpu")
    assert got["psnr_test"] == pytest.approx(ae.psnr(unit, recon), rel=1e-6)
    assert got["ssim_test"] == pytest.approx(ae.ssim(unit, recon), rel=1e-6)


def write_videos(tmp_path, session):
    """Generated files of two methods (the unguided reference and ours), two videos each."""
    ds = dio.read(session)
    rng = np.random.default_rng(6)
    out = {}
    for k, method in enumerate(("ours", "unguided")):
        clips = np.stack([ds.images[i][:9] for i in (k, k + 1)])
        path = tmp_path / f"{method}.h5"
        write_generated(path, rng.normal(size=(2, 1, 9, 4, 4)), clips,
                        rng.normal(size=(2, 9, 3)), rng.normal(size=(2, 9)), 3,
                        attrs={"method": method, "region": "R", "factor": "B", "factor_index": 1,
                               "factor_names": json.dumps(NAMES)})
        out[("R", method, "B")] = path
    return out


def test_canvas_written_frame_by_frame_equals_the_whole_video(tmp_path, session):
    generated = write_videos(tmp_path, session)
    index = canvas.write_specificity_canvas(generated, VIEWS, tmp_path / "c.mp4",
                                            tmp_path / "c.json", fps=30, dataset_path=session,
                                            floor_trials=2, seed=0)
    ds = dio.read(session)
    pool, _ = readout.floor_pool(ds, 2, 0)
    sources = [(list(key), list(read_generated(path)["frames"]))
               for key, path in sorted(generated.items())]
    sources += [(["data", "real", "test"], [ds.images[i] for i in ds.split["test"]]),
                (["data", "real", "pool"], [ds.images[i] for i in pool])]
    expected = [{"key": key, "n_videos": len(c), "n_frames": [len(x) for x in c]}
                for key, c in sources]
    assert index == expected == json.loads((tmp_path / "c.json").read_text())
    write_gray_video(tmp_path / "whole.mp4", np.concatenate(
        [canvas.views_canvas(x, VIEWS) for _, c in sources for x in c]), fps=30)
    assert (tmp_path / "c.mp4").read_bytes() == (tmp_path / "whole.mp4").read_bytes()


def test_specificity_table_of_streamed_images_equals_reading_every_image(tmp_path, session,
                                                                         monkeypatch):
    from benediff.config import validate

    cfg = {**validate({"sessions": {"S": {"source": "simulate"}}})["video"]["specificity"],
           "segment": 3, "floor_trials": 2, "n_boot": 20, "floor_draws": 5, "max_iter": 20,
           "max_train_frames": 60, "hidden": 8, "components": 8}
    generated = write_videos(tmp_path, session)
    streamed = spec.specificity(session, generated, tmp_path / "a.csv", tmp_path / "a.tex", cfg,
                                config={}, seed=0)
    monkeypatch.setattr(spec, "read_streamed",
                        lambda path, groups: dio.read(path, groups=groups))
    whole = spec.specificity(session, generated, tmp_path / "b.csv", tmp_path / "b.tex", cfg,
                             config={}, seed=0)
    pd.testing.assert_frame_equal(streamed, whole)
    assert (tmp_path / "a.tex").read_text() == (tmp_path / "b.tex").read_text()
