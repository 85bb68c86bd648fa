"""The widefield rule functions end to end on a tiny planted session, and the assembly helpers."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage

from benediff import config as bconfig
from benediff.figures.widefield import run_qc
from benediff.io import atlas as atl
from benediff.io import session_atlas
from benediff.io.regions import make_grouping
from benediff.io.dataset import read, validate
from benediff.widefield import pipeline as wp
from benediff.widefield import registration as reg
from benediff.widefield.readers import ReaderError, write_dat

torch.set_num_threads(1)

SHAPE = (32, 40)
N_T, TRIAL_LEN, N_TRIALS = 400, 80, 5


def widefield_cfg(**over):
    cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})["widefield"]
    cfg["svd"]["rank"] = 12
    cfg["min_pixels"] = 20
    cfg["motion"]["nref"] = 20
    cfg["locanmf"].update(max_rank=1, loc_thresh=70.0, maxiter_lambda=20)
    cfg.update(over)
    return cfg


def atlas_in_own_frame():
    labels = np.zeros(SHAPE, np.int32)
    labels[2:15, 3:19], labels[15:29, 3:19] = 1, 2
    labels[2:15, 21:37], labels[15:29, 21:37] = -1, -2
    labels[29:31, 3:6] = 3  # 6 px: dropped with min_pixels 20
    return atl.Atlas(labels, {1: "VISp1", 2: "MOs1", 3: "SSp_bfd1"})


def landmarks():
    src = {"a": (5.0, 5.0), "b": (30.0, 5.0), "c": (18.0, 25.0)}
    return {"landmarks_im": [{"name": n, "x": x, "y": y} for n, (x, y) in src.items()],
            "landmarks_match": [{"name": n, "x": x + 1, "y": y} for n, (x, y) in src.items()],
            "transform_type": "similarity", "resolution": 0.05, "bregma_offset": [20, 16]}


def make_session(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    atlas = atlas_in_own_frame()
    atl.save_npz(tmp_path / "atlas.npz", atlas)
    (tmp_path / "landmarks.json").write_text(json.dumps(landmarks()))
    session_labels = reg.align_atlas(atlas, landmarks(), SHAPE).labels
    codes = [1, 2, -1, -2]
    footprints, traces = [], []
    for code in codes:
        region = session_labels == code
        cy, cx = np.argwhere(region).mean(0)
        yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
        bump = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0) * region
        footprints.append(bump / bump.max())
        events = (rng.random(N_T) < 0.04) * rng.uniform(0.5, 1.5, N_T)
        traces.append(np.convolve(events, np.exp(-np.arange(40) / 6.0))[:N_T])
    footprints, traces = np.array(footprints), np.array(traces)
    hemo = ndimage.gaussian_filter1d(rng.normal(size=N_T), 5) * 5
    base = 1000 + 300 * ndimage.gaussian_filter(rng.random(SHAPE), 1)
    brain = ndimage.gaussian_filter((session_labels != 0).astype(float), 0.7)
    base = base * (0.1 + 0.9 * brain)  # dark skull around the imaged brain
    blue = 0.05 * np.einsum("rhw,rt->thw", footprints, traces) + 0.03 * hemo[:, None, None]
    violet = 0.03 * hemo[:, None, None] + np.zeros(SHAPE)
    raw = np.empty((2 * N_T, *SHAPE), np.uint16)
    raw[0::2] = np.round(base * (1 + blue) + rng.normal(0, 1, (N_T, *SHAPE)))
    raw[1::2] = np.round(0.6 * base * (1 + violet) + rng.normal(0, 1, (N_T, *SHAPE)))
    movie = write_dat(tmp_path, "widefield", raw, 2)
    trials = pd.DataFrame({"trial_id": np.arange(10, 10 + N_TRIALS),
                           "start_frame": np.arange(N_TRIALS) * TRIAL_LEN,
                           "video_start_frame": np.arange(N_TRIALS) * TRIAL_LEN,
                           "n_frames": TRIAL_LEN})
    trials.to_csv(tmp_path / "trials.csv", index=False)
    return movie, dict(zip(codes, traces))


@pytest.fixture(scope="module")
def session_run(tmp_path_factory):
    pytest.importorskip("benediff.widefield.locanmf")
    d = tmp_path_factory.mktemp("wf")
    movie, truth = make_session(d)
    cfg = widefield_cfg()
    out = d / "results"
    wp.run_motion(movie, out / "motion.h5", cfg)
    wp.run_atlas(d / "atlas.npz", d / "landmarks.json", movie, out / "atlas.h5", cfg,
                 motion_h5=out / "motion.h5")
    wp.run_svd(movie, out / "motion.h5", out / "atlas.h5", d / "trials.csv", out / "svd.h5", cfg)
    wp.run_hemo(out / "svd.h5", out / "hemo.h5", cfg)
    with pytest.warns(UserWarning, match="SSp_bfd1_L"):
        wp.run_locanmf(out / "hemo.h5", out / "atlas.h5", out / "locanmf.h5", cfg)
    wp.run_neural(out / "locanmf.h5", out / "atlas.h5", d / "trials.csv", out / "neural.h5", "S",
                  cfg, {"seed": 0})
    run_qc(out / "locanmf.h5", out / "atlas.h5", out / "motion.h5", out / "hemo.h5",
              out / "qc.pdf", "S", cfg, {"seed": 0})
    return d, out, truth


def test_rule_chain_writes_valid_neural_dataset(session_run):
    d, out, truth = session_run
    validate(out / "neural.h5", require=("neural",))
    ds = read(out / "neural.h5")
    assert ds.n_trials == N_TRIALS and list(ds.trial_ids) == list(range(10, 15))
    assert all(x.shape == (TRIAL_LEN, 4) for x in ds.neural)
    assert sorted(ds.regions) == ["MOs_L", "MOs_R", "VIS_L", "VIS_R"]
    neural = np.concatenate(ds.neural)  # trials tile the recording
    key = {1: "VIS_L", 2: "MOs_L", -1: "VIS_R", -2: "MOs_R"}
    for code, trace in truth.items():
        (col,) = ds.regions[key[code]]
        assert np.corrcoef(neural[:, col], trace)[0, 1] > 0.9


def test_rule_chain_intermediates_and_qc(session_run):
    d, out, _ = session_run
    with h5py.File(out / "motion.h5") as f:
        assert f["shifts"].shape == (2, N_T, 2) and np.abs(f["shifts"][()]).max() < 0.5
        assert list(f.attrs["order"]) == [0, 1]
    with h5py.File(out / "svd.h5") as f:
        assert f["U"].shape == (*SHAPE, 12) and f["SVT"].shape == (12, 2 * N_T)
    with h5py.File(out / "hemo.h5") as f:
        assert f["V"].shape == (12, N_T) and f["r"].shape == SHAPE
    from benediff.widefield.locanmf import LocaNMF

    checks = session_atlas.read_atlas_checks(out / "atlas.h5")  # the landmark check and the brain mask
    assert checks["overlap"] > 0.9 and checks["brain_found"] and checks["dropped_outside"] == []
    with h5py.File(out / "svd.h5") as f:  # svd.mask: brain (default) = the recording's mask
        np.testing.assert_array_equal(f["mask"][()], checks["brain_mask"])
    model = LocaNMF.load(out / "locanmf.h5")
    assert 3 in model.dropped_regions_.tolist()
    assert (out / "qc.pdf").stat().st_size > 10_000 and (out / "qc.pdf.json").exists()


def test_cut_trials_and_component_regions_by_hand():
    temporal = np.arange(20, dtype=float).reshape(2, 10)
    trials = pd.DataFrame({"trial_id": [7, 9], "start_frame": [1, 6], "n_frames": [3, 3]})
    cut = wp.cut_trials(temporal, trials)
    np.testing.assert_array_equal(cut[0], [[1, 11], [2, 12], [3, 13]])
    np.testing.assert_array_equal(cut[1], [[6, 16], [7, 17], [8, 18]])
    atlas = atl.Atlas(np.zeros((2, 2)), {5: "VISp1", 6: "VISam1", 8: "MOs1", 9: "ORBm1"})
    regions = wp.component_regions([5, -5, 6, 8, 9, -8], atlas)
    assert {k: v.tolist() for k, v in regions.items()} == {
        "MOs_L": [3], "MOs_R": [5], "ORBm_L": [4], "VIS_L": [0, 2], "VIS_R": [1]}
    dropped = wp.component_regions([5, 9], atlas, make_grouping({"ORBm1": None}))
    assert list(dropped) == ["VIS_L"]
    with pytest.raises(wp.WidefieldError, match="trial 9 spans frames 6..12"):
        wp.cut_trials(temporal, trials.assign(n_frames=[3, 6]), "trials.csv")


def test_bad_inputs_raise_clear_errors(tmp_path):
    movie, _ = make_session(tmp_path)
    cfg = widefield_cfg()
    odd = write_dat(tmp_path / "odd", "widefield", np.zeros((3, *SHAPE), np.uint16), 1)
    odd = odd.rename(odd.with_name(odd.name.replace("_1_", "_2_")))  # claims 2 channels, 3 frames
    with pytest.raises(ReaderError, match="truncated|not divisible"):
        wp.run_motion(odd, tmp_path / "m.h5", cfg)
    with pytest.raises(ReaderError):
        wp.run_motion(write_dat(tmp_path, "three", np.zeros((3, 4, 4), np.uint16), 1),
                      tmp_path / "m.h5", cfg)
    assert not (tmp_path / "m.h5").exists()
    far = landmarks()
    for p in far["landmarks_match"]:
        p["x"] += 500
    (tmp_path / "far.json").write_text(json.dumps(far))
    with pytest.raises(atl.AtlasError, match="does not overlap"):
        wp.run_atlas(tmp_path / "atlas.npz", tmp_path / "far.json", movie, tmp_path / "a.h5", cfg)
    assert not (tmp_path / "a.h5").exists()
    bad_trials = tmp_path / "bad.csv"
    bad_trials.write_text("trial_id,n_frames\n1,10\n")
    with pytest.raises(wp.WidefieldError, match="start_frame"):
        wp.read_trials(bad_trials)


def test_atlas_not_overlapping_mask_raises(tmp_path):
    atlas = atl.Atlas(np.pad(np.ones((4, 4), np.int32), ((0, 12), (0, 12))), {1: "VISp"})
    session_atlas.write_atlas_h5(tmp_path / "atlas.h5", atlas)
    mask = np.zeros((16, 16), bool)
    mask[8:, 8:] = True
    with h5py.File(tmp_path / "hemo.h5", "w") as f:
        f["U"], f["V"], f["mask"] = np.ones((16, 16, 2), np.float32), np.ones((2, 5)), mask
    with pytest.raises(atl.AtlasError, match="covers 0 of 64"):
        wp.prepare_locanmf_input(tmp_path / "hemo.h5", tmp_path / "atlas.h5", widefield_cfg())


def test_run_atlas_merges_groups_when_configured(tmp_path):
    atlas = atl.Atlas(np.pad(np.array([[1, 2], [3, 0]], np.int32).repeat(8, 0).repeat(8, 1),
                             ((4, 4), (4, 4))), {1: "VISp1", 2: "VISam1", 3: "MOs1"})
    atl.save_npz(tmp_path / "atlas.npz", atlas)
    (tmp_path / "lm.json").write_text(json.dumps(landmarks()))
    movie = write_dat(tmp_path, "wf", np.zeros((4, 24, 24), np.uint16), 2)
    cfg = widefield_cfg(merge_regions=True)
    wp.run_atlas(tmp_path / "atlas.npz", tmp_path / "lm.json", movie, tmp_path / "a.h5", cfg)
    merged = session_atlas.read_atlas_h5(tmp_path / "a.h5")
    assert merged.names == {1: "MOs", 2: "VIS"}
    assert set(np.unique(merged.labels)) == {0, 1, 2}
    assert np.count_nonzero(merged.labels == 2) == 128  # VISp1 + VISam1 (8 x 8 each)


def test_single_channel_svd_passes_through_hemo(tmp_path):
    rng = np.random.default_rng(7)
    frames = (1000 + 50 * rng.random((60, 12, 12))).astype(np.uint16)
    movie = write_dat(tmp_path, "one", frames, 1)
    cfg = widefield_cfg(channels=1)
    cfg["svd"].update(rank=5, mask="none", bin_size=3)
    wp.run_motion(movie, tmp_path / "m.h5", cfg)
    trials = tmp_path / "trials.csv"
    trials.write_text("trial_id,start_frame,n_frames\n1,0,30\n2,30,30\n")
    session_atlas.write_atlas_h5(tmp_path / "a.h5", atl.Atlas(np.ones((12, 12), np.int32), {1: "VISp"}))
    wp.run_svd(movie, tmp_path / "m.h5", tmp_path / "a.h5", trials, tmp_path / "svd.h5", cfg)
    wp.run_hemo(tmp_path / "svd.h5", tmp_path / "hemo.h5", cfg)
    with h5py.File(tmp_path / "svd.h5") as s, h5py.File(tmp_path / "hemo.h5") as h:
        assert s["SVT"].shape == (5, 60) and "r" not in h
        np.testing.assert_array_equal(h["V"][()], s["SVT"][()])


def test_compressed_input_uses_its_own_mask_for_the_landmark_check(tmp_path):
    from benediff.widefield.svd_inputs import write_vc_uc_mat

    atlas = atlas_in_own_frame()
    atl.save_npz(tmp_path / "atlas.npz", atlas)
    (tmp_path / "lm.json").write_text(json.dumps(landmarks()))
    brain = reg.align_atlas(atlas, landmarks(), SHAPE).labels != 0
    rng = np.random.default_rng(3)
    U = rng.random((*SHAPE, 4)) * brain[..., None]
    movie = tmp_path / "Vc_Uc.mat"
    write_vc_uc_mat(movie, U, rng.random((4, 50)), brain)
    cfg = widefield_cfg()
    wp.run_atlas(tmp_path / "atlas.npz", tmp_path / "lm.json", movie, tmp_path / "a.h5", cfg,
                 "vc_uc_mat", motion_h5=None)
    checks = session_atlas.read_atlas_checks(tmp_path / "a.h5")
    assert checks["overlap"] > 0.95 and checks["mean_frame"] is None
    np.testing.assert_array_equal(checks["brain_mask"], brain)
    far = landmarks()
    for p in far["landmarks_match"]:
        p["x"] += 15
    (tmp_path / "far.json").write_text(json.dumps(far))
    with pytest.raises(atl.AtlasError, match=r"far\.json: .*overlap 0\.\d\d"):
        wp.run_atlas(tmp_path / "atlas.npz", tmp_path / "far.json", movie, tmp_path / "b.h5",
                     cfg, "vc_uc_mat")
