"""Fit time and peak memory of the LVM baselines on a paper-size region, on CPU.

Region: 549 trials × 189 frames × 24 dims, 6 behaviour labels (+2 irrelevant planted factors),
train = the first 439 trials (8:1:1 split). Each baseline runs in its own process, so the peak
resident memory (ru_maxrss) is its own. To stay cheap on a shared machine the fits are cut
short and the full fit time is extrapolated linearly:
- CEBRA: paper defaults (offset10-model, batch 512, lr 3e-4), ``--cebra-iterations`` measured,
  extrapolated to 2000 iterations; the Ridge + MLP read-out fit (timed inside fit) is added once.
- pi-VAE: PEERS.md settings (batch 200, Adam 5e-4, z = 6), ``--pivae-epochs`` measured,
  extrapolated to 30 and 200 epochs.
- SSL (M2): batch 32 trials, ``--ssl-epochs`` measured, extrapolated to 100 epochs.

    .venv/bin/python benchmarks/bench_baselines.py [--threads 1] [--cebra-iterations 100]

On an oversubscribed machine use one thread: 2 OpenMP threads fighting for busy cores spin and
inflate both wall and CPU time many-fold.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

N_TRIALS, LENGTH, N_DIMS, N_BEHAVIOURS, N_TRAIN = 549, 189, 24, 6, 439


def region():
    from benediff.lvm.baselines.synthetic import planted_region

    X, U = planted_region(n_trials=N_TRIALS, length=LENGTH, n_behaviours=N_BEHAVIOURS,
                          n_irrelevant=2, n_dims=N_DIMS, noise=0.3, seed=0)
    return X[:N_TRAIN], U[:N_TRAIN]


def run_one(name, args) -> dict:
    import torch

    from benediff.lvm.baselines import get_baseline

    torch.set_num_threads(args.threads)
    X, U = region()
    measured, full = {
        "cebra": (args.cebra_iterations, 2000),
        "pivae": (args.pivae_epochs, 30),
        "ssl": (args.ssl_epochs, 100),
    }[name]
    params = {"cebra": dict(max_iterations=measured, batch_size=512),
              "pivae": dict(epochs=measured, batch_size=200, learning_rate=5e-4),
              "ssl": dict(epochs=measured, batch_size=32)}[name]
    model = get_baseline(name, seed=0, **params)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(X, U)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # CEBRA's read-outs cost the same whatever the iteration count: extrapolate only the rest.
    fixed = model.timings_["decoders_s"] if name == "cebra" else 0.0
    per_unit = (wall - fixed) / measured
    cpu_fixed = fixed * cpu / wall  # the read-outs' share of the CPU time, at the same rate
    result = {
        "baseline": name, "measured_units": measured, "wall_s": wall, "cpu_s": cpu,
        "fixed_s": fixed, "wall_per_unit_s": per_unit, "full_units": full,
        "full_fit_wall_s_extrapolated": per_unit * full + fixed,
        "full_fit_cpu_s_extrapolated": (cpu - cpu_fixed) / measured * full + cpu_fixed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_fit_mb": rss_before / 1024,
    }
    if name == "pivae":
        result["full_fit_wall_s_200_epochs"] = per_unit * 200
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cebra-iterations", type=int, default=100)
    parser.add_argument("--pivae-epochs", type=int, default=2)
    parser.add_argument("--ssl-epochs", type=int, default=2)
    parser.add_argument("--baselines", default="cebra,pivae,ssl")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(args.only, args)))
        return
    print(f"region {N_TRIALS} trials x {LENGTH} frames x {N_DIMS} dims, {N_BEHAVIOURS} labels; "
          f"train {N_TRAIN} trials; torch threads {args.threads}")
    print("load before:", os.getloadavg())
    for name in args.baselines.split(","):
        child = subprocess.run([sys.executable, __file__, "--only", name, *sys.argv[1:]],
                               capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        unit = {"cebra": "it", "pivae": "epoch", "ssl": "epoch"}[name]
        line = (f"{name:6s} measured {r['measured_units']} {unit}: wall {r['wall_s']:.1f} s, "
                f"cpu {r['cpu_s']:.1f} s, {r['wall_per_unit_s']:.3f} s/{unit}")
        if r["fixed_s"]:
            line += f", decoders {r['fixed_s']:.1f} s"
        line += (f" -> full {r['full_units']} {unit}: ~{r['full_fit_wall_s_extrapolated']:.0f} s"
                 f" wall / ~{r['full_fit_cpu_s_extrapolated']:.0f} CPU-s (extrapolated);"
                 f" peak RSS {r['peak_rss_mb']:.0f} MB")
        if "full_fit_wall_s_200_epochs" in r:
            line += f"; 200 epochs ~{r['full_fit_wall_s_200_epochs']:.0f} s"
        print(line, flush=True)
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
