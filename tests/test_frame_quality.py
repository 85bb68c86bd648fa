"""Blank, constant, saturated frames and brightness jumps: found, interpolated over, or fatal."""

import h5py
import numpy as np
import pytest
from scipy import ndimage

from benediff.widefield.pipeline import WidefieldError, run_motion, run_svd
from benediff.widefield.quality import classify, interpolate_columns
from benediff.widefield.readers import ArrayReader, write_dat
from benediff.widefield.svd import compress

CFG_BAD = {"max_fraction": 0.05, "jump": 0.2, "saturated": 0.5}


def planted_movie(rng, n_t=600, shape=(20, 24), rank=4):
    """Interleaved 2-channel movie F = F0·(1 + maps·traces), values about 800..1200."""
    p = shape[0] * shape[1]
    maps = rng.random((2, rank, p)) * 0.05
    traces = ndimage.gaussian_filter1d(rng.normal(size=(2, rank, n_t)), 3, axis=-1)
    f0 = rng.uniform(800, 1200, size=p)
    movie = f0 * (1 + np.einsum("crp,crt->ctp", maps, traces))
    raw = np.empty((2 * n_t, *shape), np.float32)
    raw[0::2], raw[1::2] = (movie[c].reshape(n_t, *shape) for c in range(2))
    return raw


def test_classify_hand_case():
    means = np.full((1, 40), 1000.0)
    stds = np.full((1, 40), 50.0)
    sat = np.full((1, 40), 0.001)
    means[0, 5], stds[0, 5] = 0.0, 0.0  # blank
    stds[0, 9] = 0.0  # constant, not dark
    sat[0, 14] = 0.9  # saturated
    means[0, 20] = 1500.0  # a 50 % jump
    means[0, 30] = 1100.0  # 10 %: a real fluctuation, kept
    bad, reasons = classify(means, stds, sat, jump=0.2, saturated=0.5)
    assert np.flatnonzero(bad[0]).tolist() == [5, 9, 14, 20]
    assert reasons == {"blank": 1, "constant": 1, "saturated": 1, "jump": 1}


def test_interpolate_columns_is_linear_in_time_per_channel():
    svt = np.arange(2 * 6, dtype=float).reshape(1, 12)  # channel 0: 0, 2, 4, ...; 1: 1, 3, ...
    bad = np.zeros((2, 6), bool)
    bad[0, 2] = bad[1, 0] = True
    spoiled = svt.copy()
    spoiled[0, 4] = spoiled[0, 1] = 99.0
    out = interpolate_columns(spoiled, bad, 2)
    assert out[0, 4] == 4.0  # between 2 and 6
    assert out[0, 1] == 3.0  # leading bad frame of channel 1 takes its nearest good value


def test_blank_frames_are_interpolated_not_spikes(tmp_path):
    rng = np.random.default_rng(3)
    clean = planted_movie(rng)
    spoiled = clean.copy()
    spoiled[2 * 300:2 * 315] = 0  # 15 cycles of both channels blank (2.5 % of the recording)
    cfg = _cfg()
    outs = {}
    for name, movie in (("clean", clean), ("spoiled", spoiled)):
        path = write_dat(tmp_path, name, movie.astype(np.uint16), 2)
        motion = tmp_path / f"{name}_motion.h5"
        with pytest.warns(UserWarning, match="15 unusable frames") if name == "spoiled" else _null():
            run_motion(path, motion, cfg)
        with h5py.File(motion) as f:
            assert int(f["bad_frames"][()].any(0).sum()) == (15 if name == "spoiled" else 0)
        outs[name] = _svd(path, motion, cfg)
    blue = [o[:, ::2] for o in (outs["clean"], outs["spoiled"])]
    assert np.abs(blue[1]).max() < 1.5 * np.abs(blue[0]).max()  # no spike
    outside = np.r_[0:290, 325:600]
    corr = np.corrcoef(blue[0][:, outside].ravel(), blue[1][:, outside].ravel())[0, 1]
    assert corr > 0.99


def test_too_many_bad_frames_stop_the_run(tmp_path):
    rng = np.random.default_rng(4)
    movie = planted_movie(rng)
    movie[2 * 100:2 * 160] = 0  # 10 % of the recording
    path = write_dat(tmp_path, "bad", movie.astype(np.uint16), 2)
    out = tmp_path / "motion.h5"
    with pytest.raises(WidefieldError) as err:
        run_motion(path, out, _cfg())
    msg = str(err.value)
    assert str(path) in msg and "60 of 600 frames (10.0 %)" in msg and "60 blank" in msg
    assert "widefield.bad_frames.max_fraction" in msg
    assert not out.exists()


def test_compress_without_bad_frames_is_unchanged():
    rng = np.random.default_rng(5)
    raw = planted_movie(rng, n_t=200)
    a = compress(ArrayReader(raw), 2, [0, 1], k=6, bin_size=5, chunk=50)
    b = compress(ArrayReader(raw), 2, [0, 1], k=6, bin_size=5, chunk=50,
                 bad=np.zeros((2, 200), bool), fill=np.zeros((2, 20, 24), np.float32))
    np.testing.assert_array_equal(a.SVT, b.SVT)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _cfg():
    from benediff import config as bconfig

    cfg = bconfig.validate({"sessions": {"A": {"source": "simulate"}}})["widefield"]
    cfg["motion"]["enabled"] = False
    cfg["svd"]["mask"] = "none"
    cfg["svd"]["rank"] = 8
    cfg["svd"]["bin_size"] = 5
    cfg["chunk_frames"] = 64
    return cfg


def _svd(movie, motion, cfg):
    import pandas as pd

    trials = movie.parent / "trials.csv"
    pd.DataFrame({"trial_id": [0], "start_frame": [0], "n_frames": [600]}).to_csv(trials,
                                                                                  index=False)
    out = movie.parent / f"{movie.stem}_svd.h5"
    run_svd(movie, motion, None, trials, out, cfg)
    with h5py.File(out) as f:
        return f["U"][()].reshape(-1, f["U"].shape[-1]) @ f["SVT"][()]
