"""How much measurement noise LocaNMF leaves on a simulated run's planted activity.

    .venv/bin/python benchmarks/locanmf_noise.py --root runs/study_locanmf S1 S2
    .venv/bin/python benchmarks/locanmf_noise.py --root . S1 S2          # after make demo

Two held-out least-squares fits per session and region (no lag, fitted on the training trials,
scored on the test trials, every series demeaned per trial), between the LocaNMF components
(``results/<s>/dataset.h5``, ``dataset.neural: widefield``) and the simulator's planted
components (``resources/sessions/<s>/truth.h5``):

- **lost** ``l``: the share of the region's planted components' variance that all LocaNMF
  components together cannot recover: the measurement noise on the planted signal. Independent
  Gaussian noise at ``l / (1 - l)`` of each planted component's variance loses that share, so that
  fraction is the value of ``dataset.neural_noise`` that makes a ``dataset.neural: truth`` study
  as noisy, on its planted signal, as LocaNMF's output (the study's choice, made before its
  numbers were seen).
- **not planted** ``f``: the share of the region's z-scored LocaNMF components' variance that all
  planted components cannot explain, with the lag-1 autocorrelation of that residual. It counts
  LocaNMF's components that carry little planted signal, each with unit variance once z-scored,
  and its residual is slow rather than white: an upper reference, not the study's level.

Nothing is written.
"""

import argparse
from pathlib import Path

import numpy as np

from benediff.io import dataset as ds_io
from benediff.simulate import load_truth_dataset


def region_noise(y_trials, x_trials, split) -> tuple[np.ndarray, np.ndarray]:
    """Per component of ``y``: the held-out share of its within-trial variance that ``x`` leaves
    unexplained (both demeaned per trial: the widefield chain's ΔF/F removes most of a trial's
    offset, the planted activity keeps it), and the lag-1 autocorrelation of that residual."""
    y_trials = [y - y.mean(0) for y in y_trials]
    x_trials = [x - x.mean(0) for x in x_trials]
    tr, te = split["train"], split["test"]
    y_tr, x_tr = np.concatenate([y_trials[i] for i in tr]), np.concatenate([x_trials[i] for i in tr])
    mu, sd = y_tr.mean(0), y_tr.std(0) + 1e-12
    xm = x_tr.mean(0)
    design = np.c_[x_tr - xm, np.ones(len(x_tr))]
    coef, *_ = np.linalg.lstsq(design, (y_tr - mu) / sd, rcond=None)
    resid, total = [], []
    for i in te:
        y = (y_trials[i] - mu) / sd
        r = y - np.c_[x_trials[i] - xm, np.ones(len(y))] @ coef
        resid.append(r)
        total.append(y)
    r, y = np.concatenate(resid), np.concatenate(total)
    f = (r ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    num = sum((a[1:] * a[:-1]).sum(0) for a in (q - q.mean(0) for q in resid))
    den = sum((a ** 2).sum(0) for a in (q - q.mean(0) for q in resid))
    return f, num / den


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", nargs="+")
    parser.add_argument("--root", type=Path, default=Path("."), help="the run's working directory")
    parser.add_argument("--regions", nargs="+", help="regions to report (default: all the dataset's)")
    args = parser.parse_args(argv)
    shares = []
    print("session | region | LocaNMF components | not planted f (mean, min-max) | "
          "its lag-1 autocorrelation (median) | f/(1-f) | planted components | "
          "lost l (mean, min-max) | l/(1-l)")
    print("---|---|---|---|---|---|---|---|---")
    for session in args.sessions:
        wf = ds_io.read(args.root / "results" / session / "dataset.h5", groups=("neural",))
        truth = load_truth_dataset(args.root / "resources" / "sessions" / session, image_size=8)
        if not np.array_equal(wf.trial_ids, truth.trial_ids):
            raise SystemExit(f"{session}: the dataset's trials differ from truth.h5's")
        for region, cols in wf.regions.items():
            if args.regions and region not in args.regions:
                continue
            cols = np.asarray(cols).ravel()
            f, lag1 = region_noise([x[:, cols] for x in wf.neural], truth.neural, wf.split)
            planted = truth.regions[region]
            lost, _ = region_noise([x[:, planted] for x in truth.neural], wf.neural, wf.split)
            shares.append((f.mean(), lost.mean()))
            print(f"{session} | {region} | {len(cols)} | {f.mean():.3f} ({f.min():.3f}-{f.max():.3f}) | "
                  f"{np.median(lag1):.2f} | {f.mean() / (1 - f.mean()):.3f} | {len(planted)} | "
                  f"{lost.mean():.3f} ({lost.min():.3f}-{lost.max():.3f}) | "
                  f"{lost.mean() / (1 - lost.mean()):.3f}")
    f, lost = np.mean(shares, axis=0)
    print(f"\nall regions: LocaNMF variance not planted {f:.3f} (neural_noise {f / (1 - f):.3f}); "
          f"planted variance LocaNMF loses {lost:.3f} (neural_noise {lost / (1 - lost):.3f})")


if __name__ == "__main__":
    main()
