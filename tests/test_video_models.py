"""Video models: frame autoencoder, (2+1)D UNet, diffusion schedule and samplers, training/resume."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from benediff.video.autoencoder import (
    AutoencoderConfigError,
    FrameAutoencoder,
    decode_latents,
    denormalise_latents,
    encode_frames,
    fit_latent_scale,
    normalise_latents,
    psnr,
    ssim,
    train_autoencoder,
)
from benediff.checkpoint import CheckpointError
from benediff.video.diffusion import (
    DiffusionConfigError,
    GaussianDiffusion,
    SamplingError,
    sample,
    sampling_timesteps,
)
from benediff.video.train import load_model, save_model, train_diffusion
from benediff.video.unet3d import SinusoidalPosEmb, UNet3D, UNetConfigError

torch.set_num_threads(1)

TINY = dict(channels=1, dim=8, dim_mults=(1, 2), groups=4, attn_heads=2, attn_dim_head=8)


def tiny_unet(**overrides):
    torch.manual_seed(0)
    return UNet3D(**{**TINY, **overrides})


def blob_frames(n_frames=96, size=16, seed=0):
    """Two-view uint8 frames of a Gaussian blob moving on a circle (a different phase per view)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    frames = np.zeros((n_frames, 2, size, size), np.uint8)
    for i, phase in enumerate(rng.uniform(0, 2 * np.pi, n_frames)):
        for view in range(2):
            cy = size / 2 + size / 4 * np.sin(phase + view)
            cx = size / 2 + size / 4 * np.cos(phase + view)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 8) ** 2))
            frames[i, view] = np.round(255 * blob)
    return frames


# ---------------------------------------------------------------------------------- autoencoder


def test_autoencoder_reconstructs_moving_blobs():
    frames = blob_frames()
    model = train_autoencoder(
        frames, epochs=20, batch_size=16, lr=3e-3, seed=0, progress=False,
        model_config=dict(latent_size=4, latent_channels=2, base_channels=8),
    )  # fmt: skip
    held_out = blob_frames(n_frames=32, seed=1)
    latents = encode_frames(model, held_out)
    assert latents.shape == (32, 2, 4, 4)
    recon = decode_latents(model, latents)
    truth = held_out / 255.0
    mean_image = np.broadcast_to(truth.mean(axis=0), truth.shape)
    assert psnr(recon, truth) > 24
    assert psnr(recon, truth) > psnr(mean_image, truth) + 8
    assert ssim(recon, truth) > 0.8


def test_autoencoder_resume_matches_uninterrupted_run(tmp_path):
    frames = blob_frames(n_frames=24)
    kwargs = dict(batch_size=8, lr=1e-3, seed=3, progress=False, model_config=dict(base_channels=8))
    whole = train_autoencoder(frames, epochs=2, **kwargs)
    train_autoencoder(frames, epochs=1, checkpoint_dir=tmp_path, **kwargs)
    resumed = train_autoencoder(frames, epochs=2, checkpoint_dir=tmp_path, **kwargs)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="lr"):
        train_autoencoder(frames, epochs=3, checkpoint_dir=tmp_path, **{**kwargs, "lr": 1e-2})


def test_autoencoder_rejects_incompatible_sizes():
    with pytest.raises(AutoencoderConfigError, match="power of two"):
        FrameAutoencoder(image_size=32, latent_size=5)
    model = FrameAutoencoder(in_channels=2, image_size=16, latent_size=4)
    with pytest.raises(AutoencoderConfigError, match="expects"):
        model.encode(torch.zeros(1, 1, 16, 16))
    with pytest.raises(AutoencoderConfigError, match="latent"):
        model.decode(torch.zeros(1, 1, 8, 8))
    with pytest.raises(AutoencoderConfigError, match="uint8"):
        train_autoencoder(np.zeros((4, 2, 16, 16)), epochs=1, batch_size=2, lr=1e-3, seed=0)


