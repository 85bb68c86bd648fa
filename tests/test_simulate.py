"""Simulator: outputs, ground truth, determinism, pose/video, atlases, config (tiny sessions)."""

import json

import av
import h5py
import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy.ndimage import gaussian_filter, shift

from benediff.config import ConfigError, validate
from benediff.io import dataset
from benediff.io.atlas import consolidate, fit_transform
from benediff.simulate import (BEHAVIORS, KEYPOINTS, SimParams, SimulationError, atlas_input,
                               load_truth_dataset,
                               movie_shape, params_from_config, raw_paths, read_truth,
                               simulate_session)
from benediff.simulate.movie import optics
from benediff.simulate.render import render
from shared_data import SHARED_DATA

DATA = SHARED_DATA
TINY = dict(n_trials=6, frames_per_trial=40, movie_height=32, movie_width=32, view_size=64)
# which keypoint coordinate carries each behaviour variable (documented in config/README.md)
KEYPOINT_OF = {"Levers": ("lever_tip", "y"), "Spouts": ("spout_tip", "x"),
               "Paw-x": ("paw_side", "x"), "Paw-y": ("paw_side", "y"),
               "Jaw": ("jaw", "y"), "Chest": ("chest", "y")}


def tiny(**kw):
    return SimParams(**{**TINY, "seed": 7, **kw})


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    out = tmp_path_factory.mktemp("noisy")
    simulate_session(out, tiny())
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    simulate_session(out, tiny(noise=False))
    return out


def dat_movie(d):
    return np.fromfile(d / "widefield_2_32_32_uint16.dat", np.uint16).reshape(-1, 2, 32, 32)


def test_outputs_shapes_dtypes_ranges(noisy):
    gt = read_truth(noisy / "truth.h5")
    n_frames = len(gt["activities"])
    movie = dat_movie(noisy)
    assert movie.shape == (n_frames, 2, 32, 32)
    tif = tifffile.imread(noisy / "widefield.tif")
    assert tif.dtype == np.uint16 and tif.shape == (2 * n_frames, 32, 32)
    np.testing.assert_array_equal(tif[0::2], movie[:, 0])  # blue first, then violet
    np.testing.assert_array_equal(tif[1::2], movie[:, 1])
    brain = gt["session_labels"] != 0
    assert 1500 < movie[:, 0][:, brain].mean() < 4000 and movie.max() < 10000
    assert movie[:, 0][:, ~brain].mean() < 0.5 * movie[:, 0][:, brain].mean()
    fp = gt["footprints"]
    assert fp.dtype == np.float32 and fp.min() >= 0 and np.all(fp.reshape(len(fp), -1).max(1) == 1.0)
    assert len(fp) == 20 and sorted(set(gt["component_names"])) == sorted(
        f"{g}_{s}" for g in ("VIS", "SSp", "MOs", "MOp", "RSP") for s in "LR")
    assert gt["activities"].shape == (n_frames, 20) and gt["behavior"].shape == (n_frames, 6)
    assert 0.005 < gt["activities"].std() < 0.1
    trials = pd.read_csv(noisy / "trials.csv")
    assert list(trials.columns) == ["trial_id", "start_frame", "video_start_frame", "n_frames"]
    assert len(trials) == 6 and (trials.n_frames == 40).all()
    gaps = np.diff(trials.start_frame) - 40
    assert gaps.min() >= 3 and gaps.max() <= 8
    with h5py.File(noisy / "truth.h5") as f:
        assert list(f["behavior"].attrs["names"]) == list(BEHAVIORS)
        assert json.loads(f.attrs["params"])["seed"] == 7


