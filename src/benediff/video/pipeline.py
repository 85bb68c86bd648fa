"""Glue between the video rules' files and the video models: one function per rule.

File formats written here:

``frame_latents.h5``   ``latents/trial_0000`` float32 (c, L, h, w) normalised AE latents (the
                       diffusion model's space), attr ``scale`` (JSON), ``split/{train,val,test}``.
``encoder.h5``         :class:`~benediff.video.encoder.LinearEncoder` (+ factor names).
``<factor>.h5``        generated videos: ``latents`` (n, c, L, h, w), ``frames`` uint8
                       (n, L, C, S, S), ``readout`` (n, L, D) encoder trajectories,
                       ``strip_index`` (every k-th frame), ``strip_frames``, ``strip_diffs``.
"""

import json
from pathlib import Path

import einops
import h5py
import numpy as np
import pandas as pd
import torch

from benediff.behavior.video import write_gray_video
from benediff.checkpoint import load_file, save_atomic
from benediff.device import torch_device
from benediff.io import dataset as dataset_io
from benediff.io.atomic import atomic_output
from benediff.io.generated import read_generated, write_generated
from benediff.io.latents import LatentsFileError, read_session_latents
from benediff.latex import booktabs
from benediff.provenance import write_sidecar
from benediff.seeds import derive_seed
from benediff.video import autoencoder as ae
from benediff.video import baselines
from benediff.video import specificity as spec_mod
from benediff.video.diffusion import GaussianDiffusion, sample
from benediff.video.encoder import LinearEncoder
from benediff.video.guidance import VarianceGuidance
from benediff.video.specificity import BehaviorRegressor, specificity_table, summary
from benediff.video.train import load_model, save_model, train_diffusion

METHODS = ("ours", "cfg", "naive")


class VideoPipelineError(ValueError):
    """An input file of the video stage is missing a key or disagrees with another input."""


# ---------------------------------------------------------------------------------------------
# file helpers


def read_paired(latents_path, vae_path):
    """Frame-latent clips, their scale and split, and the same trials' VAE latents and names."""
    clips, scale, split, session = _read_frame_file(latents_path)
    try:
        z, names = read_session_latents(vae_path, session)
    except LatentsFileError as err:
        raise VideoPipelineError(str(err)) from None
    _paired(clips, z, latents_path, vae_path)
    return clips, scale, split, z, names


def read_frame_latents(path) -> tuple[list[np.ndarray], dict, dict]:
    """Per-trial normalised frame-latent clips (c, L, h, w), the latent scale and the split."""
    return _read_frame_file(path)[:3]


def _read_frame_file(path):
    with h5py.File(path, "r") as f:
        trials = [f["latents"][k][()] for k in sorted(f["latents"])]
        scale = json.loads(f.attrs["scale"])
        split = {k: f["split"][k][()] for k in f["split"]}
        session = f.attrs.get("session")
    return trials, scale, split, session


def factor_index(names: list[str], factor: str, source) -> int:
    if factor not in names:
        raise VideoPipelineError(f"factor {factor!r} is not a latent factor of {source}; "
                                 f"its factors are {names}; fix video.figures / video.specificity")
    return names.index(factor)


def save_module(path, model: torch.nn.Module, **meta) -> None:
    save_atomic({"config": model.config, "state": model.state_dict(), "meta": meta}, path)


def _paired(frame_latents, vae_latents, latents_path, vae_path):
    if len(frame_latents) != len(vae_latents):
        raise VideoPipelineError(f"{latents_path} has {len(frame_latents)} trials but {vae_path} "
                                 f"has {len(vae_latents)}; both must come from the same dataset")
    for i, (clip, z) in enumerate(zip(frame_latents, vae_latents)):
        if clip.shape[1] != z.shape[0]:
            raise VideoPipelineError(f"trial {i}: {clip.shape[1]} frames in {latents_path} but "
                                     f"{z.shape[0]} time bins in {vae_path}")


# ---------------------------------------------------------------------------------------------
# autoencoder and frame latents