def test_latent_scale_maps_training_latents_into_unit_range():
    z = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 2, 4, 4))
    stats = fit_latent_scale(z)
    zn = normalise_latents(z, stats)
    assert np.abs(zn).max() == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(zn.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    assert np.allclose(denormalise_latents(zn, stats), z, atol=1e-5)


def test_psnr_hand_computed():
    x = np.zeros((2, 4, 4))
    assert psnr(x, x + 0.1) == pytest.approx(20.0)
    assert psnr(x, x) == math.inf


@pytest.mark.parametrize("shape", [(32, 32), (2, 24, 40), (3, 2, 16, 16)])
def test_ssim_matches_skimage(shape):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=shape)
    y = np.clip(x + rng.normal(0, 0.2, size=shape), 0, 1)
    images_x, images_y = x.reshape(-1, *shape[-2:]), y.reshape(-1, *shape[-2:])
    expected = np.mean([
        structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for a, b in zip(images_x, images_y)
    ])  # fmt: skip
    assert ssim(x, y) == pytest.approx(expected, abs=1e-3)
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-9)


# ------------------------------------------------------------------------------------- UNet3D


@pytest.mark.parametrize(
    "shape, dim_mults",
    [
        ((2, 1, 7, 4, 4), (1, 2, 4)),
        ((1, 1, 9, 8, 8), (1, 2)),
        ((2, 1, 1, 5, 7), (1, 2, 4)),
        ((1, 1, 16, 16, 16), (1, 2)),
    ],
)
def test_unet_output_shape(shape, dim_mults):
    model = tiny_unet(dim_mults=dim_mults)
    eps = model(torch.randn(shape), torch.randint(0, 200, (shape[0],)))
    assert eps.shape == shape
    assert torch.isfinite(eps).all()


def test_unet_public_code_variant_with_temporal_attention():
    model = tiny_unet(temporal_attention=True, temporal_conv=False, attn_resolutions=(1, 2))
    x = torch.randn(1, 1, 11, 4, 4)
    assert model(x, torch.tensor([3])).shape == x.shape


def test_unet_mixes_frames():
    x = torch.randn(1, 1, 6, 4, 4)
    x2 = x.clone()
    x2[:, :, 0] += 1.0  # change only the first frame
    t = torch.tensor([10])
    for temporal in (dict(temporal_conv=True), dict(temporal_conv=False, temporal_attention=True)):
        model = tiny_unet(**temporal)
        assert not torch.allclose(model(x, t)[:, :, -1], model(x2, t)[:, :, -1])


def test_sinusoidal_time_embedding():
    emb = SinusoidalPosEmb(8)(torch.tensor([0, 5]))
    assert emb.shape == (2, 8)
    assert torch.allclose(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    assert torch.allclose(emb[1, 0], torch.tensor(math.sin(5.0)))  # first frequency is 1
    assert torch.allclose(
        emb[1, 3], torch.tensor(math.sin(5.0 * 1e-4)), atol=1e-6
    )  # last is 1/10000
    model, x = tiny_unet(), torch.randn(1, 1, 5, 4, 4)
    assert not torch.allclose(model(x, torch.tensor([1])), model(x, torch.tensor([150])))
    assert torch.allclose(model(x, torch.tensor([7])), model(x, torch.tensor([7.0])))


def test_unet_condition_path():
    model = tiny_unet(cond_dim=3)
    x, t = torch.randn(2, 1, 6, 4, 4), torch.tensor([5, 50])
    cond = torch.randn(2, 6, 3)
    assert not torch.allclose(model(x, t, cond=cond), model(x, t))
    assert torch.equal(model(x, t, cond=torch.zeros(2, 6, 3)), model(x, t))
    dropped = model(x, t, cond=cond, cond_keep=torch.tensor([0.0, 1.0]))
    assert torch.allclose(dropped[0], model(x, t)[0])
    assert torch.allclose(dropped[1], model(x, t, cond=cond)[1])
    flagged = tiny_unet(cond_dim=3, cond_indicator=True)
    assert not torch.allclose(flagged(x, t, cond=torch.zeros(2, 6, 3)), flagged(x, t))


def test_unet_rejects_bad_configuration_and_inputs():
    with pytest.raises(UNetConfigError, match="groups"):
        UNet3D(dim=12, groups=8)
    with pytest.raises(UNetConfigError, match="temporal_kernel"):
        UNet3D(temporal_kernel=4)
    model = tiny_unet()
    with pytest.raises(UNetConfigError, match="channels"):
        model(torch.randn(1, 2, 4, 4, 4), torch.tensor([1]))
    with pytest.raises(UNetConfigError, match="cond_dim"):
        model(torch.randn(1, 1, 4, 4, 4), torch.tensor([1]), cond=torch.zeros(1, 4, 2))
    with pytest.raises(UNetConfigError, match="frames"):
        tiny_unet(cond_dim=2)(
            torch.randn(1, 1, 4, 4, 4), torch.tensor([1]), cond=torch.zeros(1, 5, 2)
        )


# -------------------------------------------------------------------------------- diffusion


def test_cosine_schedule_matches_closed_form_and_diffusers():
    from diffusers import DDPMScheduler

    diffusion = GaussianDiffusion(timesteps=200)
    steps = np.arange(201)
    f = np.cos((steps / 200 + 0.008) / 1.008 * np.pi / 2) ** 2
    closed = f[1:] / f[0]
    assert np.allclose(diffusion.alpha_bars[:-1].numpy(), closed[:-1], rtol=1e-10)
    assert diffusion.betas[-1].item() == pytest.approx(0.9999)
    reference = DDPMScheduler(num_train_timesteps=200, beta_schedule="squaredcos_cap_v2")
    assert np.allclose(
        diffusion.alpha_bars[:-1].numpy(),
        reference.alphas_cumprod[:-1].numpy(),
        rtol=1e-5,
        atol=1e-7,
    )


def test_linear_schedule_and_bad_names():
    betas = GaussianDiffusion(timesteps=1000, schedule="linear").betas
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    with pytest.raises(DiffusionConfigError, match="schedule"):
        GaussianDiffusion(schedule="quadratic")
    with pytest.raises(DiffusionConfigError, match="loss"):
        GaussianDiffusion(loss="huber")


def test_q_sample_statistics():
    diffusion = GaussianDiffusion()
    generator = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 1), 0.7)
    for step in (0, 60, 150):
        t = torch.full((20000,), step)
        xt = diffusion.q_sample(x0, t, torch.randn(x0.shape, generator=generator))
        alpha_bar = diffusion.alpha_bars[step].item()
        assert xt.mean().item() == pytest.approx(0.7 * math.sqrt(alpha_bar), abs=0.02)
        assert xt.var().item() == pytest.approx(1 - alpha_bar, abs=0.02)