def test_footprints_lie_mostly_inside_their_region(noisy):
    gt = read_truth(noisy / "truth.h5")
    labels = gt["session_labels"]
    with np.load(noisy / "atlas.npz") as a:
        names = dict(zip(a["codes"].tolist(), a["names"].tolist()))
    fractions = []
    for fp, region in zip(gt["footprints"], gt["component_names"]):
        group, side = region.split("_")
        sign = 1 if side == "L" else -1
        inside = np.isin(labels, [sign * c for c, n in names.items() if consolidate(n) == group])
        fractions.append(fp[inside].sum() / fp.sum())
        assert np.unravel_index(fp.argmax(), fp.shape) in set(zip(*np.nonzero(inside))), region
    assert min(fractions) > 0.65 and np.mean(fractions) > 0.85


def test_atlas_file_is_a_signed_mirrored_dorsal_cortex(noisy):
    with np.load(noisy / "atlas.npz") as a:
        labels, codes, names = a["labels"], a["codes"], a["names"]
    assert labels.dtype == np.int32 and codes.dtype == np.int32 and labels.shape == (32, 32)
    np.testing.assert_array_equal(labels[:, ::-1], -labels)  # left = +code at image left
    assert (labels[:, :16] >= 0).all() and set(np.abs(labels[labels != 0])) <= set(codes)
    assert {"VISp", "VISl", "VISam", "SSp-bfd", "SSp-ll", "SSp-ul", "MOs", "MOp", "RSPd",
            "RSPagl"} <= set(names.tolist())
    groups = {consolidate(n) for n in names}
    assert {"VIS", "SSp", "MOs", "MOp", "RSP"} <= groups
    rows = np.nonzero(labels)[0]
    name_of = dict(zip(codes.tolist(), names.tolist()))
    mean_row = {g: np.mean([r for r, c in zip(rows, np.abs(labels[labels != 0]))
                            if consolidate(name_of[c]) == g]) for g in ("MOs", "VIS")}
    assert mean_row["MOs"] < mean_row["VIS"]  # motor anterior, visual posterior


def test_landmarks_recover_the_planted_transform(noisy):
    lm = json.loads((noisy / "landmarks.json").read_text())
    assert lm["transform_type"] == "similarity" and lm["resolution"] > 0 and len(lm["bregma_offset"]) == 2
    assert {"OB_left", "OB_center", "OB_right", "RSP_base"} <= set(lm["landmarks_im"]["name"])
    tform = fit_transform(lm)
    truth = read_truth(noisy / "truth.h5")["transform"]
    np.testing.assert_allclose(tform.params, truth, atol=1e-6)
    angle = np.degrees(np.arctan2(truth[1, 0], truth[0, 0]))
    scale = np.hypot(truth[0, 0], truth[1, 0])
    assert abs(angle) <= 3 and abs(scale - 1) <= 0.05


def test_noise_free_ground_truth_reproduces_the_movie(clean):
    gt = read_truth(clean / "truth.h5")
    movie = dat_movie(clean)
    fp = gt["footprints"].astype(np.float64)
    for t in range(0, len(movie), 7):
        dff = np.tensordot(gt["activities"][t], fp, axes=1)
        hemo = 1 + gt["hemo_map"][None] * gt["haemodynamics"][t][:, None, None]
        frame = np.stack([gt["baseline_blue"] * (1 + dff), gt["baseline_violet"]]) * hemo
        expected = optics(frame[None], gt["jitter"][t][None], gt["params"].psf_sigma_px)[0]
        assert np.abs(movie[t] - expected).max() <= 0.5 + 1e-2, t


