"""How much of each region's neural variance the behaviour labels explain, per session.

    .venv/bin/python benchmarks/behavior_share.py results/S1/dataset.h5 [results/S2/dataset.h5 ...]
    .venv/bin/python benchmarks/behavior_share.py --regions VIS_L SSp_L MOs_L results/*/dataset.h5

For every dataset (the LocaNMF components per region and the labels, as the models see them)
prints the cross-validated share of variance that the labels explain linearly with lags of
−0.5..+0.5 s (``benediff.metrics.behavior_share``: ridge, 5 contiguous trial folds), and the
pairwise |r| of the labels. For a simulated session it also prints the share in the planted
activity (``truth.h5`` attribute ``behavior_share/<region>``), the upper bound before imaging
noise and unmixing. The widefield reference: Musall et al. 2019 (Nat. Neurosci. 22:1677),
where a linear model of task and movement variables explains about 40 % of single-trial
widefield variance and movements carry most of it (docs/WIDEFIELD.md, "How much behaviour").
"""

import argparse
import time
from pathlib import Path

from benediff.io import dataset as dataset_io
from benediff.metrics import behavior_share, label_correlations
from benediff.simulate.truth import read_measured_coupling


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--regions", nargs="*", default=None, help="default: every region")
    args = parser.parse_args(argv)
    for path in args.datasets:
        start = time.perf_counter()
        ds = dataset_io.read(path, groups=("neural", "labels"))
        half = int(round(0.5 * ds.frame_rate))
        lags = range(-half, half + 1, max(1, int(round(ds.frame_rate / 10))))
        med, top = label_correlations(ds.labels)
        print(f"{path}: {ds.n_trials} trials at {ds.frame_rate:g} Hz, labels {ds.label_names}; "
              f"pairwise |r| median {med:.2f}, max {top:.2f}")
        truth = path.parent.parent.parent / "resources" / "sessions" / ds.session / "truth.h5"
        planted = read_measured_coupling(truth) if truth.exists() else {}
        for region in args.regions or sorted(ds.regions):
            share = behavior_share(ds.region_neural(region), ds.labels, lags)
            extra = f" (planted activity {100 * planted[region]:.1f} %)" if region in planted else ""
            print(f"  {region:8s} {len(ds.regions[region]):3d} dims: behaviour explains "
                  f"{100 * share:5.1f} % (cvR², lags ±0.5 s){extra}")
        print(f"  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