def test_sampling_timesteps_follow_leading_spacing():
    assert sampling_timesteps(200, None) == list(range(199, -1, -1))
    assert sampling_timesteps(200, 4) == [150, 100, 50, 0]
    with pytest.raises(DiffusionConfigError, match="num_steps"):
        sampling_timesteps(200, 0)


class LinearEps(torch.nn.Module):
    """A fixed 'network' ε(x, t) = a·x + b·t/T, for comparing samplers with diffusers.

    a = −1.5 makes x̂0 = (x − √(1−ᾱ)ε)/√ᾱ overshoot ±1, so x̂0 clipping is exercised.
    """

    def __init__(self, gain=0.3):
        super().__init__()
        self.gain = gain

    def forward(self, x, t, cond=None):
        return self.gain * x + 0.1 * t.float().view(-1, 1, 1, 1, 1) / 200


def diffusers_sample(sampler, num_steps, shape, betas, gain, clip_sample):
    from diffusers import DDIMScheduler, DDPMScheduler

    common = dict(num_train_timesteps=200, trained_betas=betas, clip_sample=clip_sample)
    if sampler == "ddpm":
        scheduler = DDPMScheduler(**common, variance_type="fixed_small")
    else:
        scheduler = DDIMScheduler(**common, set_alpha_to_one=True)
    scheduler.set_timesteps(num_steps)
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(shape, generator=generator)
    # DDIM: ε re-derived from the clipped x̂0 (GLIDE's choice, diffusers' use_clipped_model_output)
    options = {} if sampler == "ddpm" else {"use_clipped_model_output": True}
    for t in scheduler.timesteps:
        eps = LinearEps(gain)(x, t.view(1))
        x = scheduler.step(eps, t, x, generator=generator, **options).prev_sample
    return x