def test_optics_is_a_gaussian_blur_and_an_exact_subpixel_shift():
    """The Fourier-domain PSF + shift agrees with scipy's Gaussian filter and a quintic spline
    shift away from the frame edges, and moves a smooth bump's centroid by exactly the shift."""
    rng = np.random.default_rng(3)
    img = gaussian_filter(rng.standard_normal((48, 56)), 2.0) * 300 + 2000
    shifts = np.array([[[0.37, -0.21], [-1.4, 0.8]]])
    out = optics(np.stack([img, img])[None], shifts, 0.6)[0]
    for c in range(2):
        ref = shift(gaussian_filter(img, 0.6, mode="reflect"), shifts[0, c], order=5,
                    mode="reflect")
        inner = (slice(10, -10), slice(10, -10))
        assert np.abs(out[c][inner] - ref[inner]).max() < 0.05 * img.std()
    yy, xx = np.mgrid[:48, :56]
    bump = np.exp(-((yy - 24.0) ** 2 + (xx - 28.0) ** 2) / (2 * 3.0 ** 2))
    moved = optics(bump[None, None].repeat(2, 1), shifts, 0.0)[0]
    for c in range(2):
        cy, cx = (moved[c] * yy).sum() / moved[c].sum(), (moved[c] * xx).sum() / moved[c].sum()
        np.testing.assert_allclose([cy - 24, cx - 28], shifts[0, c], atol=1e-3)


def test_psf_blurs_vessels_below_the_pixel_scale(tmp_path):
    """With the default PSF the noise-free movie has far less energy at the highest spatial
    frequencies than without it (vessel edges are no sharper than about a pixel)."""
    def highfreq(d):
        frame = dat_movie(d)[0, 0].astype(np.float64)
        return np.abs(np.diff(frame, 2, axis=0)).mean() + np.abs(np.diff(frame, 2, axis=1)).mean()

    simulate_session(tmp_path / "sharp", tiny(noise=False, n_trials=2, psf_sigma_px=0.0))
    simulate_session(tmp_path / "blurred", tiny(noise=False, n_trials=2))
    assert SimParams().psf_sigma_px > 0
    assert highfreq(tmp_path / "blurred") < 0.6 * highfreq(tmp_path / "sharp")


def test_motion_is_locked_to_licking_and_reaching(tmp_path):
    """Shifts along y follow the jaw and along x the paw height; per-frame jitter is on by
    default; with the locked amplitudes at 0 the shifts do not follow behaviour."""
    assert SimParams().frame_jitter_px > 0 and SimParams().lick_shift_px > 0
    simulate_session(tmp_path / "locked", tiny(n_trials=10, jitter_px=0.0, frame_jitter_px=0.03,
                                               lick_shift_px=0.3, reach_shift_px=0.3))
    gt = read_truth(tmp_path / "locked" / "truth.h5")
    jaw, paw = gt["behavior"][:, BEHAVIORS.index("Jaw")], gt["behavior"][:, BEHAVIORS.index("Paw-y")]
    blue = gt["jitter"][:, 0]
    assert np.corrcoef(blue[:, 0], jaw)[0, 1] > 0.8
    assert np.corrcoef(blue[:, 1], paw)[0, 1] > 0.8
    white = np.diff(gt["jitter"][:, 0, 0] - 0.3 * jaw)
    assert 0.03 < white.std() / np.sqrt(2) < 0.05  # the independent jitter, 0.03 px
    simulate_session(tmp_path / "free", tiny(n_trials=10, lick_shift_px=0.0, reach_shift_px=0.0))
    free = read_truth(tmp_path / "free" / "truth.h5")["jitter"][:, 0]
    assert abs(np.corrcoef(free[:, 0], jaw)[0, 1]) < 0.3


def test_noise_free_movie_without_jitter_inverts_to_activities(tmp_path):
    simulate_session(tmp_path, tiny(noise=False, jitter_px=0.0, frame_jitter_px=0.0,
                                    lick_shift_px=0.0, reach_shift_px=0.0, psf_sigma_px=0.0,
                                    n_trials=2, baseline_counts=30000.0))
    gt = read_truth(tmp_path / "truth.h5")
    movie = dat_movie(tmp_path).astype(np.float64)
    hemo = 1 + gt["hemo_map"][None] * gt["haemodynamics"][:, 0, None, None]
    dff = movie[:, 0] / (gt["baseline_blue"] * hemo) - 1
    brain = gt["footprints"].max(0) > 0.5
    fp = gt["footprints"][:, brain].T
    recovered = np.linalg.lstsq(fp, dff[:, brain].T, rcond=None)[0].T
    np.testing.assert_allclose(recovered, gt["activities"], atol=2e-3)


