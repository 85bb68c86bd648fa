"""Benchmark: peak RSS of the behaviour, dataset and video jobs at the study's size (issue #27).

Builds one simulated session of the ``paper`` preset (549 trials × 189 frames, 128 px views;
config/study.yaml's 68 × 80 movie, .dat only) with the real simulator, then runs each job's
package function the way its rule script does, each in a fresh subprocess, and prints the job's
peak RSS (ru_maxrss) and wall time. ``--src`` runs the same steps against another checkout's
``src`` (e.g. a ``git worktree`` of the commit before the streaming change) for a before/after
table; ``--trials`` scales the session to show the peak is flat in the number of trials.

The video jobs (``video_*`` steps) run on synthetic inputs of the study's sizes instead
(:data:`VIDEO_BUILD`: a dataset of moving discs with labels and the split, the generated files
the specificity table scores at ``n_videos`` 10, a region's VAE latents). The frame autoencoder
keeps the study's data sizes (``max_train_frames`` 20000, 8 × 8 × 4 latents) but a CPU-sized
network (``base_channels`` 4, one epoch); ``video_ae_network`` measures alone what the study's
network (``base_channels`` 32) adds in a training step of batch 64 and in encoding one trial;
``video_ae_study`` is the study's job at its peak: its 20000 training frames, the study's network
and one training step of batch 64 (in micro-batches of ``autoencoder.auto_micro_batch``).

    python benchmarks/bench_memory.py [--trials 549] [--keep DIR] [--src OTHER/src ...]
        [--steps behavior_pose ... video_specificity]
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

# synthetic inputs of the video jobs at the study's sizes (the images: a textured background and
# one disc per view moving with the trial's labels, so gzip compresses them as it does clips)
VIDEO_BUILD = """
import json
import numpy as np
from benediff.io import dataset as ds_io
from benediff.io.generated import write_generated
from benediff.io.latents import write_latents
from benediff.io.split import make_split
n, frames, size, names = {n}, 189, 128, {behaviors}
rng = np.random.default_rng(0)
split = make_split(n, blocks=[8, 1, 1], seed=0)
t = np.arange(frames) / 30.0
labels = [np.stack([np.sin(2 * np.pi * (0.3 + 0.1 * b) * t + i + b) for b in range(len(names))],
                   1).astype(np.float32) for i in range(n)]
yy, xx = np.mgrid[:size, :size]

