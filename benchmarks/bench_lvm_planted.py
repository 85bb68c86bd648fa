"""Acceptance table on planted data: MIG, reconstruction R² and single-latent decoding of the
standard VAE, the ablations and ours, mean ± std over seeds (same setup as
tests/test_lvm_planted.py: 80 training trials x 32 frames, 8 dims, 3 behaviours + 2 irrelevant
latents; metrics on 200 held-out trials).

    .venv/bin/python benchmarks/bench_lvm_planted.py --seeds 0 1 2 [--models vae no_beha no_tc ours]
"""

import argparse
import time

import numpy as np
import torch

from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE
from benediff.lvm.pipeline import VAE_VARIANTS
from benediff.metrics import mig, reconstruction_metrics, single_latent_decoding
from benediff.testing.lvm import planted_dataset

PARAMS = dict(n_unsupervised=2, max_epochs=40, lr=3e-3, warmup_epochs=5, patience=10,
              batch_size=16, beta=4.0)


def run(model_name, seed, parts):
    (x, u), (xv, uv), (xt, ut) = parts
    model = BehaviorVAE(**(PARAMS | VAE_VARIANTS[model_name]), seed=seed).fit(x, u, xv, uv)
    z, z_tr = np.concatenate(model.transform(xt)), np.concatenate(model.transform(x))
    dec = single_latent_decoding(z_tr, np.concatenate(u), z, np.concatenate(ut))
    n_beh = dec.shape[1]
    return {"mig": 100 * mig(z.T, np.concatenate(ut).T),
            "r2": reconstruction_metrics(xt, model.reconstruct(xt))["r2"],
            "own": float(np.mean(np.diag(dec[:n_beh]))),
            "single_peaked": dec.argmax(axis=0).tolist() == list(range(n_beh))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", nargs="+", default=["vae", "no_beha", "no_tc", "ours"])
    args = p.parse_args()
    torch.set_num_threads(1)
    ds, _ = planted_dataset(n_trials=290, n_frames=32, region_dims=(8,), seed=0)
    ds.split = {"train": np.arange(80), "val": np.arange(80, 90), "test": np.arange(90, 290)}
    rd = region_data(ds, "R0_L")
    parts = rd.part("train"), rd.part("val"), rd.part("test")
    print("| model | MIG (%) | R² (%) | own-behaviour decoding R² (%) | single-peaked | s/fit |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        start = time.perf_counter()
        rows = [run(name, s, parts) for s in args.seeds]
        secs = (time.perf_counter() - start) / len(args.seeds)
        cell = lambda k: f"{np.mean([r[k] for r in rows]):.1f} ± {np.std([r[k] for r in rows], ddof=1):.1f}"
        peaked = sum(r["single_peaked"] for r in rows)
        print(f"| {name} | {cell('mig')} | {cell('r2')} | {cell('own')} | {peaked}/{len(rows)} | {secs:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
