"""Benchmark: peak RSS of the behaviour and dataset jobs at the study's size (issue #27).

Builds one simulated session of the ``paper`` preset (549 trials × 189 frames, 128 px views;
config/study.yaml's 68 × 80 movie, .dat only) with the real simulator, then runs each job's
package function the way its rule script does, each in a fresh subprocess, and prints the job's
peak RSS (ru_maxrss) and wall time. ``--src`` runs the same steps against another checkout's
``src`` (e.g. a ``git worktree`` of the commit before the streaming change) for a before/after
table; ``--trials`` scales the session to show the peak is flat in the number of trials.

    python benchmarks/bench_memory.py [--trials 549] [--keep DIR] [--src OTHER/src ...]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# study.yaml's behaviour settings (the schema defaults for the rest)
VIEWS = [{"name": "side", "x": 0, "y": 0, "width": 128, "height": 128},
         {"name": "bottom", "x": 128, "y": 0, "width": 128, "height": 128}]
BEHAVIORS = ["Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Chest"]

BUILD = """
from benediff.simulate import SimParams, simulate_session
from benediff.simulate.params import PRESETS
from benediff.assemble import split_from_trials_table
p = SimParams(**{{**PRESETS["paper"], "seed": 1, "n_trials": {n}, "movie_height": 68,
                 "movie_width": 80, "movie_formats": ("dat",)}})
simulate_session(r"{d}", p)
split_from_trials_table(r"{d}/trials.csv", r"{d}/split.json", blocks=[8, 1, 1], seed=0)
"""

STEPS = {
    "behavior_pose": """
from benediff.behavior.pose import normalise_pose
normalise_pose(r"{d}/behaviorDLC_simulated.h5", r"{d}/behavior.mp4", r"{o}/pose.h5",
               r"{o}/pose.json", pcutoff=0.6, expected_fps=None, mode="import")
""",
    "behavior_labels": """
from benediff.behavior.labels import build_labels
labels = {labels}
build_labels(r"{o}/pose.h5", r"{o}/pose.json", r"{d}/trials.csv", r"{d}/split.json",
             r"{o}/labels.h5", session="S", behaviors={behaviors}, mapping=labels["mapping"],
             neural_rate=30.0, max_gap=labels["max_gap"], smoothing=labels["smoothing"],
             zscore=labels["zscore"])
""",
    "behavior_clips": """
from benediff.behavior.clips import build_clips
build_clips(r"{d}/behavior.mp4", r"{d}/trials.csv", r"{o}/clips.h5", session="S",
            views={views}, size=128, neural_rate=30.0)
""",
    "assemble_dataset": """
from benediff.assemble import assemble_dataset
assemble_dataset(r"{o}/dataset.h5", session="S",
                 inputs={{"truth": r"{d}/truth.h5", "labels": r"{o}/labels.h5",
                         "images": r"{o}/clips.h5", "split": r"{d}/split.json"}},
                 sources={{"neural": "truth", "labels": "pose", "images": "clips"}},
                 image_size=128, config={{"seed": 0}})
""",
}

FOOTER = """
import resource, time, json
print("RESULT " + json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                              / 1024, "wall_s": time.perf_counter() - T0}))
"""


def run(code: str, src: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    script = "import time\nT0 = time.perf_counter()\n" + textwrap.dedent(code) + FOOTER
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode:
        sys.exit(f"step failed ({src}):\n{out.stderr[-3000:]}")
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=549)
    parser.add_argument("--keep", type=Path, default=None,
                        help="build (or reuse) the session here instead of a temporary folder")
    parser.add_argument("--src", type=Path, action="append", default=[],
                        help="also run the steps against this src/ (repeatable; listed first)")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    args = parser.parse_args()
    srcs = [*args.src, SRC]
    from benediff.config import validate  # the schema defaults of this checkout

    labels = validate({"sessions": {"S": {"source": "simulate"}}})["behavior"]["labels"]
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        d = (args.keep or Path(tmp)) / f"S{args.trials}"
        if not (d / "split.json").exists():
            d.mkdir(parents=True, exist_ok=True)
            built = run(BUILD.format(n=args.trials, d=d), SRC)
            print(f"built {d}: {args.trials} trials in {built['wall_s']:.0f} s "
                  f"(simulate_session peak {built['peak_rss_mb']:.0f} MB)")
        rows = {}
        for src in srcs:
            with tempfile.TemporaryDirectory(dir="/tmp") as out:
                for step in args.steps:
                    code = STEPS[step].format(d=d, o=out, views=VIEWS, behaviors=BEHAVIORS,
                                             labels=repr(labels))
                    rows.setdefault(step, []).append(run(code, src))
        print(f"\npeak RSS per job, {args.trials} trials × 189 frames, 2 × 128 px views")
        head = " | ".join(f"{str(s)[-40:]} MB (s)" for s in srcs)
        print(f"| job | {head} |\n|---|" + "---|" * len(srcs))
        for step, results in rows.items():
            cells = " | ".join(f"{r['peak_rss_mb']:.0f} ({r['wall_s']:.0f})" for r in results)
            print(f"| {step} | {cells} |")


if __name__ == "__main__":
    main()