def train_video_ae(dataset_path, model_path, metrics_path, cfg: dict, *, seed, device,
                   checkpoint_dir=None) -> dict:
    """Train the per-frame autoencoder on training frames; report PSNR/SSIM on test frames."""
    ds = dataset_io.read(dataset_path, groups=("images",))
    rng = np.random.default_rng(seed)
    train = _frames(ds, "train", cfg["max_train_frames"], rng)
    model = ae.train_autoencoder(
        train, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed,
        device=device, checkpoint_dir=checkpoint_dir, progress=False,
        model_config={k: cfg[k] for k in ("latent_size", "latent_channels", "base_channels")})
    test = _frames(ds, "test", 2000, rng).astype(np.float32) / 255.0
    recon = ae.decode_latents(model, ae.encode_frames(model, test, device=device), device=device)
    metrics = {"psnr_test": ae.psnr(test, recon), "ssim_test": ae.ssim(test, recon),
               "n_train_frames": len(train), "n_test_frames": len(test)}
    save_model(model_path, model, {"metrics": metrics})
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return metrics


def _split(ds, split) -> np.ndarray:
    if len(ds.split.get(split, [])) == 0:
        raise VideoPipelineError(f"session {ds.session!r}: split {split!r} is empty; the video "
                                 "stage needs train and test trials (config split.blocks)")
    return ds.split[split]


def _frames(ds, split, limit, rng) -> np.ndarray:
    frames = np.concatenate([ds.images[i] for i in _split(ds, split)])
    if len(frames) > limit:
        frames = frames[np.sort(rng.choice(len(frames), limit, replace=False))]
    return frames