def test_same_seed_same_bytes_other_seed_differs(noisy, tmp_path):
    simulate_session(tmp_path / "a", tiny())
    simulate_session(tmp_path / "b", tiny(seed=8))
    assert (tmp_path / "a" / "widefield_2_32_32_uint16.dat").read_bytes() == \
        (noisy / "widefield_2_32_32_uint16.dat").read_bytes()
    same, other = read_truth(tmp_path / "a" / "truth.h5"), read_truth(tmp_path / "b" / "truth.h5")
    ref = read_truth(noisy / "truth.h5")
    for key in ("footprints", "activities", "behavior", "latents", "jitter", "haemodynamics"):
        assert same[key].tobytes() == ref[key].tobytes(), key
        assert other[key].shape != ref[key].shape or other[key].tobytes() != ref[key].tobytes(), key
    pose = [pd.read_hdf(d / "behaviorDLC_simulated.h5").to_numpy() for d in (tmp_path / "a", noisy)]
    np.testing.assert_array_equal(*pose)
    assert (tmp_path / "b" / "widefield_2_32_32_uint16.dat").read_bytes() != \
        (noisy / "widefield_2_32_32_uint16.dat").read_bytes()


def test_pose_file_has_deeplabcut_layout(noisy):
    df = pd.read_hdf(noisy / "behaviorDLC_simulated.h5", key="df_with_missing")
    with pd.HDFStore(noisy / "behaviorDLC_simulated.h5", "r") as store:
        assert store.get_storer("df_with_missing").is_table
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(dict.fromkeys(df.columns.get_level_values("bodyparts"))) == list(KEYPOINTS)
    assert set(df.columns.get_level_values("coords")) == {"x", "y", "likelihood"}
    assert (df.dtypes == np.float32).all()
    n_video = len(read_truth(noisy / "truth.h5")["behavior_video"])
    np.testing.assert_array_equal(df.index.to_numpy(), np.arange(n_video))
    lik = df.xs("likelihood", level="coords", axis=1).to_numpy()
    assert 0 < (lik < 0.6).mean() < 0.1 and lik.max() <= 1
    x = df.xs("x", level="coords", axis=1).to_numpy()
    assert x.min() >= 0 and x.max() <= 128  # full-video pixels: bottom view at x >= 64
    assert df.xs("paw_bottom", level="bodyparts", axis=1).iloc[:, 0].mean() > 64


def test_each_behaviour_is_recoverable_from_one_keypoint(noisy):
    df = pd.read_hdf(noisy / "behaviorDLC_simulated.h5")
    beh = read_truth(noisy / "truth.h5")["behavior_video"]
    scorer = df.columns.get_level_values("scorer")[0]
    for i, name in enumerate(BEHAVIORS):
        part, coord = KEYPOINT_OF[name]
        ok = df[scorer][part]["likelihood"].to_numpy() >= 0.6
        r = np.corrcoef(df[scorer][part][coord].to_numpy()[ok], beh[ok, i])[0, 1]
        assert abs(r) >= 0.95, (name, r)


def test_video_decodes_to_the_right_frames(noisy):
    beh = read_truth(noisy / "truth.h5")["behavior_video"]
    with av.open(str(noisy / "behavior.mp4")) as container:
        frames = np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    assert frames.shape == (len(beh), 64, 128)
    expected = render(beh, 64).astype(float)
    assert np.abs(frames - expected).mean() < 6  # codec + pixel noise only


def test_video_timeline_may_have_its_own_fps(tmp_path):
    simulate_session(tmp_path, tiny(n_trials=2, video_fps=60.0))
    gt = read_truth(tmp_path / "truth.h5")
    trials = pd.read_csv(tmp_path / "trials.csv")
    np.testing.assert_array_equal(trials.video_start_frame, 2 * trials.start_frame)
    assert len(gt["behavior_video"]) == 2 * len(gt["behavior"])
    np.testing.assert_allclose(gt["behavior_video"][::2], gt["behavior"])
    assert len(pd.read_hdf(tmp_path / "behaviorDLC_simulated.h5")) == 2 * len(gt["behavior"])


