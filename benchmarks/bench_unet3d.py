"""Train-step time of our UNet3D against video-diffusion-pytorch 0.6.3's Unet3D (CPU).

Same input (latent clips, batch 2 × 1 × 189 frames × 4 × 4, uniform in [0, 1]), same loss (L1
on ε), Adam; the parameter counts are matched within ~10 %. Each model runs in its own worker
process (vdp inside .venv-bench-vdp, see below); the two are driven in alternation so load
changes on the shared machine hit both, and the medians are compared.

    python benchmarks/bench_unet3d.py [--rounds 8] [--steps 3] [--threads 1]

The vdp environment (only here, never in the project's dependencies):

    python3.11 -m venv .venv-bench-vdp
    .venv-bench-vdp/bin/pip install torch==2.13.0
    .venv-bench-vdp/bin/pip install --no-deps video-diffusion-pytorch==0.6.3 einops einops-exts \
        rotary-embedding-torch pillow tqdm
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VDP_PYTHON = REPO / ".venv-bench-vdp" / "bin" / "python"
SHAPE = (2, 1, 189, 4, 4)
VDP_KWARGS = dict(
    dim=32, dim_mults=(1, 2, 4), channels=1, attn_heads=8, attn_dim_head=16, resnet_groups=8
)
# Same width/depth as vdp; spatial attention at every level as in vdp (16 tokens at 4×4 is
# cheap); a 5-frame temporal kernel brings the parameter count within ~5 % of vdp's.
OURS_KWARGS = dict(
    channels=1, dim=32, dim_mults=(1, 2, 4), groups=8, attn_resolutions=(1, 2, 4),
    attn_heads=8, attn_dim_head=16, temporal_kernel=5,
)  # fmt: skip


def _stub_torchvision():
    """vdp imports torchvision at module level for its GIF dataset only; CPU torch has none."""

    class Unavailable:
        def __init__(self, *args, **kwargs):
            pass

    def getattr_(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Unavailable

    for name in ("torchvision", "torchvision.transforms", "torchvision.utils"):
        module = types.ModuleType(name)
        module.__getattr__ = getattr_
        sys.modules[name] = module
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
    sys.modules["torchvision"].utils = sys.modules["torchvision.utils"]


def _ours_step_fn(torch):
    from benediff.video.diffusion import GaussianDiffusion
    from benediff.video.unet3d import UNet3D

    model = UNet3D(**OURS_KWARGS)
    diffusion = GaussianDiffusion(timesteps=200, loss="l1")
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return model, lambda: diffusion.loss(model, x, generator=generator)


def _vdp_step_fn(torch):
    _stub_torchvision()
    from video_diffusion_pytorch import GaussianDiffusion, Unet3D

    model = Unet3D(**VDP_KWARGS)
    diffusion = GaussianDiffusion(
        model, image_size=4, num_frames=189, channels=1, timesteps=200, loss_type="l1"
    )
    x = torch.rand(
        SHAPE, generator=torch.Generator().manual_seed(0)
    )  # vdp maps [0,1] → [-1,1] itself
    return model, lambda: diffusion(x)


def worker(kind: str, threads: int) -> None:
    """Build one model, then answer each stdin line N with the times of N train steps (JSON)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, loss_fn = (_ours_step_fn if kind == "ours" else _vdp_step_fn)(torch)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        loss = loss_fn()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for _ in range(2):  # warm-up
        step()
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"params": params}), flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


def _spawn(python, kind, threads):
    args = [str(python), "-W", "ignore", __file__, "--worker", kind, "--threads", str(threads)]
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    return proc, json.loads(proc.stdout.readline())["params"]


def _ask(proc, steps):
    proc.stdin.write(f"{steps}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main(rounds: int, steps: int, threads: int) -> None:
    if not VDP_PYTHON.exists():
        sys.exit(
            f"{VDP_PYTHON} is missing: create the vdp environment as described in this file's docstring"
        )
    workers = {
        "ours": _spawn(sys.executable, "ours", threads),
        "vdp": _spawn(VDP_PYTHON, "vdp", threads),
    }
    times = {kind: [] for kind in workers}
    try:
        for r in range(rounds):
            order = ("ours", "vdp") if r % 2 == 0 else ("vdp", "ours")
            for kind in order:
                times[kind] += _ask(workers[kind][0], steps)
    finally:
        for proc, _ in workers.values():
            proc.stdin.close()
            proc.wait()
    _report(workers, times, threads)


def _report(workers, times, threads):
    params = {kind: workers[kind][1] for kind in workers}
    median = {kind: statistics.median(times[kind]) * 1000 for kind in times}
    print(
        f"train step, batch {SHAPE[0]}, latent clip {SHAPE[1:]}, L1 ε-loss + Adam, CPU, {threads} thread(s)"
    )
    print(f"ours UNet3D{OURS_KWARGS}")
    print(f"vdp  Unet3D{VDP_KWARGS}")
    for kind in ("ours", "vdp"):
        low, _, high = (1000 * q for q in statistics.quantiles(times[kind], n=4))
        print(
            f"{kind:5s} params {params[kind]:>9,d}  median {median[kind]:7.1f} ms/step"
            f"  (IQR {low:.1f}–{high:.1f}, n={len(times[kind])})"
        )
    print(f"parameter ratio ours/vdp: {params['ours'] / params['vdp']:.3f}")
    print(f"speed-up (vdp / ours median): {median['vdp'] / median['ours']:.2f}x  (target >= 1.5x)")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="train steps per model per round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", choices=("ours", "vdp"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.threads)
    else:
        main(args.rounds, args.steps, args.threads)
