"""Reference MIGs of ideal codes on a simulated session's test trials.

    .venv/bin/python benchmarks/mig_ceiling.py                      # the demo's S1 and S2
    .venv/bin/python benchmarks/mig_ceiling.py --root runs/independent S1 S2

For each session, with the same estimator as the tables (``benediff.metrics.mig``, 20 × 20
bins) on the test trials of ``results/<s>/split.json``, prints the MIG of three codes built
from the planted behaviour in ``resources/sessions/<s>/truth.h5``:

- the labels themselves (the estimator's own ceiling on these frames);
- the labels passed through the simulator's calcium kernel (exponential, ``tau_calcium``): what
  the neural activity carries of them before any deconvolution; the kernel attenuates fast
  movements (7 Hz licking, 3 Hz breathing) ~8-18×, and shot noise keeps them from being
  recovered;
- the labels plus independent noise at R² 0.8 (seeded).

Read the tables' MIG (and its references) against these numbers.
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from benediff.io.split import read_split
from benediff.metrics import mig
from benediff.simulate.truth import read_truth


def ceilings(truth_path, split_path, seed: int = 0) -> dict[str, float]:
    gt = read_truth(truth_path)
    params = gt["params"]
    alpha = np.exp(-1.0 / (params.frame_rate * params.tau_calcium))
    calcium = lfilter([1 - alpha], [1, -alpha], gt["behavior"], axis=0)
    test = read_split(split_path)["test"]
    starts, n = gt["start_frame"][test], params.frames_per_trial
    labels = np.concatenate([gt["behavior"][s:s + n] for s in starts])
    filtered = np.concatenate([calcium[s:s + n] for s in starts])
    noisy = labels + 0.5 * labels.std(0) * np.random.default_rng(seed).standard_normal(labels.shape)
    return {"labels": mig(labels.T, labels.T), "calcium-filtered labels": mig(filtered.T, labels.T),
            "labels + noise (R² 0.8)": mig(noisy.T, labels.T), "test frames": len(labels)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", nargs="*", default=["S1", "S2"])
    parser.add_argument("--root", type=Path, default=Path("."), help="the run's working directory")
    args = parser.parse_args(argv)
    for session in args.sessions:
        out = ceilings(args.root / "resources" / "sessions" / session / "truth.h5",
                       args.root / "results" / session / "split.json")
        frames = out.pop("test frames")
        print(f"{session} ({frames} test frames): " + ", ".join(
            f"MIG of {name} {100 * value:.1f} %" for name, value in out.items()))


if __name__ == "__main__":
    main()