def encode_frame_latents(dataset_path, ae_path, out_path, *, device) -> None:
    """Encode every trial; normalise with training-frame statistics; store as clips."""
    ds = dataset_io.read(dataset_path, groups=("images",))
    model = load_model(ae_path)[0]
    latents = [ae.encode_frames(model, clip, device=device) for clip in ds.images]
    scale = ae.fit_latent_scale(np.concatenate([latents[i] for i in _split(ds, "train")]))
    with atomic_output(out_path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["scale"] = json.dumps(scale)
        f.attrs["session"] = ds.session
        for i, z in enumerate(latents):
            clip = ae.normalise_latents(z, scale).transpose(1, 0, 2, 3)  # (c, L, h, w)
            f.create_dataset(f"latents/trial_{i:04d}", data=clip)
        for name, idx in ds.split.items():
            f.create_dataset(f"split/{name}", data=idx)


# ---------------------------------------------------------------------------------------------
# linear encoder


def fit_linear_encoder(latents_path, vae_path, out_path, metrics_path, cfg: dict) -> dict:
    """Ridge from one normalised frame latent (c, h, w) to the region's VAE latents (D,)."""
    clips, _, split, z, names = read_paired(latents_path, vae_path)

    def stack(part):
        frames = np.concatenate([clips[i].transpose(1, 0, 2, 3) for i in split[part]])
        return frames, np.concatenate([z[i] for i in split[part]])

    encoder = LinearEncoder(alpha=cfg["alpha"], standardise=cfg["standardise"]).fit(*stack("train"))
    metrics = {"train": encoder.score(*stack("train")), "test": encoder.score(*stack("test")),
               "factor_names": names}
    encoder.save(out_path, factor_names=names)
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return metrics


# ---------------------------------------------------------------------------------------------
# diffusion models and the naive decoder


def _model_config(cfg: dict, channels: int, cond_dim=None) -> dict:
    keys = ("dim", "dim_mults", "groups", "attn_resolutions", "temporal_attention")
    return {"channels": channels, "cond_dim": cond_dim, **{k: cfg[k] for k in keys}}


def _diffusion_config(cfg: dict) -> dict:
    return {k: cfg[k] for k in ("timesteps", "schedule", "loss")}


def _train_vdm(clips, cfg, *, seed, device, checkpoint_dir, cond=None, cond_dropout=0.0):
    model_config = _model_config(cfg, clips.shape[1], None if cond is None else cond.shape[2])
    model, history = train_diffusion(
        clips, model_config=model_config, diffusion_config=_diffusion_config(cfg),
        steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"], ema_decay=cfg["ema_decay"],
        seed=seed, device=device, checkpoint_dir=checkpoint_dir,
        checkpoint_every=cfg["checkpoint_every"], cond=cond, cond_dropout=cond_dropout,
        progress=False)
    return model, {"diffusion": _diffusion_config(cfg), "final_loss": history[-1]["loss"]}


def train_vdm(latents_path, model_path, cfg: dict, *, seed, device, checkpoint_dir=None):
    """Unconditional VDM on the training trials' latent clips (one model serves all regions)."""
    clips, _, split = read_frame_latents(latents_path)
    train = np.stack([clips[i] for i in split["train"]])
    model, meta = _train_vdm(train, cfg, seed=seed, device=device, checkpoint_dir=checkpoint_dir)
    save_model(model_path, model, meta)


def train_cfg_vdm(latents_path, vae_path, model_path, cfg: dict, cfg_cfg: dict, *, seed, device,
                  checkpoint_dir=None):
    """Conditional VDM on (clip, whole Z trajectory) with condition dropout (CFG baseline)."""
    clips, _, split, z, names = read_paired(latents_path, vae_path)
    train = np.stack([clips[i] for i in split["train"]])
    cond = np.stack([z[i] for i in split["train"]])
    steps_cfg = {**cfg, "steps": cfg_cfg["steps"]}
    model, meta = _train_vdm(train, steps_cfg, seed=seed, device=device,
                             checkpoint_dir=checkpoint_dir, cond=cond,
                             cond_dropout=cfg_cfg["cond_dropout"])
    save_model(model_path, model, {**meta, "factor_names": names})


def train_naive(latents_path, vae_path, model_path, cfg: dict, *, seed, device):
    """Naive-manipulation decoder p(Y | Z) on training trials."""
    clips, _, split, z, names = read_paired(latents_path, vae_path)
    model = baselines.train_naive_decoder(
        np.stack([z[i] for i in split["train"]]), np.stack([clips[i] for i in split["train"]]),
        hidden=cfg["hidden"], channels=cfg["channels"], epochs=cfg["epochs"],
        batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed, device=device)
    save_module(model_path, model, factor_names=names)


def load_naive(path) -> baselines.NaiveDecoder:
    state = load_file(path)
    model = baselines.NaiveDecoder(**state["config"])
    model.load_state_dict(state["state"])
    return model.eval()


# ---------------------------------------------------------------------------------------------
# generation


def manipulated_conditions(z, split, factor: int, n_videos: int, quantiles) -> np.ndarray:
    """(n_videos, L, D) conditions from test trials: factor swept over its training range."""
    train = np.concatenate([z[i] for i in split["train"]])
    value_range = np.quantile(train[:, factor], quantiles)
    refs = [z[split["test"][k % len(split["test"])]] for k in range(n_videos)]
    return np.stack([baselines.manipulated_trajectory(r, factor, value_range) for r in refs])


def generate(method, *, region, factor, latents_path, ae_path, vae_path, encoder_path, model_path,
             out_h5, out_mp4, cfg: dict, seed: int, device) -> dict:
    """Generate ``cfg['generation']['n_videos']`` videos of one factor by one method."""
    if method not in METHODS:
        raise VideoPipelineError(f"generation method {method!r} is unknown; use one of {METHODS}")
    clips, scale, split, z, names = read_paired(latents_path, vae_path)
    d = factor_index(names, factor, vae_path)
    encoder = LinearEncoder.load(encoder_path)
    if encoder.n_factors != len(names):
        raise VideoPipelineError(f"{encoder_path} maps to {encoder.n_factors} factors but {vae_path} "
                                 f"has {len(names)}; refit the linear encoder")
    gen = cfg["generation"]
    shape = (gen["n_videos"], *clips[0].shape)
    sub_seed = derive_seed(seed, region, factor)
    conditions = manipulated_conditions(z, split, d, gen["n_videos"], gen["value_quantiles"])
    latents = _sample(method, model_path, shape, d, encoder, conditions, cfg, sub_seed, device)
    frames = _decode_videos(latents, ae_path, scale, device)
    readout = np.stack([encoder.predict(x.transpose(1, 0, 2, 3)) for x in latents])
    with atomic_output(out_mp4) as tmp:
        write_gray_video(tmp, _tile(frames), fps=gen["fps"])
    write_generated(out_h5, latents, frames, readout, gen["every"],
                     attrs={"method": method, "region": region, "factor": factor,
                            "factor_index": d, "factor_names": json.dumps(names)})
    return {"trajectory_variance": readout.var(axis=1).mean(0).tolist()}


def _sample(method, model_path, shape, factor, encoder, conditions, cfg, seed, device):
    if method == "naive":
        model = load_naive(model_path)
        return np.stack([baselines.naive_generate(model, c, device) for c in conditions])
    model, meta = load_model(model_path)
    device = torch_device(device)
    model.to(device)
    diffusion = GaussianDiffusion(**meta["diffusion"])
    g = cfg["guidance"]
    kwargs = dict(sampler=g["sampler"], num_steps=g["steps"], device=device, progress=False,
                  generator=torch.Generator().manual_seed(seed))
    if method == "ours":
        hook = VarianceGuidance(encoder.torch_forward, factor, encoder.n_factors, scale=g["scale"],
                                tau=g["tau"], n_negatives=g["n_negatives"], input=g["input"],
                                seed=seed)
        x = sample(model, diffusion, shape, eps_hook=hook, **kwargs)
    else:
        cond = torch.as_tensor(conditions, dtype=torch.float32)
        x = sample(baselines.GuidedByCondition(model, cfg["cfg"]["weight"]), diffusion, shape,
                   cond=cond, **kwargs)
    return x.cpu().numpy()


def _decode_videos(latents, ae_path, scale, device) -> np.ndarray:
    """Normalised latent clips (n, c, L, h, w) → uint8 frames (n, L, C, S, S)."""
    model = load_model(ae_path)[0]
    videos = []
    for clip in latents:
        frame_latents = ae.denormalise_latents(clip.transpose(1, 0, 2, 3), scale)
        frames = ae.decode_latents(model, frame_latents, device=device)
        videos.append(np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8))
    return np.stack(videos)


