"""Baselines, specificity score, figure helpers, rule targets and the video pipeline end to end."""

import json
import os

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from benediff import config as bconfig
from benediff.io import generated as generated_io
from benediff.figures import video as figs
from benediff.io import dataset as dio
from benediff.video import baselines, pipeline, targets
from benediff.io.pose import make_pose_frame
from benediff.video import canvas as vcanvas
from benediff.video import scores
from benediff.video import specificity as spec
from benediff.video.scores import behaviour_shares, score_table

torch.set_num_threads(1)
NAMES = ["A", "B", "C"]


# ---------------------------------------------------------------------------- baselines


def test_manipulated_trajectory_sweeps_factor_and_freezes_others():
    ref = np.array([[1.0, 5.0, -1.0], [3.0, 6.0, 0.0], [2.0, 7.0, 1.0]])
    z = baselines.manipulated_trajectory(ref, 0, (10.0, 20.0))
    np.testing.assert_allclose(z[:, 0], [10.0, 20.0, 15.0])
    np.testing.assert_allclose(z[:, 1:], [[5.0, -1.0]] * 3)
    with pytest.raises(baselines.BaselineError, match="factor index 3 is out of range"):
        baselines.manipulated_trajectory(ref, 3, (0, 1))


def test_classifier_free_guidance_combines_scores():
    class Fake(torch.nn.Module):
        def forward(self, x, t, cond=None):
            return torch.full_like(x, 1.0 if cond is None else 3.0)

    guided = baselines.GuidedByCondition(Fake(), weight=2.0)
    x = torch.zeros(1, 1, 2, 2, 2)
    out = guided(x, torch.zeros(1, dtype=torch.long), cond=torch.zeros(1, 2, 3))
    assert torch.all(out == 3 * 3.0 - 2 * 1.0)
    with pytest.raises(baselines.BaselineError, match="needs a condition"):
        guided(x, torch.zeros(1, dtype=torch.long))


def test_naive_decoder_learns_a_latent_to_clip_map():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(16, 6, 2)).astype(np.float32)
    clips = np.repeat(z[:, None, :, :1, None], 2, axis=3).repeat(2, axis=4)  # (n, 1, F, 2, 2)
    model = baselines.train_naive_decoder(z, clips, hidden=8, channels=8, epochs=60, lr=0.01)
    with torch.no_grad():
        err = ((model(torch.as_tensor(z)) - torch.as_tensor(clips)) ** 2).mean().item()
    assert err < 0.5 * clips.var()
    assert baselines.naive_generate(model, z[0]).shape == (1, 6, 2, 2)
    with pytest.raises(baselines.BaselineError, match="same n and F"):
        baselines.train_naive_decoder(z, clips[:3])


# ---------------------------------------------------------------------------- specificity


def test_behaviour_shares_hand_computed():
    readout = np.array([[0.0, 0.0], [2.0, 1.0]])  # variances 1, 0.25
    np.testing.assert_allclose(behaviour_shares(readout, np.array([1.0, 0.25])), [0.5, 0.5])
    np.testing.assert_allclose(behaviour_shares(readout, np.array([1.0, 1.0])), [0.8, 0.2])


def test_amplitude_is_std_over_real_std_and_zero_for_a_static_video():
    readout = np.array([[0.0, 0.0], [2.0, 1.0]])  # stds 1, 0.5
    np.testing.assert_allclose(scores.amplitudes(readout, np.array([4.0, 0.25])), [0.5, 1.0])
    np.testing.assert_allclose(scores.amplitudes(np.ones((5, 2)), np.ones(2)), [0.0, 0.0])


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 1))
    b = 3 * rng.normal(size=(4000, 1)) + 2
    # 1-D: (μa − μb)² + (σa − σb)², with the samples' own moments
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert scores.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    # diagonal covariances: Σ (√σa² − √σb²)² + ‖Δμ‖² (independent columns, up to sampling)
    x = rng.normal(size=(20000, 2)) * [1.0, 2.0]
    y = rng.normal(size=(20000, 2)) * [3.0, 2.0] + [1.0, 0.0]
    assert scores.frechet_distance(x, y) == pytest.approx(1.0 + (3 - 1) ** 2, rel=0.03)
    assert scores.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(scores.SpecificityError, match="same features"):
        scores.frechet_distance(x, y[:, :1])


def test_trajectory_features_are_segment_means_and_stds():
    r = np.array([[0.0, 1], [2, 1], [4, 1], [6, 1], [9, 9]])  # 2 segments of 2, one frame left
    feats = scores.trajectory_features([r], 2)
    np.testing.assert_allclose(feats, [[1, 1, 1, 0], [5, 1, 1, 0]])
    with pytest.raises(scores.SpecificityError, match="shorter than one realism segment"):
        scores.trajectory_features([r], 6)