def test_truth_dataset(noisy, tmp_path):
    ds = load_truth_dataset(noisy, image_size=32)
    gt = read_truth(noisy / "truth.h5")
    assert ds.n_trials == 6 and ds.label_names == list(BEHAVIORS) and ds.frame_rate == 30
    assert ds.neural[0].shape == (40, 20) and ds.neural[0].dtype == np.float32
    assert ds.labels[0].shape == (40, 6) and ds.images[0].shape == (40, 2, 32, 32)
    assert ds.images[0].dtype == np.uint8
    s = int(gt["start_frame"][3])
    np.testing.assert_allclose(ds.neural[3], gt["activities"][s:s + 40], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ds.labels[3], gt["behavior"][s:s + 40], rtol=1e-6, atol=1e-9)
    assert sorted(ds.regions) == sorted(set(gt["component_names"]))
    assert all(np.array(gt["component_names"])[ds.regions[r]].tolist() == [r] * 2 for r in ds.regions)
    dataset.write(tmp_path / "d.h5", ds)
    back = dataset.read(tmp_path / "d.h5")
    np.testing.assert_array_equal(back.images[5], ds.images[5])


def test_missing_atlas_fails_clearly_and_writes_nothing(tmp_path):
    missing = tmp_path / "nope" / "atlas.mat"
    with pytest.raises(SimulationError, match=r"simulate\.atlas.*nope"):
        simulate_session(tmp_path / "out", tiny(atlas=str(missing)))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_real_locanmf_atlas(tmp_path):
    path = DATA / "atlas" / "locanmf" / "atlas.mat"
    if not path.exists():
        pytest.skip(f"{path} not available")
    simulate_session(tmp_path, tiny(n_trials=1, atlas=str(path), movie_height=48, movie_width=48))
    with np.load(tmp_path / "atlas.npz") as a:
        assert a["labels"].shape == (48, 48) and (a["labels"] > 0).any() and (a["labels"] < 0).any()
        assert "VISp1" in a["names"].tolist() or "VISp" in a["names"].tolist()
    assert len(set(read_truth(tmp_path / "truth.h5")["component_names"])) == 10


def test_config_presets_overrides_and_paths():
    base = {"sessions": {"s1": {"source": "simulate", "seed": 3}}}
    cfg = validate(base)
    p = params_from_config("s1", cfg)
    assert p.seed == 3 and p.n_trials == 40 and p.frames_per_trial == 189 and p.movie_shape == (80, 96)
    assert p.footprints["VIS"] == 8 and p.footprints["MOs"] == 7
    paper = validate({**base, "simulate": {"preset": "paper", "movie_formats": ["dat"],
                                           "overrides": {"footprints": {"VIS": 24}}}})
    pp = params_from_config("s1", paper)
    assert pp.n_trials == 549 and pp.view_size == 128 and pp.footprints["VIS"] == 24
    assert 14 <= pp.footprints["MOs"] <= 24 and movie_shape(paper) == (270, 320)
    paths = raw_paths("s1", paper)
    assert paths["dat"].endswith("s1/widefield_2_270_320_uint16.dat") and "tiff" not in paths
    assert set(raw_paths("s1", cfg)) == {"dat", "tiff", "video", "pose", "landmarks", "atlas",
                                         "trials", "truth"}
    with pytest.raises(ConfigError, match="n_trial"):
        validate({**base, "simulate": {"overrides": {"n_trial": 3}}})
    with pytest.raises(ConfigError, match="preset"):
        validate({**base, "simulate": {"preset": "huge"}})
    with pytest.raises(SimulationError, match="sessions.s2"):
        params_from_config("s2", cfg)
    short = validate({**base, "frames_per_trial": 50, "simulate": {"overrides": {"frames_per_trial": 40}}})
    assert params_from_config("s1", short).frames_per_trial == 40
    assert params_from_config("s1", validate({**base, "frames_per_trial": 50})).frames_per_trial == 189