def _tile(frames) -> np.ndarray:
    """(n, L, C, S, S) → (L, n·S, C·S): views side by side, videos stacked."""
    return einops.rearrange(frames, "n l c h w -> l (n h) (c w)")


# ---------------------------------------------------------------------------------------------
# specificity


def specificity(dataset_path, generated: dict, table_csv, table_tex, cfg: dict, *,
                config: dict, seed: int, pose: dict | None = None) -> pd.DataFrame:
    """Score generated videos: share of behaviour variance on the targeted behaviour.

    ``generated[(region, method, factor)]`` = path of a generated-video file. Without ``pose``
    the extractor is the frame → behaviour regressor trained on real training frames; with it,
    the DeepLabCut pose of the canvas video (``pose``: ``pose_h5``, ``index_json``,
    ``labels_h5`` and the behaviour stage's ``labels`` and ``pcutoff`` settings).
    """
    groups = ("labels",) if pose else ("images", "labels")  # the pose path needs no frames
    ds = dataset_io.read(dataset_path, groups=groups)
    if ds.label_names is None:
        raise VideoPipelineError(f"{dataset_path}: labels have no names; the specificity score "
                                 "needs to know which behaviour each label column is")
    targets = {key: _target(key, path, ds.label_names) for key, path in generated.items()}
    label_var = np.concatenate([ds.labels[i] for i in _split(ds, "train")]).var(axis=0) + 1e-12
    if pose is None:
        table, extra = _regressor_table(ds, generated, targets, cfg, seed)
    else:
        table, extra = _pose_table(ds, generated, targets, pose, label_var)
    real = spec_mod.real_rows([ds.labels[i] for i in _split(ds, "test")], ds.label_names,
                              label_var, sorted(set(table["target"])))
    table = pd.concat([table, real], ignore_index=True)
    _write_table(table, table_csv, table_tex)
    for path in (table_csv, table_tex):
        write_sidecar(path, config, seed, **extra)
    return table


