"""Glue between the video rules' files and the video models: one function per rule.

File formats: ``frame_latents.h5`` (:mod:`benediff.io.frame_latents`), the LVM's ``latents.h5``
(:mod:`benediff.io.latents`), generated videos (:mod:`benediff.io.generated`), ``encoder.h5``
(:class:`~benediff.video.encoder.LinearEncoder`), models (:mod:`benediff.video.train`). The
specificity rules' entry points are in :mod:`benediff.video.canvas` and
:mod:`benediff.video.specificity`.
"""

import json

import einops
import numpy as np
import torch

from benediff.behavior.video import write_gray_video
from benediff.device import torch_device
from benediff.io.atomic import atomic_output
from benediff.io.frame_latents import read_frame_file, read_frame_latents, write_frame_latents
from benediff.io.generated import write_generated
from benediff.io.latents import LatentsFileError, read_session_latents
from benediff.seeds import derive_seed
from benediff.video import autoencoder as ae
from benediff.video import baselines
from benediff.video.diffusion import GaussianDiffusion, sample
from benediff.video.encoder import LinearEncoder
from benediff.video.frames import gather, n_frames, read_streamed
from benediff.video.guidance import LITERAL_ALGORITHM_1, VarianceGuidance
from benediff.video.inputs import VideoPipelineError, split_trials
from benediff.video.methods import CONDITIONED, METHODS
from benediff.video.train import load_model, save_model, train_diffusion


# ---------------------------------------------------------------------------------------------
# inputs


def read_paired(latents_path, vae_path):
    """Frame-latent clips, their scale and split, and the same trials' VAE latents and names."""
    clips, scale, split, session = read_frame_file(latents_path)
    try:
        z, names = read_session_latents(vae_path, session)
    except LatentsFileError as err:
        raise VideoPipelineError(str(err)) from None
    _paired(clips, z, latents_path, vae_path)
    return clips, scale, split, z, names


def factor_index(names: list[str], factor: str, source) -> int:
    if factor not in names:
        raise VideoPipelineError(f"factor {factor!r} is not a latent factor of {source}; "
                                 f"its factors are {names}; fix video.figures / video.specificity")
    return names.index(factor)


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
    """Train the per-frame autoencoder on training frames; report PSNR/SSIM on test frames.

    Frames are read one trial at a time: the job holds the ``max_train_frames`` it trains on,
    not the session's images."""
    ds = read_streamed(dataset_path)
    rng = np.random.default_rng(seed)
    train = _frames(ds, "train", cfg["max_train_frames"], rng)
    model = ae.train_autoencoder(
        train, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed,
        device=device, checkpoint_dir=checkpoint_dir, progress=False,
        model_config={k: cfg[k] for k in ("latent_size", "latent_channels", "base_channels")},
        micro_batch=cfg["micro_batch"])
    n_train = len(train)
    del train  # the training frames are not needed to score the test frames
    test = _frames(ds, "test", 2000, rng)
    metrics = {**reconstruction_metrics(model, test, device),
               "n_train_frames": n_train, "n_test_frames": len(test)}
    save_model(model_path, model, {"metrics": metrics})
    with atomic_output(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return metrics


def _frames(ds, split, limit, rng) -> np.ndarray:
    """A split's frames, or ``limit`` of them drawn with ``rng``, read one trial at a time."""
    trials = split_trials(ds, split)
    n = n_frames(ds.images, trials)
    keep = np.sort(rng.choice(n, limit, replace=False)) if n > limit else np.arange(n)
    return gather(ds.images, trials, keep)


# test frames whose reconstruction is scored at a time: SSIM's float64 maps and the network's
# activations of 64 frames (at 256, the study's 32 channels × 128 px took 1.8 GB over the job's
# 0.3 GB base, more than its micro-batched training step; at 64, a quarter of that)
METRIC_CHUNK = 64


def reconstruction_metrics(model, frames, device) -> dict:
    """PSNR (dB, over all pixels) and mean SSIM of the autoencoder's reconstruction of uint8
    ``frames``, ``METRIC_CHUNK`` frames at a time (equal to scoring them at once up to float
    rounding: PSNR from the pooled squared error, SSIM as the frame-weighted mean)."""
    squared, ssim_sum = 0.0, 0.0
    for start in range(0, len(frames), METRIC_CHUNK):
        x = frames[start:start + METRIC_CHUNK].astype(np.float32) / 255.0
        recon = ae.decode_latents(model, ae.encode_frames(model, x, device=device), device=device)
        squared += float(np.sum((x.astype(np.float64) - recon) ** 2))
        ssim_sum += ae.ssim(x, recon) * len(x)
    mse = squared / frames.size
    return {"psnr_test": float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse)),
            "ssim_test": ssim_sum / len(frames)}


