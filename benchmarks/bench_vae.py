"""Benchmark: one paper-size region (549 trials x 189 frames x 24 dims, D = 6 + 2, batch 32).

Prints seconds per epoch, epochs to early stop, the full fit time and peak resident memory on
CPU, and (with --baselines) the fit time of CEBRA and pi-VAE on the same data. The machine may be
shared: the load average is printed alongside.

    .venv/bin/python benchmarks/bench_vae.py --threads 2 [--max-epochs 200] [--baselines cebra pivae]
"""

import argparse
import inspect
import os
import resource
import time

import torch

from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE
from benediff.metrics import mig, reconstruction_metrics
from benediff.testing.lvm import planted_dataset
import numpy as np

DEFAULTS = {k: p.default for k, p in inspect.signature(BehaviorVAE).parameters.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=DEFAULTS["patience"])
    p.add_argument("--min-delta", type=float, default=DEFAULTS["min_delta"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--tc-estimator", default="mws")
    p.add_argument("--baselines", nargs="*", default=[])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()}")
    ds, _ = planted_dataset(n_trials=549, n_frames=189, n_behaviors=6, n_irrelevant=2,
                            region_dims=(24,), seed=0)
    rd = region_data(ds, "R0_L", n_latents=8)
    (x, u), (xv, uv) = rd.part("train"), rd.part("val")
    model = BehaviorVAE(n_unsupervised=2, batch_size=32, max_epochs=args.max_epochs,
                        patience=args.patience, min_delta=args.min_delta, lr=args.lr,
                        tc_estimator=args.tc_estimator, seed=0,
                        progress=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(x, u, xv, uv)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    epochs = len(model.history_)
    xt, ut = rd.part("test")
    score = mig(np.concatenate(model.transform(xt)).T, np.concatenate(ut).T)
    r2 = reconstruction_metrics(xt, model.reconstruct(xt))["r2"]
    print(f"train trials {len(x)}, frames 189, dims 24, latents 8, batch 32, threads {args.threads}")
    print(f"seconds/epoch {total / epochs:.2f}; epochs run {epochs} (best epoch {model.best_epoch_}, "
          f"stopped early: {epochs < args.max_epochs}); full fit {total:.1f} s wall, {cpu:.1f} s CPU "
          f"({cpu / epochs:.2f} CPU s/epoch); test MIG {100 * score:.1f} %, test R² {r2:.1f} % "
          f"(lr {args.lr}, patience {args.patience}, min_delta {args.min_delta})")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for name in args.baselines:
        from benediff.lvm.baselines import get_baseline

        start = time.perf_counter()
        get_baseline(name, seed=0, device="cpu").fit(x, u, xv, uv)
        print(f"{name}: fit {time.perf_counter() - start:.1f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
