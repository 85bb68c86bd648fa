"""Does the naive baseline's decoder follow its input latents? Its target amplitude on the real
test trials' latent trajectories against the paper's one-factor manipulation (factor d swept over
its training range, the other factors held at their first-frame values).

Amplitude = a behaviour readout's std within a generated video ÷ its std within the real test
trials, with the specificity score's frame → behaviour regressor (`benediff.video.specificity`).
Reads a finished run (`make demo`); ``--epochs 30 100 300`` also retrains the decoder with those
epoch counts (same data and seed) and prints the manipulated amplitudes of each.

    .venv/bin/python benchmarks/naive_follow.py [--results results] [--epochs 30 100 300]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from benediff.io import dataset as dataset_io
from benediff.video import baselines
from benediff.video import pipeline as vp
from benediff.video import readout, scores
from benediff.video.targets import vae_latents, video_session


def amplitudes(model, conditions, ae_path, scale, regressor, ref_var) -> np.ndarray:
    latents = np.stack([baselines.naive_generate(model, c) for c in conditions])
    frames = vp._decode_videos(latents, ae_path, scale, "cpu")
    return np.sqrt(scores.within_trial_variance([regressor.predict(f) for f in frames]) / ref_var)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default="results")
    p.add_argument("--epochs", nargs="*", type=int, default=[])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results = Path(args.results)
    config = yaml.safe_load((results / "config.resolved.yaml").read_text())
    session, v = video_session(config), config["video"]
    region = v["specificity"]["regions"][0]
    base = results.parent
    ds = dataset_io.read(results / session / "dataset.h5", groups=("images", "labels"))
    spec = v["specificity"]
    regressor = readout.fit_regressor(ds, spec, np.random.default_rng(config["seed"]))
    ref_var = scores.within_trial_variance([regressor.predict(c) for c in readout.real_clips(ds, "test")])
    clips, scale, split, z, names = vp.read_paired(
        results / "video" / session / "frame_latents.h5", base / vae_latents(config, session, region))
    ae_path = results / "video" / session / "ae" / "model.pt"
    behaviours = [n for n in names if n in ds.label_names]
    col = [ds.label_names.index(n) for n in behaviours]
    n_videos = v["generation"]["n_videos"]

    def manipulated(model):
        out = []
        for d, name in enumerate(behaviours):
            conditions = vp.manipulated_conditions(z, split, names.index(name), n_videos,
                                                   v["generation"]["value_quantiles"])
            out.append(amplitudes(model, conditions, ae_path, scale, regressor, ref_var)[col[d]])
        return np.array(out)

    model = baselines.load_naive_decoder(results / "video" / session / region / "naive" / "model.pt")
    real = amplitudes(model, [z[i] for i in split["test"]], ae_path, scale, regressor, ref_var)[col]
    print(f"{session} {region}, naive decoder of the run ({v['naive']['epochs']} epochs); "
          f"amplitude of each behaviour's readout (1 = as much as real test trials)")
    print("| input | " + " | ".join(behaviours) + " |")
    print("|---" * (len(behaviours) + 1) + "|")
    print("| real test trials' Z | " + " | ".join(f"{a:.2f}" for a in real) + " |")
    print("| one factor swept, others frozen (target) | "
          + " | ".join(f"{a:.2f}" for a in manipulated(model)) + " |")
    latent_std = [np.mean([z[i][:, names.index(n)].std() for i in split["test"]]) for n in behaviours]
    print("| the target latent's own std in test trials | "
          + " | ".join(f"{s:.2f}" for s in latent_std) + " |")
    for epochs in args.epochs:
        start = time.perf_counter()
        retrained = baselines.train_naive_decoder(
            np.stack([z[i] for i in split["train"]]), np.stack([clips[i] for i in split["train"]]),
            hidden=v["naive"]["hidden"], channels=v["naive"]["channels"], epochs=epochs,
            batch_size=v["naive"]["batch_size"], lr=v["naive"]["lr"], seed=config["seed"])
        amps = manipulated(retrained)
        print(f"| {epochs} epochs ({time.perf_counter() - start:.0f} s), swept target | "
              + " | ".join(f"{a:.2f}" for a in amps) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
