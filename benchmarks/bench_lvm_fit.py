"""Benchmark (#27 item 2): one paper-size LVM fit of ``ours``, old path vs new path, one run.

A paper-size region: 549 trials x 189 frames x 22 dims, 6 behaviours (+ 2 behaviour-irrelevant
planted factors), split 440/55/54, the schema's defaults (GRU encoder/decoder, hidden = N,
batch 32, lr 3e-3, <= 200 epochs, patience 20, min_delta 0.01, beta 4, tc_max_samples 256).

- ``native``: the old path (torch's ``nn.GRU`` in the training pass; ``BehaviorVAE(rnn="native")``)
- ``fused``: the default (the CPU training pass through ``_FusedGRULayer``; same weights, same
  equations, same random draws: results differ by float rounding only)

For each path it profiles one epoch (torch profiler, top ops by self CPU time), then times whole
fits (one per seed, the two paths interleaved on the same data and seed) and prints s/epoch,
epochs, wall and CPU seconds, test R² and test MIG per fit, their means and the CPU ratio, and
re-estimates the CPU-hours of the study's 93 LVM fits from the mean CPU-s of a fit.

    .venv/bin/python benchmarks/bench_lvm_fit.py [--seeds 0 1 2] [--max-epochs 200] [--no-profile]

One thread by default (the machine may be shared; the load average is printed alongside).
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch

from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE
from benediff.metrics import mig, reconstruction_metrics
from benediff.testing.lvm import planted_dataset

PATHS = ("native", "fused")
STUDY_FITS = 93


def paper_region(seed: int = 0):
    ds, _ = planted_dataset(n_trials=549, n_frames=189, n_behaviors=6, n_irrelevant=2,
                            region_dims=(22,), seed=seed)
    return region_data(ds, "R0_L", n_latents=6)


def profile_epoch(rd, rnn: str, rows: int) -> None:
    from torch.profiler import profile

    model = BehaviorVAE(rnn=rnn, max_epochs=1, seed=0, progress=False)
    with profile() as prof:
        start = time.process_time()
        model.fit(*rd.part("train"), *rd.part("val"))
        cpu = time.process_time() - start
    print(f"\n== one epoch, rnn={rnn}: {cpu:.2f} CPU-s under the profiler; top ops by self CPU ==")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def fit_once(rd, rnn: str, seed: int, max_epochs: int) -> dict:
    (x, u), (xv, uv), (xt, ut) = rd.part("train"), rd.part("val"), rd.part("test")
    model = BehaviorVAE(rnn=rnn, seed=seed, max_epochs=max_epochs, progress=False)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(x, u, xv, uv)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    epochs = len(model.history_)
    z = np.concatenate(model.transform(xt))
    return {"rnn": rnn, "seed": seed, "epochs": epochs, "best": model.best_epoch_,
            "wall": wall, "cpu": cpu, "cpu_epoch": cpu / epochs,
            "r2": reconstruction_metrics(xt, model.reconstruct(xt))["r2"],
            "mig": 100.0 * mig(z.T, np.concatenate(ut).T),
            "val": min(h["val_loss"] for h in model.history_)}


def show(r: dict) -> None:
    print(f"{r['rnn']:>6} seed {r['seed']}: {r['cpu_epoch']:.2f} CPU-s/epoch, {r['epochs']} epochs "
          f"(best {r['best']}), fit {r['cpu']:.0f} CPU-s / {r['wall']:.0f} s wall; "
          f"best val loss {r['val']:.3f}; test R² {r['r2']:.1f} %, test MIG {r['mig']:.1f} %",
          flush=True)


def summary(results: list[dict]) -> None:
    def stat(rows, key):
        vals = [r[key] for r in rows]
        sd = statistics.stdev(vals) if len(vals) > 1 else float("nan")
        return statistics.mean(vals), sd

    print("\n== summary (mean ± sd over seeds) ==")
    means = {}
    for rnn in PATHS:
        rows = [r for r in results if r["rnn"] == rnn]
        if not rows:
            continue
        m = {k: stat(rows, k) for k in ("cpu_epoch", "epochs", "cpu", "wall", "r2", "mig")}
        means[rnn] = m
        print(f"{rnn:>6} ({len(rows)} fits): {m['cpu_epoch'][0]:.2f} ± {m['cpu_epoch'][1]:.2f} "
              f"CPU-s/epoch, {m['epochs'][0]:.0f} ± {m['epochs'][1]:.0f} epochs, "
              f"{m['cpu'][0]:.0f} ± {m['cpu'][1]:.0f} CPU-s/fit ({m['wall'][0]:.0f} s wall), "
              f"R² {m['r2'][0]:.1f} ± {m['r2'][1]:.1f} %, MIG {m['mig'][0]:.1f} ± {m['mig'][1]:.1f} %; "
              f"{STUDY_FITS} such fits ≈ {STUDY_FITS * m['cpu'][0] / 3600:.2f} CPU-h")
    if len(means) == 2:
        old, new = means["native"], means["fused"]
        print(f"ratio native/fused: {old['cpu_epoch'][0] / new['cpu_epoch'][0]:.2f}x CPU-s/epoch, "
              f"{old['cpu'][0] / new['cpu'][0]:.2f}x CPU-s/fit, "
              f"{old['wall'][0] / new['wall'][0]:.2f}x wall/fit")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--max-epochs", type=int, default=200)
    p.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--rows", type=int, default=12, help="profiler rows per path")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()}; torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    rd = paper_region()
    print(f"region: {len(rd.X)} trials x {rd.X[0].shape[0]} frames x {rd.X[0].shape[1]} dims, "
          f"{len(rd.label_names)} behaviours, split "
          f"{'/'.join(str(len(rd.split[k])) for k in ('train', 'val', 'test'))}")
    if not args.no_profile:
        for rnn in args.paths:
            profile_epoch(rd, rnn, args.rows)
    print("\n== whole fits ==")
    results = []
    for seed in args.seeds:
        for rnn in args.paths:
            results.append(fit_once(rd, rnn, seed, args.max_epochs))
            show(results[-1])
    summary(results)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