def bar_frames(labels, size=8):
    """Frames whose left half brightness is behaviour A and right half behaviour B."""
    frames = np.zeros((len(labels), 1, size, size))
    frames[:, 0, :, : size // 2] = labels[:, :1, None] * 200
    frames[:, 0, :, size // 2:] = labels[:, 1:2, None] * 200
    return frames.astype(np.uint8)


def wave(amplitudes, n=40, phase=0.0, freqs=None):
    """(n, B) sines: column k has amplitude ``amplitudes[k]`` and ``freqs[k]`` (default k + 1)
    periods over the n frames, i.e. freqs[k] Hz at fs = n."""
    t = np.arange(n) / n * 2 * np.pi
    freqs = freqs or [k + 1 for k in range(len(amplitudes))]
    return np.stack([a * np.sin(f * t + phase) for a, f in zip(amplitudes, freqs)], axis=1)


def hand_real():
    """Real test trials (A at 1 and 3 Hz, B at 2 Hz, fs = 40) with their labels, and the floor's
    pool of unscored trials."""
    test = [wave([1, 1], freqs=[1, 2]), wave([1, 1], phase=1, freqs=[3, 2])]
    pool = [wave([1, 1], phase=2, freqs=[1, 2]), wave([1, 1], phase=3, freqs=[3, 2])]
    return {"test": test, "labels": [t.copy() for t in test], "pool": pool}


def test_score_table_hand_case_lift_amplitude_share_fidelity_spectrum_and_real_rows():
    two = [dict(freqs=[2, 2]), dict(phase=1, freqs=[2, 2])]
    readouts = {
        ("R", "unguided", "A"): [wave([0.5, 0.5], **k) for k in two],
        ("R", "ours", "A"): [wave([1.0, 0.5], **k) for k in two],  # A ×4 variance
        ("R", "naive", "A"): [wave([0.01, 0.0], **k) for k in two],  # static
        ("R", "cfg", "A"): [wave([1.0, 0.5], **k) for k in two],  # as ours, but see requested
    }
    asked = [v[:, 0] for v in readouts[("R", "ours", "A")]]
    quarter = [wave([1.0], phase=np.pi / 2 + k["phase"] if "phase" in k else np.pi / 2,
                    freqs=[2])[:, 0] for k in two]  # cos against sin: r = 0 over whole periods
    requested = {("R", "unguided", "A"): asked, ("R", "ours", "A"): asked,
                 ("R", "naive", "A"): asked, ("R", "cfg", "A"): quarter}
    table = score_table(readouts, requested, hand_real(), ["A", "B"], segment=10, fs=40.0,
                        n_boot=200).set_index(["method", "target"])
    ours, naive, cfg = (table.loc[(m, "A")] for m in ("ours", "naive", "cfg"))
    assert ours["lift"] == pytest.approx(4.0) and ours["lift_B"] == pytest.approx(1.0)
    assert ours["lift_margin"] == pytest.approx(4.0) and ours["lift_lo"] == pytest.approx(4.0)
    assert ours["specificity"] == pytest.approx(0.8) and ours["amplitude"] == pytest.approx(1.0)
    assert ours["fidelity"] == pytest.approx(1.0) and ours["centroid"] == pytest.approx(2.0)
    # the band is the real trials' centroids of A: 1 and 3 Hz, quantiles 0.05 / 0.95
    assert (ours["band_lo"], ours["band_hi"]) == (pytest.approx(1.0), pytest.approx(3.0))
    assert ours["specific"] and ours["specific_lo"] and ours["specific_hi"]
    # the static video has the best share and no amplitude: the share alone would reward it
    assert naive["specificity"] > 0.99 and naive["amplitude"] < 0.02
    assert naive["lift"] == pytest.approx(0.0004, rel=0.01)
    assert naive["fidelity"] == pytest.approx(1.0) and not naive["amplitude_ok"]
    assert not naive["specific"] and not naive["specific_hi"]
    # the same motion, a quarter period off what was asked: every score but fidelity passes
    assert cfg["fidelity"] == pytest.approx(0.0, abs=1e-9) and cfg["lift_margin"] > 1
    assert cfg["amplitude_ok"] and cfg["spectrum_ok"] and not cfg["specific"]
    real_row = table.loc[("real", "A")]
    assert real_row["specificity"] == pytest.approx(0.5) and real_row["amplitude"] == pytest.approx(1.0)
    assert real_row["fidelity"] == pytest.approx(1.0) and real_row["centroid"] == pytest.approx(2.0)
    assert real_row["realism_ratio"] == pytest.approx(1.0)
    # two pool trials, two videos: the floor is the pool's one draw
    floor = scores.frechet_distance(scores.trajectory_features(hand_real()["pool"], 10),
                                  scores.trajectory_features(hand_real()["test"], 10))
    assert ours["realism_floor"] == pytest.approx(floor)
    assert naive["realism"] > ours["realism"]
    assert np.isnan(table.loc[("unguided", "A"), "lift"])
    assert table.loc[("unguided", "A"), "specific"] is None


def test_pearson_and_spectral_centroid_hand_computed():
    t = np.arange(40) / 40 * 2 * np.pi
    assert scores.pearson(np.sin(t), 3 * np.sin(t) + 1) == pytest.approx(1.0)
    assert scores.pearson(np.sin(t), -np.sin(t)) == pytest.approx(-1.0)
    assert scores.pearson(np.sin(t), np.cos(t)) == pytest.approx(0.0, abs=1e-12)
    assert scores.pearson(np.ones(40), np.sin(t)) == 0.0  # a static video follows nothing
    assert scores.spectral_centroid(np.sin(3 * t), fs=40.0) == pytest.approx(3.0)
    # equal power at 2 and 6 Hz → 4 Hz; power ∝ amplitude²: 1 and 2 → (2 + 4·6)/5
    assert scores.spectral_centroid(np.sin(2 * t) + np.sin(6 * t), 40.0) == pytest.approx(4.0)
    assert scores.spectral_centroid(np.sin(2 * t) + 2 * np.sin(6 * t), 40.0) == pytest.approx(5.2)
    assert np.isnan(scores.spectral_centroid(np.full(40, 2.0), 40.0))
    white = np.random.default_rng(0).normal(size=4000)
    assert scores.spectral_centroid(white, 40.0) == pytest.approx(10.0, rel=0.05)  # fs / 4


def test_score_table_needs_as_many_unguided_videos():
    real = hand_real()
    readouts = {("R", "unguided", "A"): [wave([1, 1])], ("R", "ours", "A"): [wave([1, 1])] * 2}
    requested = {("R", "unguided", "A"): [np.zeros(40)], ("R", "ours", "A"): [np.zeros(40)] * 2}
    with pytest.raises(scores.SpecificityError, match="same video.generation.n_videos"):
        score_table(readouts, requested, real, ["A", "B"], segment=10, fs=40.0)


VIEWS = [{"name": "side", "x": 0, "y": 0, "width": 8, "height": 8},
         {"name": "bottom", "x": 8, "y": 2, "width": 6, "height": 5}]


def test_views_canvas_pastes_each_view_into_its_box():
    clip = np.zeros((3, 2, 4, 4), dtype=np.uint8)
    clip[:, 0], clip[:, 1] = 200, 50
    clip[1, 0, :2, :2] = 0  # top-left quarter of view 0 → top-left 4×4 block, blended at its edge
    canvas = vcanvas.views_canvas(clip, VIEWS)
    assert canvas.shape == (3, 8, 14) and vcanvas.canvas_shape(VIEWS) == (8, 14)
    assert (canvas[:, :8, :8][[0, 2]] == 200).all()
    assert (canvas[1, :3, :3] == 0).all() and (canvas[1, 5:, 5:8] == 200).all()
    assert (canvas[:, 2:7, 8:14] == 50).all()
    assert (canvas[:, :2, 8:] == 0).all() and (canvas[:, 7:, 8:] == 0).all()  # outside the boxes
    with pytest.raises(scores.SpecificityError, match="expected \\(frames, 2 views"):
        vcanvas.views_canvas(clip[:, :1], VIEWS)


def test_pose_readouts_map_split_and_zscore_hand_case():
    # two keys × one video × 4 frames; Levers = −y of lever (sign −1), Jaw = x of jaw
    x = np.array([1.0, 2, 3, 4, 9, 9, 9, 9])
    lever = np.c_[x, 10 * x, np.r_[1, 1, 0.1, 1, 1, 1, 1, 1]]  # frame 2 untracked → interpolated
    jaw = np.c_[x, x, np.r_[1, 1, 1, 1, 0, 0, 0, 0.9]]  # second video: tracked once only
    pose = make_pose_frame("DLC_test", ["lever", "jaw"], np.stack([lever, jaw], axis=1))
    index = [{"key": ["R", "ours", "Jaw"], "n_videos": 1, "n_frames": 4},
             {"key": ["R", "ours", "Levers"], "n_videos": 1, "n_frames": 4}]
    mapping = {"Levers": {"bodypart": "lever", "coord": "y", "sign": -1},
               "Jaw": {"bodypart": "jaw", "coord": "x"}}
    readouts, tracked, names = vcanvas.pose_readouts(
        pose, index, mapping=mapping, behaviors=["Levers", "Jaw"], pcutoff=0.6, smoothing=0,
        zscore={"mean": [-20.0, 2.0], "std": [10.0, 1.0]})
    assert names == ["Levers", "Jaw"]
    np.testing.assert_allclose(readouts[("R", "ours", "Jaw")][0],
                               [[1.0, -1], [0, 0], [-1, 1], [-2, 2]])
    np.testing.assert_allclose(readouts[("R", "ours", "Levers")][0], [[-7, -2]] * 4)
    assert tracked[("R", "ours", "Jaw")] == pytest.approx(7 / 8)
    assert tracked[("R", "ours", "Levers")] == pytest.approx(5 / 8)
    with pytest.raises(scores.SpecificityError, match="pose has 8 frames but the canvas index lists 12"):
        vcanvas.pose_readouts(pose, index + [index[0]], mapping=mapping, behaviors=["Jaw"],
                           pcutoff=0.6, smoothing=0, zscore={"mean": [0], "std": [1]})


def test_specificity_extractor_follows_pose_inference():
    def config(extractor="auto", mode="import", model_dir=None):
        return bconfig.validate({"sessions": {"S1": {"source": "simulate"}},
                                 "behavior": {"pose": {"mode": mode, "model_dir": model_dir}},
                                 "video": {"specificity": {"extractor": extractor}}})

    assert targets.specificity_extractor(config()) == "regressor"
    assert targets.specificity_extractor(config(mode="infer", model_dir="m")) == "dlc"
    assert targets.specificity_extractor(config("regressor", "infer", "m")) == "regressor"
    with pytest.raises(targets.TargetError, match="extractor = 'dlc' needs .*pose.model_dir is not set"):
        targets.specificity_extractor(config("dlc", mode="infer"))


# ---------------------------------------------------------------------------- figures


def test_strips_and_brightest_change():
    frames = np.zeros((1, 11, 1, 4, 4), dtype=np.uint8)
    frames[0, 5:, 0, 1, 2] = 255
    index, strip, diffs = generated_io.strips(frames, 5)
    assert index.tolist() == [0, 5, 10]
    assert diffs[0, 1, 0, 1, 2] == 1.0 and np.abs(diffs[0, 2]).max() == 0
    marks = figs.brightest_change(diffs[0, :, 0])
    assert marks[0] is None and marks[1] == (1, 2) and marks[2] is None


# ---------------------------------------------------------------------------- targets


def demo_config(**video):
    return bconfig.validate({"sessions": {"S1": {"source": "simulate"}}, "video": video})


def test_fig6_needs_one_region_three_methods():
    inputs = targets.figure_inputs(demo_config(), "fig6")
    assert sorted(inputs) == ["cfg", "naive", "ours"]
    assert all("/VIS_R/generated/" in p and p.endswith("/Jaw.h5") for p in inputs.values())
    # a factor that is not a behaviour is now a config error, reported before any target
    with pytest.raises(bconfig.ConfigError, match="fig6.factor names behaviour\\(s\\) \\['Tongue'\\]"):
        targets.figure_inputs(demo_config(figures={"fig6": {"region": "VIS_R", "factor": "Tongue",
                                                           "view": "side"}}), "fig6")


def test_pooled_lvm_fit_is_a_vae_latents_source():
    pooled = targets.vae_latents(demo_config(lvm_session="pooled"), "S1", "VIS_R")
    assert pooled == "results/lvm/pooled/VIS_R/ours/seed0/latents.h5"
    assert targets.vae_latents(demo_config(), "S1", "VIS_R").startswith("results/lvm/S1/")
    with pytest.raises(targets.TargetError, match="video.lvm_session = 'S2'"):
        targets.vae_latents(demo_config(lvm_session="S2"), "S1", "VIS_R")


def write_pooled_pair(tmp_path, video_session):
    """A pooled lvm latents file (sessions A: 2 trials, B: 3) and B's frame latents."""
    with h5py.File(tmp_path / "pooled.h5", "w") as f:
        f.attrs["factor_names"] = json.dumps(["x"])
        f.attrs["sessions"], f.attrs["session_trials"] = json.dumps(["A", "B"]), json.dumps([2, 3])
        for i in range(5):
            f[f"latents/trial_{i:04d}"] = np.full((4, 1), i, dtype=np.float32)
    with h5py.File(tmp_path / "frames.h5", "w") as f:
        f.attrs["scale"], f.attrs["session"] = json.dumps({}), video_session
        for i in range(3):
            f[f"latents/trial_{i:04d}"] = np.zeros((1, 4, 2, 2), dtype=np.float32)
        f["split/train"], f["split/val"], f["split/test"] = [0], [1], [2]
    return tmp_path / "frames.h5", tmp_path / "pooled.h5"


def test_pooled_latents_are_cut_to_the_video_session(tmp_path):
    _, _, _, z, names = pipeline.read_paired(*write_pooled_pair(tmp_path, "B"))
    assert names == ["x"] and [float(t[0, 0]) for t in z] == [2.0, 3.0, 4.0]
    with pytest.raises(pipeline.VideoPipelineError, match="does not include the video session 'C'"):
        pipeline.read_paired(*write_pooled_pair(tmp_path, "C"))


# ---------------------------------------------------------------------------- end to end


def write_inputs(tmp_path, n_trials=10, n_bins=16, size=16):
    rng = np.random.default_rng(0)
    labels = [rng.uniform(0, 1, size=(n_bins, 3)).astype(np.float32) for _ in range(n_trials)]
    images = [np.repeat(bar_frames(lab, size)[:, :, None], 2, 1)[:, :, 0] for lab in labels]
    split = {"train": np.arange(0, 8), "val": np.array([8]), "test": np.array([9])}
    ds = dio.Dataset(session="S1", frame_rate=30.0, trial_ids=np.arange(n_trials), labels=labels,
                     label_names=NAMES, images=images, split=split)
    dio.write(tmp_path / "dataset.h5", ds)
    with h5py.File(tmp_path / "vae.h5", "w") as f:
        f.attrs["factor_names"] = json.dumps(NAMES)
        for i, lab in enumerate(labels):
            f[f"latents/trial_{i:04d}"] = lab * 2 - 1
    return tmp_path / "dataset.h5", tmp_path / "vae.h5"


def tiny_video_config():
    return demo_config(
        autoencoder={"latent_size": 4, "base_channels": 8, "epochs": 1, "batch_size": 32},
        diffusion={"dim": 8, "dim_mults": [1, 2], "groups": 4, "attn_resolutions": [],
                   "timesteps": 20, "steps": 3, "batch_size": 2, "checkpoint_every": 2},
        cfg={"steps": 3}, naive={"hidden": 4, "channels": 4, "epochs": 1},
        guidance={"steps": 4, "scale": 5.0}, generation={"n_videos": 2, "every": 4},
        specificity={"max_train_frames": 200, "segment": 4, "floor_trials": 2, "n_boot": 50,
                     "floor_draws": 10, "hidden": 16, "max_iter": 50},
    )["video"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("video")
    dataset, vae = write_inputs(tmp)
    cfg = tiny_video_config()
    pipeline.train_video_ae(dataset, tmp / "ae.pt", tmp / "ae.json", cfg["autoencoder"], seed=0,
                            device="cpu", checkpoint_dir=tmp / "ckpt_ae")
    pipeline.encode_frame_latents(dataset, tmp / "ae.pt", tmp / "latents.h5", device="cpu")
    pipeline.fit_linear_encoder(tmp / "latents.h5", vae, tmp / "enc.h5", tmp / "enc.json",
                                cfg["encoder"])
    pipeline.train_vdm(tmp / "latents.h5", tmp / "vdm.pt", cfg["diffusion"], seed=0, device="cpu")
    pipeline.train_cfg_vdm(tmp / "latents.h5", vae, tmp / "cfg.pt", cfg["diffusion"], cfg["cfg"],
                           seed=0, device="cpu")
    pipeline.train_naive(tmp / "latents.h5", vae, tmp / "naive.pt", cfg["naive"], seed=0,
                         device="cpu")
    return tmp, dataset, vae, cfg


def run_generate(trained, method, factor="B", **kw):
    tmp, _, vae, cfg = trained
    model = {"ours": "vdm.pt", "ours_literal": "vdm.pt", "unguided": "vdm.pt", "cfg": "cfg.pt",
             "naive": "naive.pt"}[method]
    args = dict(region="R", factor=factor, latents_path=tmp / "latents.h5", ae_path=tmp / "ae.pt",
                vae_path=vae, encoder_path=tmp / "enc.h5", model_path=tmp / model,
                out_h5=tmp / f"{method}_{factor}.h5", out_mp4=tmp / f"{method}_{factor}.mp4",
                cfg=targets.generate_config({"video": cfg}, method), seed=0, device="cpu")
    return pipeline.generate(method, **{**args, **kw})  # the settings the rule passes


@pytest.mark.parametrize("method", ["ours", "ours_literal", "unguided", "cfg", "naive"])
def test_generate_writes_videos_strips_and_mp4(trained, method):
    tmp = trained[0]
    run_generate(trained, method)
    out = generated_io.read_generated(tmp / f"{method}_B.h5")
    assert out["frames"].shape == (2, 16, 2, 16, 16) and out["frames"].dtype == np.uint8
    assert out["readout"].shape == (2, 16, 3) and out["factor_index"] == 1
    # what each video was asked to follow: the condition's factor trajectory for the baselines,
    # the guided latent's (through the linear encoder) for the diffusion methods
    assert out["requested"].shape == (2, 16)
    if method in ("cfg", "naive"):
        tmp_, _, vae, cfg = trained
        clips, _, split, z, _ = pipeline.read_paired(tmp / "latents.h5", vae)
        conditions = pipeline.manipulated_conditions(z, split, 1, 2,
                                                     cfg["generation"]["value_quantiles"])
        np.testing.assert_allclose(out["requested"], conditions[:, :, 1], rtol=1e-6)
        assert out["requested_source"] == "condition"
    else:
        np.testing.assert_allclose(out["requested"], out["readout"][:, :, 1], rtol=1e-6)
        assert out["requested_source"] == "guided latent"
    with h5py.File(tmp / f"{method}_B.h5") as f:
        assert f["strip_index"][()].tolist() == [0, 4, 8, 12]
        assert f["latents"].shape == (2, 1, 16, 4, 4)
    assert (tmp / f"{method}_B.mp4").stat().st_size > 0


def test_generate_is_reproducible(trained):
    tmp = trained[0]
    run_generate(trained, "ours", out_h5=tmp / "a.h5", out_mp4=tmp / "a.mp4")
    run_generate(trained, "ours", out_h5=tmp / "b.h5", out_mp4=tmp / "b.mp4")
    np.testing.assert_array_equal(generated_io.read_generated(tmp / "a.h5")["frames"],
                                  generated_io.read_generated(tmp / "b.h5")["frames"])


def test_generate_bad_factor_and_encoder_mismatch_leave_no_output(trained):
    tmp, _, vae, cfg = trained
    with pytest.raises(pipeline.VideoPipelineError, match="factor 'Z' is not a latent factor"):
        run_generate(trained, "ours", factor="Z")
    assert not (tmp / "ours_Z.h5").exists()
    with h5py.File(tmp / "vae4.h5", "w") as f:
        f.attrs["factor_names"] = json.dumps(NAMES + ["D"])
        with h5py.File(vae) as src:
            for k in src["latents"]:
                f[f"latents/{k}"] = np.c_[src["latents"][k][()], np.zeros(16)]
    with pytest.raises(pipeline.VideoPipelineError, match="maps to 3 factors but .* has 4"):
        run_generate(trained, "ours", vae_path=tmp / "vae4.h5")


def test_unguided_has_the_guided_runs_seeds(trained):
    """Same seeds, no guidance: the unguided videos are the guided ones with s = 0, for every
    factor (a paired lift), and the one-per-region unguided job writes each factor's file from
    the same videos with that factor's read-out as its requested trajectory."""
    tmp, _, vae, cfg = trained
    run_generate(trained, "unguided", out_h5=tmp / "u.h5", out_mp4=tmp / "u.mp4")
    zero = targets.generate_config({"video": {**cfg, "guidance": {**cfg["guidance"], "scale": 0.0}}},
                                   "ours")
    frames = generated_io.read_generated(tmp / "u.h5")["frames"]
    for factor in ("A", "B"):
        run_generate(trained, "ours", factor=factor, cfg=zero, out_h5=tmp / f"s0{factor}.h5",
                     out_mp4=tmp / f"s0{factor}.mp4")
        np.testing.assert_array_equal(frames, generated_io.read_generated(tmp / f"s0{factor}.h5")["frames"])
    out = {f: tmp / f"shared_{f}.h5" for f in NAMES}
    pipeline.generate_unguided(
        region="R", factors=NAMES, latents_path=tmp / "latents.h5", ae_path=tmp / "ae.pt",
        vae_path=vae, encoder_path=tmp / "enc.h5", model_path=tmp / "vdm.pt", out_h5=out,
        out_mp4=tmp / "shared.mp4", cfg=targets.generate_config({"video": cfg}, "unguided"),
        seed=0, device="cpu")
    for d, factor in enumerate(NAMES):
        shared = generated_io.read_generated(out[factor])
        np.testing.assert_array_equal(shared["frames"], frames)
        assert shared["factor_index"] == d
        np.testing.assert_allclose(shared["requested"], shared["readout"][:, :, d], rtol=1e-6)
    assert (tmp / "shared.mp4").stat().st_size > 0


def test_ours_literal_runs_every_step_on_x_t_with_scale_one(trained, monkeypatch):
    calls = []
    original = pipeline.VarianceGuidance.__call__

    def spy(self, x_t, t, eps, alpha_bar_t):
        calls.append((self.scale, self.tau, self.input, int(t)))
        return original(self, x_t, t, eps, alpha_bar_t)

    monkeypatch.setattr(pipeline.VarianceGuidance, "__call__", spy)
    run_generate(trained, "ours_literal")
    assert {c[:3] for c in calls} == {(1.0, 1.0, "x_t")}
    assert sorted(c[3] for c in calls) == list(range(20))  # every one of the T = 20 steps


SCORED = ("ours", "ours_literal", "cfg", "naive", "unguided")


def test_specificity_table_and_figures(trained, tmp_path):
    tmp, dataset, _, cfg = trained
    for method in SCORED:
        run_generate(trained, method)
    generated = {("R", m, "B"): tmp / f"{m}_B.h5" for m in SCORED}
    table = spec.specificity(dataset, generated, tmp_path / "s.csv", tmp_path / "s.tex",
                             cfg["specificity"], config={"x": 1}, seed=0)
    assert sorted(table["method"]) == sorted([*SCORED, "real"])
    shares = table[[f"share_{n}" for n in NAMES]].to_numpy()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    scored = table.set_index("method")
    assert np.isfinite(scored.loc[["ours", "ours_literal", "cfg", "naive"], "lift"]).all()
    assert (scored["realism"] >= 0).all() and scored.loc["real", "realism_ratio"] == 1.0
    for score in ("specificity", "lift", "amplitude", "fidelity", "realism_ratio"):
        guided = scored.loc[["ours", "ours_literal", "cfg", "naive"]]
        assert (guided[f"{score}_lo"] <= guided[score] + 1e-9).all(), score
        assert (guided[score] <= guided[f"{score}_hi"] + 1e-9).all(), score
    assert scored.loc[["ours", "cfg"], "specific"].map(type).eq(bool).all()
    sidecar = json.loads((tmp_path / "s.csv.json").read_text())
    assert sidecar["regressor"] == "mlp" and set(sidecar["regressor_r2_test"]) == set(NAMES)
    assert sidecar["real_trials"] == {"test (scored against)": 1,
                                      "floor pool (validation + held-out training)": 3}
    assert pd.read_csv(tmp_path / "s.csv").shape[0] == 6
    with pytest.raises(pipeline.VideoPipelineError, match="needs the unguided videos"):
        spec.specificity(dataset, {k: v for k, v in generated.items() if k[1] != "unguided"},
                         tmp_path / "u.csv", tmp_path / "u.tex", cfg["specificity"], config={},
                         seed=0)
    assert (tmp_path / "s.csv.json").exists() and r"\toprule" in (tmp_path / "s.tex").read_text()
    settings = {"kind": "methods", "region": "R", "factor": "B", "view": "bottom", "n_columns": 3}
    figs.make_figure("methods", {m: str(generated[("R", m, "B")]) for m in targets.FIGURE_METHODS},
                     tmp_path / "fig6.pdf", settings, config={}, seed=0)
    figs.make_figure("regions", {"R|B": str(generated[("R", "ours", "B")])}, tmp_path / "fig8.pdf",
                     {"view": "side", "n_columns": 3}, config={}, seed=0)
    figs.make_figure("specificity", {"table": tmp_path / "s.csv"}, tmp_path / "spec.pdf", {},
                     config={}, seed=0)
    for name in ("fig6", "fig8", "spec"):
        assert (tmp_path / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
        assert (tmp_path / f"{name}.pdf.json").exists()


def test_specificity_with_the_dlc_extractor(trained, tmp_path):
    """Canvas video → DeepLabCut (random-init model, its own venv, as the rule runs it) → table."""
    from test_behavior_infer import DLC_PYTHON, dlc_available, run_dlc

    if not dlc_available():
        message = f"DeepLabCut venv absent ({DLC_PYTHON}); see README, make dlc-env"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI installs it, so this must not skip there)")
        pytest.skip(message)
    tmp, dataset, _, cfg = trained
    for method in ("ours", "naive", "unguided"):
        run_generate(trained, method)
    generated = {("R", m, "B"): tmp / f"{m}_B.h5" for m in ("ours", "naive", "unguided")}
    views = [{"name": "side", "x": 0, "y": 0, "width": 32, "height": 32},
             {"name": "bottom", "x": 32, "y": 0, "width": 32, "height": 32}]
    index = vcanvas.write_specificity_canvas(generated, views, tmp_path / "canvas.mp4",
                                          tmp_path / "canvas.json", fps=30, dataset_path=dataset,
                                          floor_trials=cfg["specificity"]["floor_trials"], seed=0)
    n_test = len(dio.read(dataset).split["test"])
    n_pool = len(dio.read(dataset).split["val"]) + cfg["specificity"]["floor_trials"]
    assert [(e["key"][2], e["n_frames"]) for e in index] == [
        ("B", [16, 16]), ("B", [16, 16]), ("B", [16, 16]),
        ("test", [16] * n_test), ("pool", [16] * n_pool)]
    run_dlc("benediff.behavior.dlc_model", "--out", str(tmp_path / "model"), "--bodyparts", "p1", "p2")
    run_dlc("benediff.behavior.dlc_infer", "--model-dir", str(tmp_path / "model"), "--video",
            str(tmp_path / "canvas.mp4"), "--out", str(tmp_path / "pose.h5"), "--batch-size", "16")
    labels = dio.read(dataset)
    labels.provenance = {"zscore": {"mean": [0.0] * 3, "std": [1.0] * 3}}
    dio.write(tmp_path / "labels.h5", labels)
    mapping = {"A": {"bodypart": "p1", "coord": "x"}, "B": {"bodypart": "p1", "coord": "y"},
               "C": {"bodypart": "p2", "coord": "x"}}
    pose = {"pose_h5": tmp_path / "pose.h5", "index_json": tmp_path / "canvas.json",
            "labels_h5": tmp_path / "labels.h5", "labels": {"mapping": mapping}, "pcutoff": 0.0}
    table = spec.specificity(dataset, generated, tmp_path / "s.csv", tmp_path / "s.tex",
                             cfg["specificity"], config={}, seed=0, pose=pose)
    assert sorted(table["method"]) == ["naive", "ours", "real", "unguided"]
    assert (table.loc[table["method"] != "real", "tracked"] == 1.0).all()
    np.testing.assert_allclose(table[[f"share_{n}" for n in NAMES]].sum(axis=1), 1.0)
    assert json.loads((tmp_path / "s.csv.json").read_text())["extractor"] == "dlc"
    with pytest.raises(pipeline.VideoPipelineError, match="lists other videos"):
        only_ours = {k: v for k, v in generated.items() if k[1] != "naive"}
        spec.specificity(dataset, only_ours, tmp_path / "t.csv", tmp_path / "t.tex",
                         cfg["specificity"], config={}, seed=0, pose=pose)
    assert not (tmp_path / "t.csv").exists()


def test_busiest_window_picks_most_active_columns():
    diffs = np.zeros((6, 2, 2))
    diffs[3:5] = 1.0
    rows = [("a", np.zeros((6, 2, 2)), diffs, np.arange(6) * 5)]
    assert figs.busiest_window(rows, 2) == slice(3, 5)
    assert figs.busiest_window(rows, 10) == slice(0, 6)


def test_only_scored_generation_jobs_make_n_videos():
    """A job the specificity table scores makes video.generation.n_videos videos; one only a
    figure shows (another region, a method or factor not scored) makes figure_videos."""
    from benediff.config import validate

    config = validate({"sessions": {"S1": {"source": "simulate"}},
                       "video": {"specificity": {"regions": ["VIS_R"], "factors": ["Jaw"],
                                                 "methods": ["ours", "unguided"]},
                                 "generation": {"n_videos": 10, "figure_videos": 2}}})
    n = {(r, m, f): targets.generate_config(config, m, r, f)["generation"]["n_videos"]
         for r, m, f in (("VIS_R", "ours", "Jaw"), ("VIS_R", "unguided", "Jaw"),
                         ("VIS_L", "ours", "Jaw"), ("VIS_R", "cfg", "Jaw"),
                         ("VIS_R", "ours", "Paw-x"))}
    assert n == {("VIS_R", "ours", "Jaw"): 10, ("VIS_R", "unguided", "Jaw"): 10,
                 ("VIS_L", "ours", "Jaw"): 2, ("VIS_R", "cfg", "Jaw"): 2,
                 ("VIS_R", "ours", "Paw-x"): 2}
    assert "figure_videos" not in targets.generate_config(config, "ours")["generation"]


@pytest.mark.e2e
def test_factors_together_generates_a_region_and_methods_factors_in_one_job(tmp_path):
    """The demo (video.generation.factors_together on): one job per region x method the table
    or a figure reads (VIS_R: ours, cfg, naive for 6 factors; the other regions' ours for the
    2 factors of Figs 8 and 13), the same 28 generations as one generate job each with it off;
    a factor asked for by its file alone is still a generate job."""
    import yaml

    from test_study import ROOT, planned

    demo = ROOT / "config" / "demo.yaml"
    on = planned(tmp_path / "on", [demo])
    grouped = {r: n for r, n in on.items() if r.startswith("generate_") and r != "generate_unguided"}
    assert sorted(grouped) == sorted([f"generate_{r}_ours" for r in
                                      ("VIS_L", "VIS_R", "SSp_L", "SSp_R", "MOs_L", "MOs_R")]
                                     + ["generate_VIS_R_cfg", "generate_VIS_R_naive"]), grouped
    assert "generate" not in on and on["generate_unguided"] == 1
    cfg = yaml.safe_load(demo.read_text())
    cfg["video"]["generation"]["factors_together"] = False
    (tmp_path / "off.yaml").write_text(yaml.safe_dump(cfg))
    off = planned(tmp_path / "off", [tmp_path / "off.yaml"])
    assert off["generate"] == 28 and not any(r in off for r in grouped)
    # Levers of VIS_L with ours is planned by no table or figure: its own generate job
    alone = planned(tmp_path / "alone", [demo],
                    ["results/video/S1/VIS_L/generated/ours/Levers.h5"])
    assert alone.get("generate") == 1 and not any(r in alone for r in grouped)
