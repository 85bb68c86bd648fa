"""LocaNMF speed benchmark: wall time, R² and localisation on a planted problem.

Cases (docs/WIDEFIELD.md §8.10): ``standard`` ≈51.5k px, K=200, T=30 000, 3 footprints per region
(reference ≈548 s on 2 cores); ``medium`` ≈12.9k px, K=112, T=20 000 (reference ≈35 s; min_pixels 25
so that ≈64 regions survive the resampling, as in the reference case);
``small`` ≈3.2k px, K=26, T=3000 (reference ≈1.7 s). The atlas is the wfield dorsal projection
resampled to the pixel count (a Voronoi atlas when the shared data are absent). Demo parameters:
maxrank 3, loc 70, r2 0.99, λ_init 1e-6, step 1.35, 20 λ rounds, 20 HALS iterations.

``paper`` (|U| ≫ 1): the project's simulator (``simulate.preset: paper``, 270×320, n_trials 12 →
2338 frames per channel; its footprints and component activities) compressed by an exact SVD of
footprints ⊗ activities + rank-400 noise to K = 200 (the motion / ΔF/F / SVD stages are skipped),
fitted on the session's single atlas areas with the production settings (rank search 1–3,
loc_thresh 80, r2 0.99, 300 λ rounds, 20 HALS iterations, tol 0.01, min_pixels 100), once with the
scaled λ schedule and once with the reference schedule (capped at ``--reference-maxiter-lambda``).
``--footprints single-area`` replaces the simulator's footprints (placed per region group, often
spanning several single areas) by 3 planted footprints per single area.

    .venv/bin/python benchmarks/bench_locanmf.py --case standard [--reference-schedule]
    .venv/bin/python benchmarks/bench_locanmf.py --case paper --reference-maxiter-lambda 20 [--footprints single-area]
    .venv/bin/python benchmarks/bench_locanmf.py --case paper --frame 608 600 --schedules scaled
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

from benediff.testing.locanmf import compress, event_traces, footprints_for, plant, voronoi_atlas, wfield_atlas
from benediff.widefield.locanmf import LocaNMF

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


def run(case, reference_schedule, threads, tol, warm_start=True, lambda_schedule="scaled"):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data = build(case)
    built = time.perf_counter() - t0
    options = dict(max_rank=CASES[case]["max_rank"], loc_thresh=70, r2_thresh=0.99, lambda_init=1e-6,
                   lambda_step=1.35, maxiter_lambda=20, maxiter_hals=20, min_pixels=CASES[case].get("min_pixels", 100))
    options.update(lambda_schedule=lambda_schedule, progress=False)
    if not reference_schedule:
        options.update(tol=tol, warm_start=warm_start)
    t0, c0 = time.perf_counter(), time.process_time()
    model = LocaNMF(**options).fit(data.U, data.V, data.atlas)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    frac = model.in_region_fraction_
    print(f"case={case} schedule={'reference' if reference_schedule else f'fast(tol={tol}, warm_start={warm_start})'} "
          f"lambda_schedule={lambda_schedule} threads={threads}")
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


PAPER_SETTINGS = dict(min_rank=1, max_rank=3, rank_step=1, loc_thresh=80.0, r2_thresh=0.99, maxiter_lambda=300,
                      maxiter_hals=20, tol=0.01, warm_start=False, min_pixels=100, seed=0)


def build_paper(n_trials=12, n_svd=200, noise=0.5, noise_rank=400, seed=0, footprints="simulator", frame=None):
    """Simulator ground truth at the paper preset, compressed to ``n_svd`` SVD components.

    ``footprints="simulator"``: the simulator's footprints (placed per region group, so one often
    spans several single atlas areas) and component activities. ``"single-area"``: 3 planted
    footprints inside every single atlas area of the simulator's session atlas (> 100 px) with
    sparse-event traces of the same length, so that every footprint has a localised counterpart.
    """
    from benediff.simulate.params import params_from_config
    from benediff.simulate.session import plant_truth, random_streams

    config = {"sessions": {"bench": {"seed": seed}},
              "simulate": {"preset": "paper", "overrides": {"n_trials": n_trials}}}
    if frame is not None:  # a larger frame, e.g. a user's 608 × 600 recording
        config["simulate"]["overrides"].update(movie_height=frame[0], movie_width=frame[1])
    params = params_from_config("bench", config)
    truth, _ = plant_truth(params, random_streams(params.seed))
    atlas = truth["session_labels"].astype(np.int64)
    if footprints == "single-area":
        maps, owner = footprints_for(atlas, 3, seed=seed, min_pixels=100)
        traces = event_traces(len(maps), len(truth["activities"]), seed=seed + 2)
        return compress(maps, traces, atlas, owner, n_svd, noise=noise, noise_rank=noise_rank, seed=seed + 1)
    return compress(truth["footprints"], truth["activities"].T, atlas, np.array(truth["component_names"]), n_svd,
                    noise=noise, noise_rank=noise_rank, seed=seed + 1)


def spatial_match(model, data):
    """Median over fitted components of the best spatial correlation with a planted footprint, and the
    median over planted footprints of the best correlation with a fitted component (inside the mask)."""
    mask = model.mask_

    def unit(x):
        x = x - x.mean(1, keepdims=True)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    corr = unit(model.spatial_[:, mask].astype(np.float64)) @ unit(data.footprints[:, mask].astype(np.float64)).T
    return float(np.median(corr.max(1))), float(np.median(corr.max(0)))


def run_paper(threads, reference_maxiter_lambda, schedules=("scaled", "reference"), footprints="simulator",
              frame=None):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data = build_paper(footprints=footprints, frame=frame)
    print(f"case=paper footprints={footprints} threads={threads} load average at start {os.getloadavg()[0]:.2f} "
          f"(cores {os.cpu_count()}); build {time.perf_counter() - t0:.1f} s")
    print(f"  frame {data.atlas.shape} pixels={int((data.atlas != 0).sum())} K={data.U.shape[2]} T={data.V.shape[1]} "
          f"planted footprints={len(data.footprints)} |U| max {float(np.nanmax(np.abs(data.U))):.3g}")
    results = {}
    for schedule in schedules:
        settings = dict(PAPER_SETTINGS, lambda_schedule=schedule, progress=False)
        capped = schedule == "reference" and reference_maxiter_lambda < settings["maxiter_lambda"]
        if capped:
            settings["maxiter_lambda"] = reference_maxiter_lambda
        t0, c0 = time.perf_counter(), time.process_time()
        model = LocaNMF(**settings).fit(data.U, data.V, data.atlas)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        per_component, per_footprint = spatial_match(model, data)
        results[schedule] = (wall, float(model.localized_.mean()), per_component)
        print(f"lambda_schedule={schedule}" + (f" (CAPPED at maxiter_lambda={settings['maxiter_lambda']} instead of "
                                                f"{PAPER_SETTINGS['maxiter_lambda']})" if capped else ""))
        print(f"  wall {wall:.1f} s (CPU {cpu:.1f} s; load average now {os.getloadavg()[0]:.2f}); "
              f"regions {len(model.r2_region_)}; components {model.n_components_}")
        print(f"  rank rounds (components, λ rounds, HALS iterations): "
              f"{[(h['components'], h['lambda_rounds'], h['hals_iterations']) for h in model.rank_history_]}")
        print(f"  localised (in-region energy >= {settings['loc_thresh']:g}%): {int(model.localized_.sum())}/"
              f"{model.n_components_} = {100 * model.localized_.mean():.1f}%; in-region fraction median "
              f"{np.median(model.in_region_fraction_):.3f} min {model.in_region_fraction_.min():.3f}")
        print(f"  spatial corr with planted footprints: median best match per component {per_component:.4f}, "
              f"per planted footprint {per_footprint:.4f}; R2 centred {model.r2_:.5f}")
    if len(results) == 2:
        wall, localised, corr = results["scaled"]
        print(f"acceptance (scaled): wall {wall:.1f} s <= 300 s: {wall <= 300}; localised {100 * localised:.1f}% >= 95%: "
              f"{localised >= 0.95}; median corr {corr:.4f} >= reference {results['reference'][2]:.4f}: "
              f"{corr >= results['reference'][2]}")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES) + ["paper"], default="medium")
    parser.add_argument("--reference-schedule", action="store_true",
                        help="fixed 20 HALS iterations, no warm start (the reference's schedule)")
    parser.add_argument("--lambda-schedule", choices=["scaled", "reference"], default="scaled")
    parser.add_argument("--reference-maxiter-lambda", type=int, default=300,
                        help="paper case: cap the reference-schedule run at this many λ rounds per rank round")
    parser.add_argument("--footprints", choices=["simulator", "single-area"], default="simulator",
                        help="paper case: the simulator's (group-placed) footprints or 3 planted per single area")
    parser.add_argument("--frame", type=int, nargs=2, metavar=("H", "W"),
                        help="paper case: simulate a larger frame than the preset's 270 x 320")
    parser.add_argument("--schedules", nargs="+", choices=["scaled", "reference"], default=["scaled", "reference"],
                        help="paper case: the λ schedules to run")
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-warm-start", action="store_true", help="rebuild every rank round from the inits")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.case == "paper":
        run_paper(args.threads, args.reference_maxiter_lambda, tuple(args.schedules), args.footprints,
                  args.frame)
    else:
        run(args.case, args.reference_schedule, args.threads, args.tol, not args.no_warm_start,
            args.lambda_schedule)


if __name__ == "__main__":
    main()
