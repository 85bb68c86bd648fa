"""How realistic are the VDM's unguided videos as a function of its training steps?

Retrains the run's unconditional VDM (`video.diffusion` of the run's resolved config, only
``steps`` changed) on the run's frame latents for each ``--steps`` value, samples the unguided
videos of the specificity region with the run's seeds and sampler, and prints the specificity
score's realism (Fréchet distance of readout segment features to the real test trials, ÷ the
real-validation-vs-test floor) and the readouts' amplitudes (std ÷ real). The run's own unguided
videos are the first row.

    .venv/bin/python benchmarks/vdm_realism.py --steps 1000 3000 [--results results]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from benediff.io import dataset as dataset_io
from benediff.io.generated import read_generated
from benediff.video import pipeline as vp
from benediff.video import readout, scores
from benediff.video.targets import vae_latents, video_session


def score(videos, regressor, real_test, real_val, segment):
    readouts = [regressor.predict(v) for v in videos]
    ref = scores.within_trial_variance(real_test)
    floor = scores.frechet_distance(scores.trajectory_features(real_val, segment),
                                scores.trajectory_features(real_test, segment))
    fd = scores.frechet_distance(scores.trajectory_features(readouts, segment),
                             scores.trajectory_features(real_test, segment))
    return fd / floor, np.sqrt(scores.within_trial_variance(readouts) / ref)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default="results")
    p.add_argument("--steps", nargs="+", type=int, default=[1000])
    p.add_argument("--work", default="/tmp/vdm_realism")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    results, work = Path(args.results), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((results / "config.resolved.yaml").read_text())
    session, v = video_session(config), config["video"]
    region, spec = v["specificity"]["regions"][0], v["specificity"]
    ds = dataset_io.read(results / session / "dataset.h5", groups=("images", "labels"))
    regressor = readout.fit_regressor(ds, spec, np.random.default_rng(config["seed"]))
    real = {s: [regressor.predict(c) for c in readout.real_clips(ds, s)] for s in ("test", "val")}
    vdir = results / "video" / session
    factors = sorted((vdir / region / "generated" / "unguided").glob("*.h5"))
    runs = [(f"run ({v['diffusion']['steps']} steps)", [read_generated(f)["frames"] for f in factors])]
    for steps in args.steps:
        model_path = work / f"vdm_{steps}.pt"
        start = time.perf_counter()
        if not model_path.exists():
            vp.train_vdm(vdir / "frame_latents.h5", model_path, {**v["diffusion"], "steps": steps},
                         seed=config["seed"], device="cpu")
        cost = time.perf_counter() - start
        videos = []
        for f in factors:
            out = work / f"unguided_{steps}_{f.stem}.h5"
            vp.generate("unguided", region=region, factor=f.stem,
                        latents_path=vdir / "frame_latents.h5", ae_path=vdir / "ae" / "model.pt",
                        vae_path=results.parent / vae_latents(config, session, region),
                        encoder_path=vdir / region / "encoder.h5", model_path=model_path,
                        out_h5=out, out_mp4=out.with_suffix(".mp4"),
                        cfg={"generation": v["generation"],
                             "guidance": {k: v["guidance"][k] for k in ("sampler", "steps")}},
                        seed=config["seed"], device="cpu")
            videos.append(read_generated(out)["frames"])
        runs.append((f"{steps} steps (training {cost:.0f} s)", videos))
    print(f"{session} {region}: unguided VDM videos, {len(factors)} seeds × "
          f"{v['generation']['n_videos']} videos; realism = Fréchet distance ÷ real-vs-real floor")
    print("| VDM | realism | amplitude " + " / ".join(ds.label_names) + " |")
    print("|---|---|---|")
    for name, videos in runs:
        ratio, amp = score([clip for batch in videos for clip in batch], regressor, real["test"],
                           real["val"], spec["segment"])
        print(f"| {name} | {ratio:.1f}× | " + " / ".join(f"{a:.2f}" for a in amp) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
