"""Guided vs unguided sampling of one trial (target: guided ≤ 1.2× the unguided time).

One trial of 189 frames of a 1×4×4 latent, the paper-size UNet3D (dim 32, mults (1,2,4)) with
random weights, a linear encoder to D = 6 factors, DDPM with a configurable number of steps.
Run: .venv/bin/python benchmarks/bench_guidance.py [--steps 50] [--repeats 3]
"""

import argparse
import os
import time

import numpy as np
import torch

from benediff.video.diffusion import GaussianDiffusion, sample
from benediff.video.encoder import LinearEncoder
from benediff.video.guidance import VarianceGuidance
from benediff.video.unet3d import UNet3D


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=189)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(2000, 1, 4, 4))
    encoder = LinearEncoder(alpha=1.0, standardise=False).fit(frames, frames.reshape(2000, -1) @ rng.normal(size=(16, 6)))
    model = UNet3D(channels=1, dim=32, dim_mults=(1, 2, 4), groups=8, attn_resolutions=(2, 4))
    diffusion = GaussianDiffusion(timesteps=200)
    shape = (1, 1, args.frames, 4, 4)

    def run(hook):
        sample(model, diffusion, shape, sampler="ddpm", num_steps=args.steps, progress=False,
               generator=torch.Generator().manual_seed(0), eps_hook=hook)

    def guided():
        run(VarianceGuidance(encoder.torch_forward, 0, 6, scale=50, tau=0.1, input="x_t", seed=0))

    run(None)  # warm-up
    unguided_s = best_time(lambda: run(None), args.repeats)
    guided_s = best_time(guided, args.repeats)
    print(f"one trial {shape}, DDPM {args.steps} steps, {args.threads} thread(s), best of {args.repeats}")
    print(f"unguided: {unguided_s:.3f} s   guided: {guided_s:.3f} s   ratio: {guided_s / unguided_s:.3f}"
          "  (target <= 1.2)")
    print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
