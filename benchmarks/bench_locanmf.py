"""LocaNMF benchmark (issue 3): wall time, R² and localisation on a planted problem.

Cases (WIDEFIELD.md §8.10): ``standard`` ≈51.5k px, K=200, T=30 000, 3 footprints per region
(reference ≈548 s on 2 cores); ``medium`` ≈12.9k px, K=112, T=20 000 (reference ≈35 s; min_pixels 25
so that ≈64 regions survive the resampling, as in the reference case);
``small`` ≈3.2k px, K=26, T=3000 (reference ≈1.7 s). The atlas is the wfield dorsal projection
resampled to the pixel count (a Voronoi atlas when the shared data are absent). Demo parameters:
maxrank 3, loc 70, r2 0.99, λ_init 1e-6, step 1.35, 20 λ rounds, 20 HALS iterations.

    .venv/bin/python benchmarks/bench_locanmf.py --case standard [--reference-schedule]
"""

import argparse
import logging
import os
import time

# Busy-waiting OpenMP threads stall badly on a shared, oversubscribed CPU; must precede import torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path

import numpy as np
import torch

from benediff.widefield.locanmf import LocaNMF
from benediff.widefield.locanmf_synth import plant, voronoi_atlas, wfield_atlas

PROJECTION = Path(__file__).resolve().parents[2] / "shared/data/atlas/wfield_references/dorsal_cortex_projection.npy"
CASES = {
    "small": dict(pixels=3_211, per_region=1, frames=3_000, max_rank=1),
    "medium": dict(pixels=12_866, per_region=2, frames=20_000, max_rank=3, min_pixels=25),
    "standard": dict(pixels=51_488, per_region=3, frames=30_000, max_rank=3),
}
K_FOR = {"small": 26, "medium": 112, "standard": 200}


def build(case, seed=0):
    spec = CASES[case]
    if PROJECTION.exists():
        atlas = wfield_atlas(np.load(PROJECTION), spec["pixels"])
    else:
        side = int(np.sqrt(spec["pixels"] * 4 / np.pi))
        atlas = voronoi_atlas(side, side, 32, seed=seed)
    return plant(atlas, per_region=spec["per_region"], frames=spec["frames"], n_svd=K_FOR[case], seed=seed,
                 min_pixels=spec.get("min_pixels", 100))


def run(case, reference_schedule, threads, tol, warm_start=True):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data = build(case)
    built = time.perf_counter() - t0
    options = dict(max_rank=CASES[case]["max_rank"], loc_thresh=70, r2_thresh=0.99, lambda_init=1e-6,
                   lambda_step=1.35, maxiter_lambda=20, maxiter_hals=20, min_pixels=CASES[case].get("min_pixels", 100))
    if not reference_schedule:
        options.update(tol=tol, warm_start=warm_start)
    t0, c0 = time.perf_counter(), time.process_time()
    model = LocaNMF(**options).fit(data.U, data.V, data.atlas)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    frac = model.in_region_fraction_
    print(f"case={case} schedule={'reference' if reference_schedule else f'fast(tol={tol}, warm_start={warm_start})'} "
          f"threads={threads}")
    print(f"  pixels={int(model.mask_.sum())} K={data.U.shape[2]} T={data.V.shape[1]} "
          f"regions={len(model.r2_region_)} planted={len(data.regions)} (build {built:.1f} s)")
    density = float((model.spatial_[:, model.mask_] > 0).mean())
    print(f"  wall {wall:.1f} s (CPU time {cpu:.1f} s over all threads); components {model.n_components_}; "
          f"map density {density:.3f}")
    print(f"  rank rounds {model.rank_history_}")
    print(f"  R2 centred {model.r2_:.5f}; region R2 centred median {np.median(list(model.r2_region_.values())):.5f} "
          f"min {min(model.r2_region_.values()):.5f}; internal median "
          f"{np.median(list(model.r2_region_internal_.values())):.6f}")
    print(f"  in-region fraction median {np.median(frac):.3f} min {frac.min():.3f}; "
          f"localized {int(model.localized_.sum())}/{model.n_components_}")
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), default="medium")
    parser.add_argument("--reference-schedule", action="store_true",
                        help="fixed 20 HALS iterations, no warm start (the reference's schedule)")
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-warm-start", action="store_true", help="rebuild every rank round from the inits")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run(args.case, args.reference_schedule, args.threads, args.tol, not args.no_warm_start)


if __name__ == "__main__":
    main()
