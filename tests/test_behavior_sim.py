"""On a simulated session, recovered behaviour labels track the planted behaviour (r ≥ 0.95)."""

import numpy as np
import pytest

from benediff import config as bconfig
from benediff.behavior.clips import build_clips, crop_resize
from benediff.behavior.labels import build_labels
from benediff.behavior.pose import normalise_pose
from benediff.io.split import make_split, write_split

session = pytest.importorskip("benediff.simulate.session")
params = pytest.importorskip("benediff.simulate.params")
truth = pytest.importorskip("benediff.simulate.truth")
render = pytest.importorskip("benediff.simulate.render")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    # demo view size and video; fewer, shorter trials and a smaller widefield movie
    p = params.SimParams(seed=3, n_trials=10, frames_per_trial=60, movie_height=32,
                         movie_width=32, movie_formats=("dat",))
    return session.simulate_session(out, p), out, p.view_size


def test_recovered_labels_correlate_with_planted(sim):
    paths, out, _ = sim
    cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})["behavior"]
    normalise_pose(paths["pose"], paths["video"], out / "pose.h5", out / "pose.json",
                   pcutoff=cfg["pose"]["pcutoff"])
    write_split(out / "split.json", make_split(10, (8, 1, 1), 0))
    ds = build_labels(out / "pose.h5", out / "pose.json", paths["trials"], out / "split.json",
                      out / "labels.h5", session="S", behaviors=list(cfg["labels"]["mapping"]),
                      mapping=cfg["labels"]["mapping"], neural_rate=30.0,
                      max_gap=cfg["labels"]["max_gap"])
    gt = truth.read_truth(paths["truth"])
    planted = np.concatenate([gt["behavior"][s:s + n]
                              for s, n in zip(gt["start_frame"], gt["n_frames"])])
    recovered = np.concatenate(ds.labels)
    assert ds.label_names == ["Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Chest"]
    r = [np.corrcoef(planted[:, i], recovered[:, i])[0, 1] for i in range(6)]
    assert min(r) >= 0.95, dict(zip(ds.label_names, np.round(r, 3)))


def _temporal_corr(a, b):
    """Correlation of two (T, ...) movies after removing each pixel's temporal mean."""
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())


def test_clips_of_simulated_session(sim):
    paths, out, size = sim
    views = [{"x": 0, "y": 0, "width": size, "height": size},
             {"x": size, "y": 0, "width": size, "height": size}]
    ds = build_clips(paths["video"], paths["trials"], out / "clips.h5", session="S",
                     views=views, size=16, neural_rate=30.0)
    assert [x.shape for x in ds.images] == [(60, 2, 16, 16)] * 10
    # reference: the simulator's noise-free rendering of the planted behaviour, same downscale
    gt = truth.read_truth(paths["truth"])
    whole = [{"x": 0, "y": 0, "width": size, "height": size}]
    planted = np.concatenate([render.render_views(gt["behavior"][s:s + n], size)
                              for s, n in zip(gt["start_frame"], gt["n_frames"])])
    reference = np.stack([[crop_resize(view, whole, 16)[0] for view in frame]
                          for frame in planted]).astype(float)
    clips = np.concatenate(ds.images).astype(float)
    assert _temporal_corr(clips, reference) > 0.95
    # one neural frame of misalignment is clearly worse: the alignment is exact
    assert _temporal_corr(clips[1:], reference[:-1]) < 0.9