def encode_frame_latents(dataset_path, ae_path, out_path, *, device) -> None:
    """Encode every trial (read one at a time); normalise with training-frame statistics; store
    as clips."""
    ds = read_streamed(dataset_path)
    model = load_model(ae_path)[0]
    latents = [ae.encode_frames(model, clip, device=device) for clip in ds.images]
    scale = ae.fit_latent_scale(np.concatenate([latents[i] for i in split_trials(ds, "train")]))
    clips = [ae.normalise_latents(z, scale).transpose(1, 0, 2, 3) for z in latents]  # (c, L, h, w)
    write_frame_latents(out_path, clips, scale, ds.split, ds.session)


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
    baselines.save_naive_decoder(model_path, model, factor_names=names)


# ---------------------------------------------------------------------------------------------
# generation


def manipulated_conditions(z, split, factor: int, n_videos: int, quantiles) -> np.ndarray:
    """(n_videos, L, D) conditions from test trials: factor swept over its training range."""
    train = np.concatenate([z[i] for i in split["train"]])
    value_range = np.quantile(train[:, factor], quantiles)
    refs = [z[split["test"][k % len(split["test"])]] for k in range(n_videos)]
    return np.stack([baselines.manipulated_trajectory(r, factor, value_range) for r in refs])


def generation_inputs(inputs) -> dict:
    """The model and data paths of a generation job, from its rule's named inputs (the keys of
    :func:`benediff.video.targets.generate_inputs`), as keyword arguments of :func:`generate`."""
    return {"latents_path": inputs.latents, "ae_path": inputs.ae, "vae_path": inputs.vae,
            "encoder_path": inputs.encoder, "model_path": inputs.model}


def generate(method, *, region, factor, latents_path, ae_path, vae_path, encoder_path, model_path,
             out_h5, out_mp4, cfg: dict, seed: int, device) -> dict:
    """Generate ``cfg['generation']['n_videos']`` videos of one factor by one method."""
    if method not in METHODS:
        raise VideoPipelineError(f"generation method {method!r} is unknown; use one of {METHODS}")
    return _generate(method, region=region, factors=[factor], latents_path=latents_path,
                     ae_path=ae_path, vae_path=vae_path, encoder_path=encoder_path,
                     model_path=model_path, out_h5={factor: out_h5}, out_mp4=out_mp4, cfg=cfg,
                     seed=seed, device=device)


def generate_unguided(*, region, factors, out_h5: dict, **kw) -> dict:
    """The unguided VDM's ``n_videos`` videos of one region, sampled once, and one file per
    factor (``out_h5[factor]``): the same latents and frames, with that factor's read-out as its
    requested trajectory. Every factor's lift is measured against these videos."""
    return _generate("unguided", region=region, factors=list(factors), out_h5=out_h5, **kw)


