"""The supervised decoder's MIG reference against measurement noise, on a run's own dataset.

    .venv/bin/python benchmarks/decoder_noise.py --root runs/study S1 VIS_L
    .venv/bin/python benchmarks/decoder_noise.py --root runs/study S1 VIS_L --noise 0 0.01 0.1

The tables' "MIG, linear decoder" is the MIG of a ridge decoder of the behaviours from ±0.5 s of
the region's (z-scored) components (``benediff.metrics.decoder_predictions``). With
``dataset.neural: truth`` those components are the simulator's noise-free planted activity, in
which a linear filter can undo the calcium kernel and read out a behaviour that drives a tiny
share of the variance (3 Hz breathing: < 0.1 % of a VIS or MOs region's z-scored variance). A recording
has noise. For each noise level (independent Gaussian noise added to every z-scored component,
at that fraction of its unit variance, seeded) this prints the decoder's per-behaviour test R²
and its MIG, beside the share of the region's variance in the breathing (2.2–4 Hz) and licking
(6–8 Hz) bands and the metrics of the run's fits of the region (``metrics.json``), if any.
Nothing is written.
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.signal import welch

from benediff.io.metrics import read_metrics
from benediff.lvm.pipeline import load_region
from benediff.metrics import decoder_predictions, mig, r2_scores

BANDS = {"breathing (2.2-4 Hz)": (2.2, 4.0), "licking (6-8 Hz)": (6.0, 8.0)}


def decoder_under_noise(x_train, u_train, x_test, u_test, fractions, seed: int = 0) -> dict:
    """{noise fraction: (per-behaviour test R² (B,), MIG in %)} of the supervised decoder when
    independent Gaussian noise of that fraction of each component's variance is added to every
    trial (training and test, one seeded generator per level)."""
    u, x_var = np.concatenate(u_test), np.concatenate(x_train).var(0)
    out = {}
    for frac in fractions:
        rng = np.random.default_rng([seed, int(round(frac * 1e6))])

        def noisy(trials):
            return [x + np.sqrt(frac * x_var) * rng.standard_normal(x.shape) for x in trials]

        pred = decoder_predictions(noisy(x_train), u_train, noisy(x_test))
        out[frac] = (r2_scores(u, pred)[1] / 100.0, 100.0 * mig(pred.T, u.T))
    return out


def band_shares(trials, frame_rate: float) -> dict[str, float]:
    """Share of the summed variance of the components in each of ``BANDS`` (Welch, per trial)."""
    x = np.stack(trials)  # (trials, frames, components): every trial has the same length here
    f, p = welch(x - x.mean(1, keepdims=True), fs=frame_rate, nperseg=min(128, x.shape[1]), axis=1)
    total = p.sum()
    return {name: float(p[:, (f >= lo) & (f <= hi)].sum() / total) for name, (lo, hi) in BANDS.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session")
    parser.add_argument("region")
    parser.add_argument("--root", type=Path, default=Path("."), help="the run's working directory")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.001, 0.01, 0.1])
    parser.add_argument("--frame-rate", type=float, default=30.0)
    args = parser.parse_args(argv)
    rd = load_region(args.root / "results" / args.session / "dataset.h5", args.region)
    (x_tr, u_tr), (x_te, u_te) = rd.part("train"), rd.part("test")
    shares = band_shares(rd.X, args.frame_rate)
    print(f"{args.session} {args.region}: {len(x_tr)} training / {len(x_te)} test trials, "
          f"{x_tr[0].shape[1]} components; share of the region's variance: "
          + ", ".join(f"{k} {100 * v:.3f} %" for k, v in shares.items()))
    print("noise (× variance) | " + " | ".join(f"R² {b}" for b in rd.label_names) + " | decoder MIG (%)")
    for frac, (r2, value) in decoder_under_noise(x_tr, u_tr, x_te, u_te, args.noise).items():
        print(f"{frac:g} | " + " | ".join(f"{v:.2f}" for v in r2) + f" | {value:.1f}")
    fits = sorted((args.root / "results" / "lvm" / args.session / args.region).glob("*/seed*/metrics.json"))
    for path in fits:
        m = read_metrics(path)
        print(f"fit {path.parent.parent.name}/{path.parent.name}: R² {m['r2']:.1f} %, "
              f"MIG {m['mig']:.1f} %, decoder MIG {m['mig_decoder']:.1f} %")


if __name__ == "__main__":
    main()
