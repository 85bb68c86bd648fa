"""One-GPU cost check at the paper's sizes, with an extrapolated GPU-hours figure for the study.

Times, on one device, with the pipeline's own code:
- a VDM training step (the paper's UNet width 32, mults 1-2-4, batch 64 clips of 189 frames of
  the frame-autoencoder latent; mixed precision on CUDA, as the trainer does);
- sampling one trial of 189 frames with DDPM at T = 200 steps, unguided and guided (Algorithm 1);
- one epoch of the behaviour VAE on a paper-size region (549 trials x 189 frames x 24 dims);
- a block of CEBRA iterations on the same region;
- DeepLabCut inference frames/s at 128 x 128, if DeepLabCut is importable here;
- peak GPU memory (CUDA only).
Then it multiplies each time by what the study needs (steps, trials, fits, iterations: see the
options) and prints GPU-hours per stage and in all. The paper reports about 20 V100-hours for
the VDM alone.

    .venv/bin/python benchmarks/gpu_check.py --device cuda          # on a GPU node, <= 8 min
    .venv/bin/python benchmarks/gpu_check.py --device cpu --toy     # tiny sizes (the test suite)

On a SLURM GPU node: ``srun --partition gpu --gres=gpu:1 --time 00:15:00
.venv/bin/python benchmarks/gpu_check.py --device cuda`` (with the CUDA build of torch).
"""

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

PAPER = dict(batch=64, frames=189, latent_channels=4, latent_size=8, dim=32, dim_mults=(1, 2, 4),
             trials=549, region_dims=24, behaviors=6, timesteps=200, vae_batch=32,
             cebra_iterations=200, dlc_frames=64, image_size=128)
TOY = dict(batch=2, frames=16, latent_channels=1, latent_size=4, dim=8, dim_mults=(1, 2),
           trials=24, region_dims=8, behaviors=3, timesteps=10, vae_batch=8,
           cebra_iterations=10, dlc_frames=4, image_size=32)


@dataclass
class Study:
    """What the paper-scale study costs in units of the timed pieces (defaults: the paper)."""

    vdm_steps: int = 100_000  # one VDM per session, trained as the paper (about 20 V100-hours)
    sessions: int = 2
    cfg_models: int = 6  # one classifier-free VDM per region of the video figures
    generated_trials: int = 6 * 6 * 3 * 8  # regions x factors x methods x videos
    vae_fits: int = 5 * 2 * 6 * 4  # seeds x sessions x regions x VAE variants
    vae_epochs: int = 60  # measured: a paper-size fit stops after about 60 epochs
    cebra_fits: int = 5 * 2 * 6
    cebra_iterations: int = 2000
    video_frames: int = 2 * 549 * 189  # behaviour frames to label with DLC


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, repeats=1) -> float:
    """Best wall time of ``repeats`` calls (after the caller's warm-up)."""
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def per_unit(t_a: float, t_b: float, a: int, b: int) -> float:
    """Seconds per unit from runs of ``a`` and ``b`` units (fixed set-up cancels); when noise
    makes the difference vanish (tiny sizes), the longer run's average."""
    diff = (t_b - t_a) / (b - a)
    return diff if diff > 0 else t_b / b


def vdm_step_seconds(s, device, steps=3) -> float:
    from benediff.video.train import train_diffusion

    rng = np.random.default_rng(0)
    n = max(s["batch"], 8)
    clips = rng.uniform(-1, 1, (n, s["latent_channels"], s["frames"], s["latent_size"],
                                s["latent_size"])).astype(np.float32)
    kwargs = dict(model_config=dict(channels=s["latent_channels"], dim=s["dim"],
                                    dim_mults=tuple(s["dim_mults"]), attn_resolutions=(2, 4)),
                  diffusion_config=dict(timesteps=s["timesteps"]), batch_size=s["batch"],
                  lr=1e-4, ema_decay=0.995, seed=0, device=str(device), progress=False)
    one = timed(lambda: train_diffusion(clips, steps=1, **kwargs), device)  # includes set-up
    more = timed(lambda: train_diffusion(clips, steps=1 + steps, **kwargs), device)
    return per_unit(one, more, 1, 1 + steps)


def sampling_seconds(s, device) -> tuple[float, float]:
    from benediff.video.diffusion import GaussianDiffusion, sample
    from benediff.video.encoder import LinearEncoder
    from benediff.video.guidance import VarianceGuidance
    from benediff.video.unet3d import UNet3D

    rng = np.random.default_rng(0)
    c, h = s["latent_channels"], s["latent_size"]
    frames = rng.normal(size=(500, c, h, h))
    labels = frames.reshape(500, -1) @ rng.normal(size=(c * h * h, s["behaviors"]))
    encoder = LinearEncoder(alpha=1.0, standardise=False).fit(frames, labels)
    torch.manual_seed(0)
    model = UNet3D(channels=c, dim=s["dim"], dim_mults=tuple(s["dim_mults"]),
                   attn_resolutions=(2, 4)).to(device).eval()
    diffusion = GaussianDiffusion(timesteps=s["timesteps"])
    shape = (1, c, s["frames"], h, h)

    def run(hook=None):
        sample(model, diffusion, shape, sampler="ddpm", num_steps=s["timesteps"], device=device,
               progress=False, generator=torch.Generator().manual_seed(0), eps_hook=hook)

    def guided():
        run(VarianceGuidance(encoder.torch_forward, 0, s["behaviors"], scale=250.0, tau=5.0,
                             n_negatives=4, input="x0", seed=0))

    run()  # warm-up
    return timed(run, device), timed(guided, device)


