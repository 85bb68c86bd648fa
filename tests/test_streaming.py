"""Streamed dataset reads/writes (issue #27): same numbers as an in-memory reference."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from benediff.assemble import assemble_dataset
from benediff.behavior.clips import build_clips, crop_resize, frame_indices
from benediff.behavior.video import iter_gray_frames
from benediff.io import dataset
from benediff.io.split import make_split, write_split
from benediff.io.video import write_gray_mp4
from benediff.simulate import SimParams, simulate_session
from benediff.simulate.render import render_views
from benediff.simulate.truth import read_truth


def _toy(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return dataset.Dataset(
        session="S", frame_rate=30.0, trial_ids=np.arange(n) * 3 + 1,
        neural=[rng.normal(size=(9, 5)).astype(np.float32) for _ in range(n)],
        labels=[rng.normal(size=(9, 3)).astype(np.float32) for _ in range(n)],
        label_names=["a", "b", "c"],
        images=[rng.integers(0, 256, (9, 2, 8, 8), dtype=np.uint8) for _ in range(n)],
        regions={"A": np.array([0, 1]), "B": np.array([2, 3, 4])},
        split={"train": np.arange(n - 2), "val": np.array([n - 2]), "test": np.array([n - 1])},
        provenance={"k": 1})


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _assert_same(path, ref: dataset.Dataset):
    back = dataset.read(path)
    np.testing.assert_array_equal(back.trial_ids, ref.trial_ids)
    for name in dataset.GROUPS:
        want = getattr(ref, name)
        got = getattr(back, name)
        assert (got is None) == (want is None), name
        if want is not None:
            assert len(got) == len(want)
            for a, b in zip(got, want):
                assert a.dtype == (np.uint8 if name == "images" else np.float32)
                np.testing.assert_array_equal(a, b)
    assert back.label_names == ref.label_names
    assert {k: v.tolist() for k, v in back.regions.items()} == \
        {k: list(v) for k, v in ref.regions.items()}
    assert {k: v.tolist() for k, v in back.split.items()} == \
        {k: list(v) for k, v in ref.split.items()}


def test_lazy_trials_write_the_same_bytes_as_lists(tmp_path):
    ds = _toy()
    dataset.write(tmp_path / "lists.h5", ds)
    lazy = dataset.Dataset(**ds.__dict__)
    for name in dataset.GROUPS:
        arrays = getattr(ds, name)
        setattr(lazy, name, dataset.TrialArrays(len(arrays), lambda i, a=arrays: a[i]))
    dataset.write(tmp_path / "lazy.h5", lazy)
    assert _md5(tmp_path / "lists.h5") == _md5(tmp_path / "lazy.h5")
    _assert_same(tmp_path / "lazy.h5", ds)


def test_lazy_read_matches_eager_read(tmp_path):
    ds = _toy()
    dataset.write(tmp_path / "d.h5", ds)
    eager, lazy = dataset.read(tmp_path / "d.h5"), dataset.read(tmp_path / "d.h5", lazy=True)
    assert isinstance(lazy.images, dataset.TrialArrays) and len(lazy.images) == ds.n_trials
    for name in dataset.GROUPS:
        for a, b in zip(getattr(eager, name), getattr(lazy, name)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lazy.images[-1], ds.images[-1])
    assert [x.shape for x in lazy.neural[1:3]] == [(9, 5)] * 2
    with pytest.raises(IndexError):
        lazy.images[ds.n_trials]


def test_stream_write_in_any_order_equals_write(tmp_path):
    ds = _toy()
    head = dataset.Dataset(**{**ds.__dict__, "images": None})
    order = np.random.default_rng(1).permutation(ds.n_trials)
    with dataset.stream_write(tmp_path / "s.h5", head, groups=("images",)) as put:
        for t in order:
            put("images", t, ds.images[t])
    _assert_same(tmp_path / "s.h5", ds)


def test_stream_write_missing_trial_leaves_nothing(tmp_path):
    ds = _toy()
    head = dataset.Dataset(**{**ds.__dict__, "images": None})
    with (pytest.raises(dataset.DatasetError, match="missing positions"),
          dataset.stream_write(tmp_path / "s.h5", head, groups=("images",)) as put):
        for t in range(ds.n_trials - 1):
            put("images", t, ds.images[t])
    assert not (tmp_path / "s.h5").exists()
    with (pytest.raises(dataset.DatasetError, match="written twice"),
          dataset.stream_write(tmp_path / "s.h5", head, groups=("images",)) as put):
        put("images", 0, ds.images[0])
        put("images", 0, ds.images[0])
    assert not list(tmp_path.iterdir())


def test_streamed_clips_equal_an_in_memory_reference(tmp_path):
    # a 60 fps video of distinct frames, trials with gaps and of different lengths
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (90, 32, 64), dtype=np.uint8)
    frames = np.repeat(np.repeat(frames[:, ::4, ::4], 4, 1), 4, 2)  # blocky: survives the codec
    write_gray_mp4(tmp_path / "v.mp4", frames, 60.0, width=64, height=32)
    trials = pd.DataFrame({"trial_id": [2, 5, 7, 9], "start_frame": [0, 11, 23, 31],
                           "video_start_frame": [0, 22, 46, 62], "n_frames": [10, 12, 8, 14]})
    trials.to_csv(tmp_path / "trials.csv", index=False)
    views = [{"x": 0, "y": 0, "width": 32, "height": 32},
             {"x": 32, "y": 0, "width": 32, "height": 32}]
    build_clips(tmp_path / "v.mp4", tmp_path / "trials.csv", tmp_path / "clips.h5", session="S",
                views=views, size=16, neural_rate=30.0)
    # reference: decode the whole video into memory, then cut every trial from it
    decoded = [f for _, f in iter_gray_frames(tmp_path / "v.mp4")]
    ref = [np.stack([crop_resize(decoded[i], views, 16)
                     for i in frame_indices(int(r.video_start_frame), int(r.n_frames), 60.0, 30.0)])
           for r in trials.itertuples()]
    back = dataset.read(tmp_path / "clips.h5")
    np.testing.assert_array_equal(back.trial_ids, trials.trial_id)
    assert len(back.images) == 4
    for got, want in zip(back.images, ref):
        np.testing.assert_array_equal(got, want)
    assert ref[0].std() > 20


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    out = tmp_path_factory.mktemp("sess")
    simulate_session(out, SimParams(seed=4, n_trials=6, frames_per_trial=20, movie_height=32,
                                    movie_width=32, view_size=32, movie_formats=("dat",)))
    write_split(out / "split.json", make_split(6, blocks=[4, 1, 1], seed=0))
    return out


def test_assembled_truth_equals_in_memory_truth(session, tmp_path):
    assemble_dataset(tmp_path / "d.h5", session="S", inputs={
        "truth": str(session / "truth.h5"), "split": str(session / "split.json")},
        sources={"neural": "truth", "labels": "truth", "images": "truth"}, image_size=16,
        config={"seed": 0})
    gt = read_truth(session / "truth.h5")
    starts, lengths = gt["start_frame"], gt["n_frames"]
    back = dataset.read(tmp_path / "d.h5")
    assert back.n_trials == 6
    for t, (s, n) in enumerate(zip(starts, lengths)):
        beh = gt["behavior"][s:s + n].astype(np.float32)
        np.testing.assert_array_equal(back.neural[t], gt["activities"][s:s + n].astype(np.float32))
        np.testing.assert_array_equal(back.labels[t], beh)
        np.testing.assert_array_equal(back.images[t], render_views(beh.astype(np.float64), 16))


def test_measurement_noise_has_its_variance_and_its_seed(session, tmp_path):
    """dataset.neural_noise: noise variance = the fraction of each planted component's variance
    (checked against the truth file, pooled over components), the same seed and session give
    the same file, another session another draw, labels untouched."""
    def build(name, sess="S"):
        assemble_dataset(tmp_path / name, session=sess, inputs={
            "truth": str(session / "truth.h5"), "split": str(session / "split.json")},
            sources={"neural": "truth", "labels": "truth"}, image_size=16, config={"seed": 0},
            neural_noise=0.25)
        return dataset.read(tmp_path / name)

    gt = read_truth(session / "truth.h5")
    clean = np.concatenate([gt["activities"][s:s + n] for s, n in
                            zip(gt["start_frame"], gt["n_frames"])]).astype(np.float64)
    a, b, other = build("a.h5"), build("b.h5"), build("c.h5", "T")
    noise = np.concatenate(a.neural) - clean
    ratio = noise.var(0) / clean.var(0)
    assert abs(np.mean(ratio) - 0.25) < 0.03, ratio
    assert abs(noise.mean()) < 0.1 * noise.std()
    for x, y in zip(a.neural, b.neural):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(np.concatenate(other.neural), np.concatenate(a.neural))
    np.testing.assert_array_equal(np.concatenate(a.labels),
                                  np.concatenate([gt["behavior"][s:s + n] for s, n in zip(
                                      gt["start_frame"], gt["n_frames"])]).astype(np.float32))


def test_assembled_from_stage_files_equals_the_files(session, tmp_path):
    ds = _toy(6)
    ds.neural = [x[:, :5] for x in ds.neural]
    for name in ("neural", "labels", "images"):
        part = dataset.Dataset(session="S", frame_rate=30.0, trial_ids=ds.trial_ids,
                               **{name: getattr(ds, name)})
        if name == "neural":
            part.regions = ds.regions
        if name == "labels":
            part.label_names = ds.label_names
        dataset.write(tmp_path / f"{name}.h5", part)
    assemble_dataset(tmp_path / "d.h5", session="S", inputs={
        "neural": str(tmp_path / "neural.h5"), "labels": str(tmp_path / "labels.h5"),
        "images": str(tmp_path / "images.h5"), "split": str(session / "split.json")},
        sources={"neural": "stage", "labels": "stage", "images": "stage"}, image_size=8,
        config={"seed": 0})
    ref = dataset.Dataset(**ds.__dict__)
    ref.split = dataset.read(tmp_path / "d.h5").split
    ref.split = {k: list(v) for k, v in ref.split.items()}
    _assert_same(tmp_path / "d.h5", ref)
