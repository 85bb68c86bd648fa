"""Full fit time, peak memory and test R² of the LVM baselines on a paper-size region, on CPU.

Same data as benchmarks/bench_vae.py (ours): ``planted_dataset`` with 549 trials × 189 frames ×
24 dims, 6 behaviours + 2 irrelevant planted factors, 8:1:1 split (439 train / 55 val / 55 test
trials), z-scored with training-split statistics. Every baseline runs one full fit, no
extrapolation, with the configured paper-size settings: the defaults of
``workflow/schemas/lvm.schema.yaml`` (``lvm.baselines``), overridable with ``--set``:
- CEBRA: offset10-model, batch 512, lr 3e-4, 2000 iterations, then the Ridge + MLP read-outs;
  positive pairs by KD-tree (``--set cebra.neighbour_search=brute`` for CEBRA's own search).
  The InfoNCE training loss is printed every 250 iterations to show where it plateaus.
- pi-VAE: batch 200 samples, Adam 5e-4, up to 30 epochs, early stopping on the validation ELBO.
- SSL (M2): batch 32 trials, up to 100 epochs, early stopping on the validation loss.

Each baseline runs in its own process, so the peak resident memory (ru_maxrss) is its own.

    nice -n 10 .venv/bin/python benchmarks/bench_baselines.py [--threads 1] [--baselines cebra,pivae]
        [--set cebra.max_iterations=500 --set cebra.batch_size=256]

On an oversubscribed machine use one thread: 2 OpenMP threads fighting for busy cores spin and
inflate both wall and CPU time many-fold. The load average is printed before and after.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import yaml

N_TRIALS, LENGTH, N_DIMS, N_BEHAVIOURS, N_IRRELEVANT = 549, 189, 24, 6, 2
LOSS_EVERY = 250


def region():
    """Train, validation and test (X, U) of the planted region that bench_vae.py fits."""
    from benediff.lvm.data import region_data
    from benediff.testing.lvm import planted_dataset

    ds, _ = planted_dataset(n_trials=N_TRIALS, n_frames=LENGTH, n_behaviors=N_BEHAVIOURS,
                            n_irrelevant=N_IRRELEVANT, region_dims=(N_DIMS,), seed=0)
    rd = region_data(ds, "R0_L")
    return rd.part("train"), rd.part("val"), rd.part("test")


def configured_params(name: str, overrides: list[str]) -> dict:
    """Schema defaults of ``lvm.baselines.<name>`` with ``name.key=value`` overrides applied."""
    from benediff.config import _fill_defaults, load_schema

    section = load_schema()["properties"]["lvm"]["properties"]["baselines"]
    params: dict = {}
    _fill_defaults(params, section["properties"][name])
    for item in overrides:
        key, _, value = item.partition("=")
        baseline, _, param = key.partition(".")
        if baseline not in section["properties"] or not value:
            raise SystemExit(f"--set {item!r}: expected <baseline>.<key>=<value> with baseline "
                             f"one of {sorted(section['properties'])}")
        if baseline == name and param not in params:
            raise SystemExit(f"--set {item!r}: expected <baseline>.<key>=<value> with key one of "
                             f"{sorted(params)}")
        if baseline == name:
            params[param] = yaml.safe_load(value)
    return params


def loss_curve(model, every: int = LOSS_EVERY) -> dict:
    """CEBRA's training loss averaged over the ``every`` iterations ending at each mark."""
    losses = [float(v) for v in model.cebra_.state_dict_["loss"]]
    return {end: sum(losses[end - every:end]) / every
            for end in range(every, len(losses) + 1, every)}


def test_scores(model, test) -> dict:
    from benediff.metrics import reconstruction_metrics

    x_te, _ = test
    scores = {"r2": reconstruction_metrics(x_te, model.reconstruct(x_te))["r2"]}
    if hasattr(model, "decoder"):
        scores["r2_mlp"] = reconstruction_metrics(x_te, model.reconstruct(x_te, decoder="mlp"))["r2"]
    return scores


def run_one(name: str, args) -> dict:
    import torch

    from benediff.lvm.baselines import get_baseline

    torch.set_num_threads(args.threads)
    train, val, test = region()
    params = configured_params(name, args.set)
    model = get_baseline(name, seed=0, device="cpu", **params)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(*train, *val)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result = {"baseline": name, "params": params, "wall_s": wall, "cpu_s": cpu,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "rss_before_fit_mb": rss_before / 1024, **test_scores(model, test)}
    if name == "cebra":
        result |= {"iterations": params["max_iterations"], "loss_curve": loss_curve(model),
                   **model.timings_}
    else:
        result["epochs_run"] = len(model.history_["train"])
        result["max_epochs"] = params["epochs"]
    return result


def report_line(r: dict) -> str:
    p = r["params"]
    if r["baseline"] == "cebra":
        what = (f"cebra  {r['iterations']} it, batch {p['batch_size']}, {p['neighbour_search']} "
                f"search: embedding {r['embedding_s']:.0f} s ({r['embedding_cpu_s']:.0f} CPU-s) + "
                f"read-outs {r['decoders_s']:.0f} s ({r['decoders_cpu_s']:.0f} CPU-s)")
    else:
        what = (f"{r['baseline']:6s} {r['epochs_run']}/{r['max_epochs']} epochs, batch "
                f"{p['batch_size']}")
    line = (f"{what}; full fit {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} CPU-s; peak RSS "
            f"{r['peak_rss_mb']:.0f} MB; test R2 {r['r2']:.1f}%")
    if "r2_mlp" in r:
        line += f" (ridge), {r['r2_mlp']:.1f}% (mlp)"
    if "loss_curve" in r:
        line += "\n       InfoNCE loss by iteration: " + ", ".join(
            f"{k}: {v:.4f}" for k, v in r["loss_curve"].items())
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baselines", default="cebra,pivae,ssl")
    parser.add_argument("--set", action="append", default=[], metavar="BASELINE.KEY=VALUE",
                        help="override a configured hyper-parameter, e.g. cebra.max_iterations=500")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(args.only, args)))
        return
    print(f"region {N_TRIALS} trials x {LENGTH} frames x {N_DIMS} dims, {N_BEHAVIOURS} labels "
          f"+ {N_IRRELEVANT} planted irrelevant factors; split 8:1:1; torch threads {args.threads}")
    print("load before:", os.getloadavg(), flush=True)
    results = []
    for name in args.baselines.split(","):
        child = subprocess.run([sys.executable, __file__, "--only", name, *sys.argv[1:]],
                               capture_output=True, text=True)
        if child.returncode:
            sys.exit(f"{name} failed:\n{child.stderr[-3000:]}")
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(report_line(results[-1]), f"[load {os.getloadavg()}]", flush=True)
    print("load after:", os.getloadavg())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