def region_data(s):
    from benediff.lvm.data import region_data as cut
    from benediff.testing.lvm import planted_dataset

    ds, _ = planted_dataset(n_trials=s["trials"], n_frames=s["frames"],
                            n_behaviors=s["behaviors"], region_dims=(s["region_dims"],), seed=0)
    rd = cut(ds, "R0_L", n_latents=s["behaviors"] + 1)
    return rd.part("train"), rd.part("val")


def vae_epoch_seconds(s, device, data) -> float:
    from benediff.lvm.model import BehaviorVAE

    (x, u), (xv, uv) = data

    def fit(epochs):
        BehaviorVAE(n_unsupervised=1, batch_size=s["vae_batch"], max_epochs=epochs,
                    warmup_epochs=1, patience=100, seed=0, device=str(device),
                    progress=False).fit(x, u, xv, uv)

    return per_unit(timed(lambda: fit(1), device), timed(lambda: fit(3), device), 1, 3)


def cebra_iteration_seconds(s, device, data) -> float | None:
    try:
        from benediff.lvm.baselines import get_baseline
        get_baseline("cebra", seed=0, device=str(device), max_iterations=1)
    except Exception as err:  # CEBRA is an optional extra
        print(f"CEBRA: not timed ({err})")
        return None
    (x, u), _ = data

    def fit(n):
        get_baseline("cebra", seed=0, device=str(device), max_iterations=n).fit(x, u)

    n = s["cebra_iterations"]
    return per_unit(timed(lambda: fit(n), device), timed(lambda: fit(2 * n), device), n, 2 * n)


def dlc_fps(s, device) -> float | None:
    """Frames/s of DeepLabCut inference (random-init ResNet-50, no download) on a video."""
    try:
        import deeplabcut  # noqa: F401
    except Exception:
        print("DeepLabCut: not importable in this environment (it lives in .venv-dlc); run "
              "this script with .venv-dlc/bin/python for its frames/s")
        return None
    import tempfile
    from pathlib import Path

    from benediff.behavior.dlc_infer import run_inference
    from benediff.behavior.dlc_model import build_random_model
    from benediff.behavior.video import write_gray_video

    n, size = s["dlc_frames"], s["image_size"]
    frames = np.random.default_rng(0).integers(0, 255, (2 * n, size, size), np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_random_model(tmp / "model", ["paw", "jaw", "lever"], resnet18=False)
        times = []
        for k in (n, 2 * n):
            write_gray_video(tmp / f"v{k}.mp4", frames[:k], 30)
            times.append(timed(lambda: run_inference(tmp / "model", tmp / f"v{k}.mp4",
                                                     tmp / f"p{k}.h5", device=str(device)),
                               device))
    return 1.0 / per_unit(times[0], times[1], n, 2 * n)  # the model's set-up cancels out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--toy", action="store_true", help="tiny sizes (a smoke test, any device)")
    parser.add_argument("--threads", type=int, default=2)
    for field, default in Study.__dataclass_fields__.items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=int, default=default.default,
                            help=f"study size (default {default.default})")
    args = parser.parse_args(argv)
    from benediff.device import torch_device

    device = torch_device(args.device)
    torch.set_num_threads(args.threads)
    s = TOY if args.toy else PAPER
    study = Study(**{f: getattr(args, f) for f in Study.__dataclass_fields__})
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    print(f"device {device}{' (toy sizes)' if args.toy else ' (paper sizes)'}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    step = vdm_step_seconds(s, device)
    print(f"VDM training step (batch {s['batch']}, {s['frames']} frames, latent "
          f"{s['latent_channels']}x{s['latent_size']}x{s['latent_size']}, dim {s['dim']}"
          f"{', AMP' if device.type == 'cuda' else ''}): {step:.3f} s")
    unguided, guided = sampling_seconds(s, device)
    print(f"one trial, DDPM T = {s['timesteps']}: unguided {unguided:.2f} s, guided "
          f"{guided:.2f} s (ratio {guided / unguided:.2f})")
    data = region_data(s)
    epoch = vae_epoch_seconds(s, device, data)
    print(f"VAE epoch ({s['trials']} trials x {s['frames']} x {s['region_dims']}): {epoch:.2f} s")
    cebra = cebra_iteration_seconds(s, device, data)
    if cebra is not None:
        print(f"CEBRA: {1000 * cebra:.1f} ms per iteration")
    fps = dlc_fps(s, device)
    if fps is not None:
        print(f"DeepLabCut inference at {s['image_size']}x{s['image_size']}: {fps:.1f} frames/s")
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
    hours = {
        "VDM training": study.vdm_steps * study.sessions * step,
        "CFG VDMs": study.vdm_steps * study.cfg_models * step,
        "generation": study.generated_trials * (guided + 2 * unguided) / 3,
        "VAE fits": study.vae_fits * study.vae_epochs * epoch,
        "CEBRA fits": study.cebra_fits * study.cebra_iterations * (cebra or 0.0),
        "DeepLabCut": study.video_frames / fps if fps else 0.0,
    }
    print("extrapolated study cost on this device (hours):")
    for name, seconds in hours.items():
        print(f"  {name:<14} {seconds / 3600:8.2f}")
    print(f"  {'total':<14} {sum(hours.values()) / 3600:8.2f}   (the paper: about 20 V100-hours "
          f"for the VDM alone)")
    print(f"check took {time.perf_counter() - start:.0f} s")
    return hours


if __name__ == "__main__":
    main()