def test_atlas_input_names_the_key(tmp_path):
    base = {"sessions": {"s1": {"source": "simulate"}}}
    assert atlas_input(validate(base)) == []
    real = tmp_path / "atlas.mat"
    real.write_bytes(b"")
    assert atlas_input(validate({**base, "simulate": {"atlas": str(real)}})) == [str(real)]
    with pytest.raises(SimulationError, match=r"simulate\.atlas points at .*missing\.mat"):
        atlas_input(validate({**base, "simulate": {"atlas": str(tmp_path / "missing.mat")}}))


def test_unknown_footprint_group_fails_naming_the_key(tmp_path):
    with pytest.raises(SimulationError, match=r"footprints.*'XYZ'.*available groups"):
        simulate_session(tmp_path / "out", tiny(footprints={"VIS": 2, "XYZ": 1}))
    assert not (tmp_path / "out").exists()


def test_bad_gap_frames_fail_before_writing(tmp_path):
    with pytest.raises(SimulationError, match="gap_frames"):
        simulate_session(tmp_path / "out", tiny(gap_frames=(8, 3)))
    assert not (tmp_path / "out").exists()


def test_video_fallback_encoder_keeps_frame_count(tmp_path, monkeypatch):
    from benediff.io import video as video_io
    from benediff.simulate import video

    monkeypatch.setattr(video_io, "mp4_codec", lambda: "mpeg4")
    beh = np.random.default_rng(0).random((37, 6))
    video.write_video(tmp_path / "v.mp4", beh, tiny(), np.random.default_rng(1))
    with av.open(str(tmp_path / "v.mp4")) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == 37 and frames[0].shape == (64, 128)
    assert np.abs(np.array(frames, float) - render(beh, 64)).mean() < 8


def test_independent_behaviour_coupling_decorrelates_the_behaviours():
    from benediff.simulate import behavior as sim_behavior
    from benediff.simulate.params import SimParams

    corr = {}
    for coupling in ("task", "independent"):
        params = SimParams(n_trials=200, behavior_coupling=coupling)
        rng = np.random.default_rng(0)
        timeline = sim_behavior.make_timeline(rng, params)
        beh = sim_behavior.simulate_behavior(rng, params, timeline)
        rows = np.concatenate([beh[s:s + params.frames_per_trial] for s in timeline.start_frame])
        corr[coupling] = np.abs(np.corrcoef(rows.T)[np.triu_indices(6, 1)])
        assert rows.min() >= -0.5 and rows.max() <= 2.0  # same value range as the task
    assert corr["task"].max() > 0.6  # lever-paw and spout-jaw move together in the task
    assert corr["independent"].max() <= 0.1


def test_truth_records_the_measured_behaviour_share_and_label_correlations(tmp_path):
    """truth.h5 says how much of each region's planted activity the behaviours explain
    (cross-validated) and how correlated the behaviours are; the independent control is
    uncorrelated and the task is not."""
    import h5py

    shares = {}
    for coupling in ("task", "independent"):
        out = tmp_path / coupling
        simulate_session(out, tiny(n_trials=12, frames_per_trial=150, behavior_coupling=coupling,
                                   noise=False))
        with h5py.File(out / "truth.h5", "r") as f:
            attrs = dict(f.attrs)
        shares[coupling] = {k: v for k, v in attrs.items() if k.startswith("behavior_share/")}
        main = [v for k, v in shares[coupling].items() if k.split("/")[1][:3] in ("VIS", "SSp", "MOs")]
        assert len(main) == 6 and all(v < 1.0 for v in main) and np.mean(main) > 0.2
        if coupling == "task":
            assert attrs["behavior_abs_r_max"] > 0.5
        else:
            assert attrs["behavior_abs_r_max"] < 0.3