@pytest.mark.parametrize("gain", [0.3, -1.5])
@pytest.mark.parametrize("sampler, num_steps", [("ddpm", 200), ("ddpm", 20), ("ddim", 10), ("ddim", 50)])
def test_samplers_match_diffusers(sampler, num_steps, gain):
    diffusion = GaussianDiffusion()
    shape = (1, 1, 3, 4, 4)
    ours = sample(LinearEps(gain), diffusion, shape, sampler=sampler, num_steps=num_steps,
                  generator=torch.Generator().manual_seed(5), progress=False)  # fmt: skip
    betas = diffusion.betas.numpy()
    theirs = diffusers_sample(sampler, num_steps, shape, betas, gain, clip_sample=True)
    assert torch.allclose(ours, theirs, atol=1e-4)
    if gain < 0:  # clipping was active: without it diffusers lands elsewhere
        unclipped = diffusers_sample(sampler, num_steps, shape, betas, gain, clip_sample=False)
        assert not torch.allclose(ours, unclipped, atol=1e-2)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samplers_give_finite_samples_of_the_right_shape(sampler):
    shape = (2, 1, 5, 4, 4)
    x = sample(tiny_unet(), GaussianDiffusion(), shape, sampler=sampler, num_steps=8,
               generator=torch.Generator().manual_seed(0), progress=False)  # fmt: skip
    assert x.shape == shape and torch.isfinite(x).all()


def test_eps_hook_shifts_samples_and_may_use_autograd():
    model, diffusion, shape = tiny_unet(), GaussianDiffusion(), (1, 1, 5, 4, 4)

    def run(hook):
        return sample(model, diffusion, shape, sampler="ddim", num_steps=10,
                      generator=torch.Generator().manual_seed(1), eps_hook=hook, progress=False)  # fmt: skip

    base = run(None)
    shifted = run(lambda x, t, eps, alpha_bar: eps + 0.5)
    assert (base - shifted).mean().item() > 0.05  # ε up → x̂0 = (x − √(1−ᾱ)ε)/√ᾱ down

    calls = []

    def gradient_hook(x, t, eps, alpha_bar):
        with torch.enable_grad():
            y = x.detach().requires_grad_(True)
            log_p = -0.5 * y.sum()  # ∇ log p = −0.5 everywhere: guidance pushes ε up
            (grad,) = torch.autograd.grad(log_p, y)
        assert torch.allclose(grad, torch.full_like(x, -0.5))
        calls.append(t)
        return eps - math.sqrt(1 - alpha_bar) * grad

    guided = run(gradient_hook)
    assert len(calls) == 10
    assert (base - guided).abs().mean().item() > 0.05
    same_shift = run(lambda x, t, eps, alpha_bar: eps + 0.5 * math.sqrt(1 - alpha_bar))
    assert torch.allclose(guided, same_shift, atol=1e-5)


def test_nan_during_sampling_names_the_step():
    def hook(x, t, eps, alpha_bar):
        return eps * float("nan") if t < 120 else eps

    with pytest.raises(SamplingError, match=r"step 1 \(diffusion timestep t=100\)"):
        sample(tiny_unet(), GaussianDiffusion(), (1, 1, 3, 4, 4), sampler="ddpm", num_steps=4,
               generator=torch.Generator().manual_seed(0), eps_hook=hook, progress=False)  # fmt: skip


# --------------------------------------------------------------------------------- training

TRAIN = dict(
    model_config=TINY, diffusion_config=dict(timesteps=50), batch_size=4, lr=3e-3,
    ema_decay=0.9, seed=7, progress=False,
)  # fmt: skip


