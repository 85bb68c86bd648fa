"""Guided generation, scored: share, lift, amplitude and realism of every method on a run's
specificity table, with issue #17's acceptance, on the demo (task-coupled behaviours) or the
independent-behaviour control.

    .venv/bin/python benchmarks/bench_specificity.py --preset demo      # after `make demo`
    .venv/bin/python benchmarks/bench_specificity.py --preset control   # after `make control`
    .venv/bin/python benchmarks/bench_specificity.py --preset control --run   # runs it first

``--run`` makes the preset's specificity table with Snakemake (the demo into ``results/``, the
control into ``runs/independent/``, as ``make demo`` / ``make control`` do) and prints the wall
time. The table is the DAG's own ``results/tables/specificity.csv``: every number here is what
the pipeline produced, nothing is retrained. Scores are defined in
:mod:`benediff.video.specificity`; the claims in ``benchmarks/check_claims.py``.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benediff.claims import video_claims

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    "demo": {"directory": ROOT, "configs": ["config/demo.yaml"]},
    "control": {"directory": ROOT / "runs" / "independent",
                "configs": ["config/demo.yaml", "config/independent.yaml"]},
}
ORDER = ("ours", "ours_literal", "naive", "cfg", "unguided", "real")


def run(preset: str, cores: int) -> float:
    p = PRESETS[preset]
    cmd = [str(ROOT / ".venv" / "bin" / "snakemake"), "-s", str(ROOT / "workflow" / "Snakefile"),
           "results/config.resolved.yaml", "results/tables/specificity.csv",
           "results/figures/specificity.pdf", "--cores", str(cores), "--configfile",
           *[str(ROOT / c) for c in p["configs"]], "--directory", str(p["directory"])]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def pivot(table: pd.DataFrame, value: str, fmt) -> pd.DataFrame:
    methods = [m for m in ORDER if m in set(table["method"])]
    t = table.groupby(["target", "method"])[[value, f"{value}_std"] if f"{value}_std" in table
                                             else [value]].mean()
    out = {}
    for method in methods:
        cells = {}
        for target in sorted(set(table["target"])):
            if (target, method) not in t.index:
                continue
            row = t.loc[(target, method)]
            std = row.get(f"{value}_std")
            cells[target] = fmt(row[value], std)
        out[method] = cells
    return pd.DataFrame(out)


def show(title: str, frame: pd.DataFrame):
    print(f"\n{title}")
    print("| target | " + " | ".join(frame.columns) + " |")
    print("|---" * (len(frame.columns) + 1) + "|")
    for target, row in frame.iterrows():
        print(f"| {target} | " + " | ".join(str(v) for v in row) + " |")


def pm(scale=1.0, digits=2):
    def fmt(value, std):
        if pd.isna(value):
            return "—"
        text = f"{scale * value:.{digits}f}"
        return text if std is None or pd.isna(std) else f"{text} ± {scale * std:.{digits}f}"
    return fmt


def report(results: Path, preset: str) -> int:
    path = results / "tables" / "specificity.csv"
    if not path.exists():
        print(f"{path} does not exist: run the preset first (--run, or make demo / make control)",
              file=sys.stderr)
        return 2
    table = pd.read_csv(path)
    sidecar = json.loads(Path(f"{path}.json").read_text())
    n = table.loc[table["method"] == "ours", "n_videos"]
    print(f"{preset}: {path} (extractor {sidecar.get('extractor')}, "
          f"{int(n.iloc[0]) if len(n) else 0} videos per method and target; mean ± std over videos)")
    if "regressor_r2_test" in sidecar:
        r2 = ", ".join(f"{k} {v:.2f}" for k, v in sidecar["regressor_r2_test"].items())
        print(f"behaviour read-out (ridge on frames) test R²: {r2}")
    show("target share of behaviour variance, % (chance 1/B)", pivot(table, "specificity", pm(100, 1)))
    show("target lift: readout variance ÷ unguided VDM (same seeds)", pivot(table, "lift", pm()))
    scored = table[table["method"].isin(ORDER[:4])]
    specific = scored["specific"].astype(float).groupby(scored["method"])
    print("\nspecific by lift (target's lift the largest): "
          + ", ".join(f"{m} {int(v.sum())}/{len(v)}" for m, v in specific))
    show("target amplitude: readout std ÷ real test trials'", pivot(table, "amplitude", pm()))
    floor = table["realism_floor"].iloc[0]
    show(f"realism: Fréchet distance ÷ real-vs-real floor ({floor:.3f})",
         pivot(table, "realism_ratio", pm(digits=1)))
    claims = video_claims(table, control=preset == "control")
    width = max(len(c[0]) for c in claims)
    print()
    for text, holds, numbers in claims:
        print(f"{'holds' if holds else 'FAILS'}  {text:<{width}}  {numbers}")
    print(f"\n{sum(c[1] for c in claims)} of {len(claims)} video claims hold")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--results", default=None, help="results/ folder (default: the preset's)")
    parser.add_argument("--run", action="store_true", help="make the table with Snakemake first")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    if args.run:
        print(f"pipeline wall time: {run(args.preset, args.cores):.0f} s on {args.cores} cores")
    results = Path(args.results) if args.results else PRESETS[args.preset]["directory"] / "results"
    return report(results, args.preset)


if __name__ == "__main__":
    sys.exit(main())