def _generate(method, *, region, factors, latents_path, ae_path, vae_path, encoder_path,
              model_path, out_h5: dict, out_mp4, cfg: dict, seed: int, device) -> dict:
    """Sample one method's videos once and write one file per factor (a guided method: one)."""
    clips, scale, split, z, names = read_paired(latents_path, vae_path)
    index = {factor: factor_index(names, factor, vae_path) for factor in factors}
    encoder = LinearEncoder.load(encoder_path)
    if encoder.n_factors != len(names):
        raise VideoPipelineError(f"{encoder_path} maps to {encoder.n_factors} factors but {vae_path} "
                                 f"has {len(names)}; refit the linear encoder")
    gen = cfg["generation"]
    shape = (gen["n_videos"], *clips[0].shape)
    d = index[factors[0]]  # the guided factor (the unguided VDM ignores it)
    conditions = manipulated_conditions(z, split, d, gen["n_videos"], gen["value_quantiles"])
    # one noise seed per region, whatever the factor and method: each guided video starts from
    # the same noise as the unguided video it is compared with (a paired lift)
    latents = _sample(method, model_path, shape, d, encoder, conditions, cfg,
                      derive_seed(seed, region), device)
    frames = _decode_videos(latents, ae_path, scale, device)
    readout = np.stack([encoder.predict(x.transpose(1, 0, 2, 3)) for x in latents])
    with atomic_output(out_mp4) as tmp:
        write_gray_video(tmp, _tile(frames), fps=gen["fps"])
    for factor, i in index.items():
        requested, source = requested_trajectories(method, conditions, readout, i)
        write_generated(out_h5[factor], latents, frames, readout, requested, gen["every"],
                        attrs={"method": method, "region": region, "factor": factor,
                               "factor_index": i, "factor_names": json.dumps(names),
                               "requested_source": source})
    return {"trajectory_variance": readout.var(axis=1).mean(0).tolist()}


def requested_trajectories(method, conditions, readout, factor: int):
    """The target factor's trajectory each video was asked to follow, (n, L), and its source.

    The baselines are conditioned on Z, so theirs is the condition's factor trajectory. The
    diffusion methods are asked for no trajectory in advance: guidance shapes the sampled latent,
    and what it asked for is that latent's factor trajectory through the linear encoder (the
    quantity eq. 8 acts on). The specificity score checks that the behaviour read out of the
    decoded frames follows it over time.
    """
    if method in CONDITIONED:
        return np.asarray(conditions)[:, :, factor], "condition"
    return np.asarray(readout)[:, :, factor], "guided latent"


def _sample(method, model_path, shape, factor, encoder, conditions, cfg, seed, device):
    if method == "naive":
        model = baselines.load_naive_decoder(model_path)
        return np.stack([baselines.naive_generate(model, c, device) for c in conditions])
    model, meta = load_model(model_path)
    device = torch_device(device)
    model.to(device)
    g = cfg["guidance"]
    if method == "ours_literal":
        return sample_literal(model, meta, shape, encoder, factor, g["n_negatives"], seed,
                              device).cpu().numpy()
    diffusion = GaussianDiffusion(**meta["diffusion"])
    kwargs = dict(sampler=g["sampler"], num_steps=g["steps"], device=device, progress=False,
                  generator=torch.Generator().manual_seed(seed))
    if method == "ours":
        hook = VarianceGuidance(encoder.torch_forward, factor, encoder.n_factors, scale=g["scale"],
                                tau=g["tau"], n_negatives=g["n_negatives"], input=g["input"],
                                seed=seed)
        x = sample(model, diffusion, shape, eps_hook=hook, **kwargs)
    elif method == "unguided":
        x = sample(model, diffusion, shape, **kwargs)
    else:
        cond = torch.as_tensor(conditions, dtype=torch.float32)
        x = sample(baselines.GuidedByCondition(model, cfg["cfg"]["weight"]), diffusion, shape,
                   cond=cond, **kwargs)
    return x.cpu().numpy()


def sample_literal(model, meta, shape, encoder, factor, n_negatives, seed, device):
    """Algorithm 1 as the paper writes it (:data:`LITERAL_ALGORITHM_1`): DDPM over every one of
    the T steps, ε' = ε − √(1−ᾱ_t)·∇ log p(c_d | Y_t) with the classifier on the noisy Y_t, s = 1,
    τ = 1, and no x̂0 clipping."""
    lit = LITERAL_ALGORITHM_1
    diffusion = GaussianDiffusion(**{**meta["diffusion"], "clip_sample": lit["clip_sample"]})
    hook = VarianceGuidance(encoder.torch_forward, factor, encoder.n_factors, scale=lit["scale"],
                            tau=lit["tau"], n_negatives=n_negatives, input=lit["input"], seed=seed)
    return sample(model, diffusion, shape, eps_hook=hook, sampler="ddpm",
                  num_steps=diffusion.timesteps, device=device, progress=False,
                  generator=torch.Generator().manual_seed(seed))


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