def _target(key, path, label_names) -> str:
    factor = key[2]
    if factor in label_names:
        return factor
    with h5py.File(path, "r") as f:
        return label_names[int(f.attrs["factor_index"])]


def _regressor_table(ds, generated, targets, cfg, seed):
    rng = np.random.default_rng(seed)
    frames, labels = _frames_and_labels(ds, "train", cfg["max_train_frames"], rng)
    regressor = BehaviorRegressor(alpha=cfg["alpha"], pool=cfg["pool"])
    regressor.fit(frames, labels, ds.label_names)
    r2_test = regressor.score(*_frames_and_labels(ds, "test", cfg["max_train_frames"], rng))
    videos = {(r, m, targets[(r, m, f)]): read_generated(path)["frames"]
              for (r, m, f), path in generated.items()}
    extra = {"extractor": "regressor", "regressor_r2_test": dict(zip(ds.label_names, r2_test))}
    return specificity_table(regressor, videos), extra


def _pose_table(ds, generated, targets, pose, label_var):
    """DeepLabCut extractor: pose of the canvas video → labels in the real labels' units."""
    from benediff.io.pose import read_pose

    index = json.loads(Path(pose["index_json"]).read_text())
    if {tuple(e["key"]) for e in index} != set(generated):
        raise VideoPipelineError(f"{pose['index_json']} lists other generated videos than the "
                                 "specificity table scores; rerun the specificity_canvas rule")
    zscore = dataset_io.read(pose["labels_h5"], groups=("labels",)).provenance.get("zscore") or {}
    if not zscore:
        raise VideoPipelineError(f"{pose['labels_h5']} has no z-score statistics; the DLC "
                                 "extractor needs behavior labels built with zscore on")
    readouts, tracked, names = spec_mod.pose_readouts(
        read_pose(pose["pose_h5"]), index, mapping=pose["labels"]["mapping"],
        behaviors=ds.label_names, pcutoff=pose["pcutoff"],
        smoothing=pose["labels"].get("smoothing", 0), zscore=zscore)
    readouts = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in readouts.items()}
    tracked = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in tracked.items()}
    table = spec_mod.shares_table(readouts, names, label_var)
    table["tracked"] = [tracked[(row.region, row.method, row.target)] for row in table.itertuples()]
    return table, {"extractor": "dlc", "pose": str(pose["pose_h5"])}


def write_specificity_canvas(generated: dict, views, out_mp4, out_json, fps: float) -> list[dict]:
    """All generated videos, each view pasted back into its box, as one video for the pose model.

    ``generated[(region, method, factor)]`` = generated-video file; ``out_json`` indexes the
    concatenated videos in order (key, n_videos, n_frames).
    """
    index, canvases = [], []
    for key, path in sorted(generated.items()):
        frames = read_generated(path)["frames"]
        canvases += [spec_mod.views_canvas(clip, views) for clip in frames]
        index.append({"key": list(key), "n_videos": int(frames.shape[0]),
                      "n_frames": int(frames.shape[1])})
    with atomic_output(out_mp4) as tmp:
        write_gray_video(tmp, np.concatenate(canvases), fps=fps)
    with atomic_output(out_json) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index


def _frames_and_labels(ds, split, limit, rng):
    idx = _split(ds, split)
    frames = np.concatenate([ds.images[i] for i in idx])
    labels = np.concatenate([ds.labels[i] for i in idx])
    if len(frames) != len(labels):
        raise VideoPipelineError(f"session {ds.session!r}: {len(frames)} frames but {len(labels)} "
                                 "label rows in the same trials")
    keep = np.sort(rng.choice(len(frames), min(limit, len(frames)), replace=False))
    return frames[keep], labels[keep]


def _write_table(table: pd.DataFrame, csv_path, tex_path):
    with atomic_output(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    pivot = summary(table)
    rows = [[str(t), *(f"{100 * v:.1f}" for v in row)]
            for t, row in zip(pivot.index, pivot.to_numpy())]
    with atomic_output(tex_path) as tmp:
        tmp.write_text(booktabs("l" + "r" * len(pivot.columns), ["target", *pivot.columns], [rows]))