def clip(i):
    out = np.empty((frames, 2, size, size), np.uint8)
    for v in range(2):
        cx, cy = 64 + 30 * labels[i][:, 2 * v], 64 + 30 * labels[i][:, 2 * v + 1]
        disc = (xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2 < 150
        out[:, v] = 40 + (xx + yy) % 16 + 150 * disc
    return out

ds_io.write(r"{v}/dataset.h5", ds_io.Dataset(
    session="V", frame_rate=30.0, trial_ids=np.arange(n), labels=labels, label_names=names,
    images=ds_io.TrialArrays(n, clip), split=split))
factors = [*names, *[f"z{{k}}" for k in range(22 - len(names))]]  # a 22-dim region (VIS)
write_latents(r"{v}/latents.h5", [rng.standard_normal((frames, 22)) for _ in range(n)],
              [rng.standard_normal((frames, 8)) for _ in range(n)], factor_names=factors,
              label_names=names, session="V", region="VIS_R", split=split, normalisation="zscore")
test = split["test"]
for m, method in enumerate({methods}):
    for k, factor in enumerate(names):
        videos = np.stack([clip(test[(j + 7 * k + 3 * m) % len(test)]) for j in range(10)])
        write_generated(r"{v}/generated_%s_%s.h5" % (method, factor),
                        rng.standard_normal((10, 4, frames, 8, 8)).astype(np.float32), videos,
                        rng.standard_normal((10, frames, 22)), rng.standard_normal((10, frames)),
                        5, attrs={{"method": method, "region": "VIS_R", "factor": factor,
                                  "factor_index": k, "factor_names": json.dumps(factors)}})
"""

# study.yaml's autoencoder data sizes; base_channels 4 and one epoch keep it to minutes on a CPU
VIDEO_AE = {"latent_size": 8, "latent_channels": 4, "base_channels": 4, "epochs": 1,
            "batch_size": 64, "lr": 0.002, "max_train_frames": 20000, "micro_batch": None}
# the generated files the specificity rules read: study.yaml scores VIS_R, every method, factor
VIDEO_GENERATED = """
generated = {{("VIS_R", m, f): r"{v}/generated_%s_%s.h5" % (m, f)
             for m in {methods} for f in {behaviors}}}
"""

VIDEO_STEPS = {
    "video_train_ae": """
from benediff.video.pipeline import train_video_ae
train_video_ae(r"{v}/dataset.h5", r"{o}/ae.pt", r"{o}/ae.json", {ae}, seed=0, device="cpu")
""",
    "video_ae_network": """
import numpy as np, torch
from benediff.video import autoencoder as ae
torch.manual_seed(0)
# the study's network: one training step of batch 64, then one trial encoded
model = ae.FrameAutoencoder(in_channels=2, image_size=128, latent_size=8, latent_channels=4,
                            base_channels=32)
opt = torch.optim.Adam(model.parameters())
x = torch.rand(64, 2, 128, 128)
loss = ((model(x) - x) ** 2).mean(); opt.zero_grad(); loss.backward(); opt.step()
ae.encode_frames(model.eval(), np.zeros((189, 2, 128, 128), np.uint8))
""",
    "video_ae_study": """
import numpy as np, torch
from benediff.checkpoint import array_digest
from benediff.video import autoencoder as ae
from benediff.video.frames import read_streamed
from benediff.video.pipeline import _frames
# the study's job at its peak: the 20000 training frames gathered and digested as train_video_ae
# does, the study's network (base_channels 32) and one training step of batch 64 on them
frames = _frames(read_streamed(r"{v}/dataset.h5"), "train", 20000, np.random.default_rng(0))
array_digest(frames)
torch.manual_seed(0)
model = ae.FrameAutoencoder(in_channels=2, image_size=128, latent_size=8, latent_channels=4,
                            base_channels=32)
opt = torch.optim.Adam(model.parameters(), lr=0.002)
idx, frames = np.arange(64), torch.from_numpy(frames)
if hasattr(ae, "train_step"):  # micro-batched (video.autoencoder.micro_batch, default auto)
    ae.train_step(model, opt, frames, idx, ae.auto_micro_batch(32, 128), "cpu")
else:  # before the micro-batches: the whole batch at once
    x = frames[idx].float() / 255.0
    loss = ((model(x) - x) ** 2).mean(); opt.zero_grad(); loss.backward(); opt.step()
""",
    "video_encode_frame_latents": """
from benediff.video.pipeline import encode_frame_latents
encode_frame_latents(r"{v}/dataset.h5", r"{o}/ae.pt", r"{o}/frame_latents.h5", device="cpu")
""",
    "video_fit_linear_encoder": """
from benediff.video.pipeline import fit_linear_encoder
fit_linear_encoder(r"{o}/frame_latents.h5", r"{v}/latents.h5", r"{o}/encoder.h5",
                   r"{o}/encoder.json", {encoder})
""",
    "video_specificity_canvas": VIDEO_GENERATED + """
try:
    from benediff.video.canvas import write_specificity_canvas
except ImportError:  # before the split of benediff.video.specificity
    from benediff.video.specificity import write_specificity_canvas
write_specificity_canvas(generated, {views}, r"{o}/canvas.mp4", r"{o}/canvas.json", fps=30.0,
                         dataset_path=r"{v}/dataset.h5", floor_trials=8, seed=0)
""",
    "video_specificity": VIDEO_GENERATED + """
from benediff.video.specificity import specificity
specificity(r"{v}/dataset.h5", generated, r"{o}/specificity.csv", r"{o}/specificity.tex",
            {specificity}, config={{}}, seed=0)
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
    steps = {**STEPS, **VIDEO_STEPS}
    parser.add_argument("--steps", nargs="+", default=list(steps), choices=list(steps))
    args = parser.parse_args()
    srcs = [*args.src, SRC]
    from benediff.config import validate  # the schema defaults of this checkout
    from benediff.video.methods import METHODS

    config = validate({"sessions": {"S": {"source": "simulate"}}})
    fill = {"views": VIEWS, "behaviors": BEHAVIORS, "labels": repr(config["behavior"]["labels"]),
            "methods": METHODS, "ae": VIDEO_AE, "encoder": config["video"]["encoder"],
            "specificity": config["video"]["specificity"]}
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        d = (args.keep or Path(tmp)) / f"S{args.trials}"
        v = (args.keep or Path(tmp)) / f"V{args.trials}"
        if set(args.steps) & set(STEPS) and not (d / "split.json").exists():
            d.mkdir(parents=True, exist_ok=True)
            built = run(BUILD.format(n=args.trials, d=d), SRC)
            print(f"built {d}: {args.trials} trials in {built['wall_s']:.0f} s "
                  f"(simulate_session peak {built['peak_rss_mb']:.0f} MB)")
        if set(args.steps) & set(VIDEO_STEPS) and not (v / "dataset.h5").exists():
            v.mkdir(parents=True, exist_ok=True)
            built = run(VIDEO_BUILD.format(n=args.trials, v=v, **fill), SRC)
            print(f"built {v}: synthetic video inputs in {built['wall_s']:.0f} s")
        rows = {}
        for src in srcs:
            with tempfile.TemporaryDirectory(dir="/tmp") as out:
                for step in args.steps:
                    code = steps[step].format(d=d, v=v, o=out, **fill)
                    rows.setdefault(step, []).append(run(code, src))
                    print(f"{step} ({src}): {rows[step][-1]}", flush=True)
        print(f"\npeak RSS per job, {args.trials} trials × 189 frames, 2 × 128 px views")
        head = " | ".join(f"{str(s)[-40:]} MB (s)" for s in srcs)
        print(f"| job | {head} |\n|---|" + "---|" * len(srcs))
        for step, results in rows.items():
            cells = " | ".join(f"{r['peak_rss_mb']:.0f} ({r['wall_s']:.0f})" for r in results)
            print(f"| {step} | {cells} |")


if __name__ == "__main__":
    main()