def toy_clips(n=8, frames=6, seed=0):
    """Clips whose frames are one smooth sinusoid in time, scaled into [-1, 1]."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1, 1, 1))
    time_axis = np.arange(frames).reshape(1, 1, -1, 1, 1)
    return (0.8 * np.sin(0.8 * time_axis + phase) * np.ones((1, 1, 1, 4, 4))).astype(np.float32)


def test_training_loss_decreases_on_toy_data():
    _, history = train_diffusion(toy_clips(), steps=32, **TRAIN)
    losses = np.array([h["loss"] for h in history])
    assert len(losses) == 32 and np.isfinite(losses).all()
    assert losses[-8:].mean() < 0.6 * losses[:8].mean()


def test_conditional_training_runs_with_condition_dropout():
    clips = toy_clips()
    cond = np.random.default_rng(0).normal(size=(8, 6, 2)).astype(np.float32)
    model, history = train_diffusion(clips, steps=3, cond=cond, cond_dropout=0.5,
                                     **{**TRAIN, "model_config": {**TINY, "cond_dim": 2}})  # fmt: skip
    assert model.config["cond_dim"] == 2 and len(history) == 3
    with pytest.raises(ValueError, match="cond_dim"):
        train_diffusion(
            clips,
            steps=1,
            cond=cond[:, :, :1],
            **{**TRAIN, "model_config": {**TINY, "cond_dim": 2}},
        )


def test_training_rejects_bad_clips():
    with pytest.raises(ValueError, match="channels"):
        train_diffusion(np.zeros((4, 2, 6, 4, 4), np.float32), steps=1, **TRAIN)
    bad = toy_clips()
    bad[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_diffusion(bad, steps=1, **TRAIN)
    with pytest.raises(ValueError, match="fit_latent_scale"):
        train_diffusion(toy_clips() * 4, steps=1, **TRAIN)


def test_checkpoint_from_other_config_is_refused(tmp_path):
    clips = toy_clips()
    train_diffusion(clips, steps=2, checkpoint_dir=tmp_path, checkpoint_every=1, **TRAIN)
    other = {**TRAIN, "lr": 1e-4, "model_config": {**TINY, "dim": 16}}
    with pytest.raises(CheckpointError, match=r"lr.*model\.dim|model\.dim.*lr") as info:
        train_diffusion(clips, steps=4, checkpoint_dir=tmp_path, **other)
    assert "delete the checkpoint directory" in str(info.value)


def test_save_and_load_model_round_trip(tmp_path):
    model = tiny_unet(cond_dim=2)
    save_model(tmp_path / "vdm.pt", model, {"latent_scale": {"mean": [0.0], "scale": [2.0]}})
    loaded, config = load_model(tmp_path / "vdm.pt")
    assert config["latent_scale"]["scale"] == [2.0]
    x, t = torch.randn(1, 1, 4, 4, 4), torch.tensor([3])
    assert torch.equal(loaded(x, t), model(x, t))
    autoencoder = FrameAutoencoder(in_channels=2, image_size=16, latent_size=4)
    save_model(tmp_path / "ae.pt", autoencoder, {})
    assert isinstance(load_model(tmp_path / "ae.pt")[0], FrameAutoencoder)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_model(tmp_path / "junk.pt")


RESUME_ARGS = dict(
    model_config=TINY, diffusion_config=dict(timesteps=50), steps=12, batch_size=3, lr=3e-3,
    ema_decay=0.9, seed=11, device="cpu", checkpoint_every=4, progress=False,
)  # fmt: skip

RESUME_JOB = textwrap.dedent("""
    import json, sys, time
    import numpy as np, torch
    torch.set_num_threads(1)
    import benediff.training as training
    import benediff.video.train as train

    real_save = training.save_checkpoint

    def slow_save(*args, **kwargs):  # linger after each checkpoint so the test can kill us mid-run
        real_save(*args, **kwargs)
        time.sleep(float(sys.argv[2]))

    training.save_checkpoint = slow_save
    kwargs = json.loads(sys.argv[5])
    model, history = train.train_diffusion(np.load(sys.argv[3]), checkpoint_dir=sys.argv[1], **kwargs)
    train.save_model(sys.argv[4], model, {"losses": [h["loss"] for h in history]})
    """)


def _run_job(tmp_path, ckpt_dir, out, linger):
    (tmp_path / "job.py").write_text(RESUME_JOB)
    args = [sys.executable, str(tmp_path / "job.py"), str(ckpt_dir), str(linger), str(tmp_path / "clips.npy"),
            str(out), json.dumps(RESUME_ARGS)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(args, env=env, stderr=subprocess.PIPE)


def test_killed_training_resumes_to_identical_weights(tmp_path):
    clips = toy_clips(n=7)
    np.save(tmp_path / "clips.npy", clips)
    ckpt_dir = tmp_path / "killed"
    job = _run_job(tmp_path, ckpt_dir, tmp_path / "unused.pt", linger=60)
    deadline = time.time() + 120
    while not (ckpt_dir / "diffusion.ckpt").exists():
        assert job.poll() is None, job.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert (
        torch.load(ckpt_dir / "diffusion.ckpt", weights_only=False)["loop"]["done"] == 4
    )  # killed mid-run

    resumed = _run_job(tmp_path, ckpt_dir, tmp_path / "resumed.pt", linger=0)
    straight, history = train_diffusion(clips, checkpoint_dir=tmp_path / "straight", **RESUME_ARGS)
    assert resumed.wait(timeout=180) == 0, resumed.stderr.read().decode()
    model, config = load_model(tmp_path / "resumed.pt")
    assert config["losses"] == [h["loss"] for h in history] and len(history) == 12
    for a, b in zip(model.state_dict().values(), straight.state_dict().values()):
        assert torch.equal(a, b)
