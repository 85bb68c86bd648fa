"""Time the behaviour stage (import mode) on one demo-sized simulated session.

    .venv/bin/python benchmarks/bench_behavior.py [--trials 40] [--view-size 64]

Target: pose + labels + clips for one demo session ≤ 30 s on one CPU core. The simulation that
produces the raw session is not timed. Prints one line per step and the total.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benediff import config as bconfig
from benediff.behavior.clips import build_clips
from benediff.behavior.labels import build_labels
from benediff.behavior.pose import normalise_pose
from benediff.figures.behavior import make_fig1b
from benediff.io import dataset
from benediff.io.split import make_split, write_split
from benediff.simulate.params import SimParams
from benediff.simulate.session import simulate_session
from benediff.simulate.truth import load_truth_dataset


def timed(label, fn, times):
    start = time.perf_counter()
    result = fn()
    times[label] = time.perf_counter() - start
    print(f"{label:>8}: {times[label]:6.2f} s", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--view-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})
    b = cfg["behavior"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        params = SimParams(seed=1, n_trials=args.trials, view_size=args.view_size,
                           movie_formats=("dat",))
        paths = simulate_session(out / "raw", params)
        write_split(out / "split.json", make_split(args.trials, (8, 1, 1), 0))
        times = {}
        timed("pose", lambda: normalise_pose(paths["pose"], paths["video"], out / "pose.h5",
                                             out / "pose.json", pcutoff=b["pose"]["pcutoff"]),
              times)
        timed("labels", lambda: build_labels(
            out / "pose.h5", out / "pose.json", paths["trials"], out / "split.json",
            out / "labels.h5", session="S", behaviors=cfg["behaviors"],
            mapping=b["labels"]["mapping"], neural_rate=b["neural_rate"],
            max_gap=b["labels"]["max_gap"]), times)
        views = [{"x": 0, "y": 0, "width": args.view_size, "height": args.view_size},
                 {"x": args.view_size, "y": 0, "width": args.view_size, "height": args.view_size}]
        timed("clips", lambda: build_clips(paths["video"], paths["trials"], out / "clips.h5",
                                           session="S", views=views, size=b["clips"]["size"],
                                           neural_rate=b["neural_rate"]), times)
        print(f"{'stage':>8}: {sum(times.values()):6.2f} s  (pose + labels + clips, target "
              f"≤ 30 s; {args.trials} trials × {params.frames_per_trial} frames, "
              f"views {args.view_size} px)")
        truth = load_truth_dataset(out / "raw", 8)
        truth.images = None
        dataset.write(out / "dataset.h5", truth)
        timed("fig1b", lambda: make_fig1b(out / "dataset.h5", out / "fig1b.pdf", out / "fig1b.csv",
                                          regions=cfg["regions"], n_folds=5), times)


if __name__ == "__main__":
    main()
