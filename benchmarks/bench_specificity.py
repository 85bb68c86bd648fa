"""Guided generation, scored: share, lift, amplitude, fidelity to the requested trajectory,
spectrum and realism of every method on a run's specificity table (bootstrap intervals), with
the video claims (holds / fails / inconclusive), on the demo (task-coupled behaviours) or the
independent-behaviour control.

    .venv/bin/python benchmarks/bench_specificity.py --preset demo      # after `make demo`
    .venv/bin/python benchmarks/bench_specificity.py --preset control   # after `make control`
    .venv/bin/python benchmarks/bench_specificity.py --preset control --run   # runs it first

``--run`` makes the preset's specificity table with Snakemake (the demo into ``results/``, the
control into ``runs/independent/``, as ``make demo`` / ``make control`` do) and prints the wall
time. The table is the DAG's own ``results/tables/specificity.csv``: every number here is what
the pipeline produced, nothing is retrained. Scores are defined in
:mod:`benediff.video.specificity`; the claims in :mod:`benediff.video.claims`.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benediff.video.claims import OUTCOMES, video_claims
from benediff.video.methods import DISPLAY_ORDER

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    "demo": {"directory": ROOT, "configs": ["config/demo.yaml"]},
    "control": {"directory": ROOT / "runs" / "independent",
                "configs": ["config/demo.yaml", "config/independent.yaml"]},
}


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
    """Target × method cells of one score: the value and its bootstrap interval."""
    methods = [m for m in DISPLAY_ORDER if m in set(table["method"])]
    columns = [c for c in (value, f"{value}_lo", f"{value}_hi") if c in table]
    t = table.groupby(["target", "method"])[columns].mean()
    out = {}
    for method in methods:
        cells = {}
        for target in sorted(set(table["target"])):
            if (target, method) not in t.index:
                continue
            row = t.loc[(target, method)]
            cells[target] = fmt(row[value], row.get(f"{value}_lo"), row.get(f"{value}_hi"))
        out[method] = cells
    return pd.DataFrame(out)


def show(title: str, frame: pd.DataFrame):
    print(f"\n{title}")
    print("| target | " + " | ".join(frame.columns) + " |")
    print("|---" * (len(frame.columns) + 1) + "|")
    for target, row in frame.iterrows():
        print(f"| {target} | " + " | ".join(str(v) for v in row) + " |")


def ci(scale=1.0, digits=2):
    def fmt(value, lo, hi):
        if pd.isna(value):
            return "—"
        text = f"{scale * value:.{digits}f}"
        if lo is None or hi is None or pd.isna(lo):
            return text
        return f"{text} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"
    return fmt


def verdict(row) -> str:
    """specific / not, and the conditions a row misses."""
    if row["specific"] is None or pd.isna(row["specific"]):
        return "—"
    missed = [name for name, ok in (("lift", row["lift_margin"] > 1),
                                    ("amplitude", row["amplitude_ok"]),
                                    ("fidelity", row["fidelity_ok"]),
                                    ("spectrum", row["spectrum_ok"])) if not _true(ok)]
    sure = "sure" if _true(row["specific_lo"]) else "possible" if _true(row["specific_hi"]) else ""
    return (f"yes ({sure})" if _true(row["specific"]) else
            f"no: {', '.join(missed) or 'interval'}" + (f" ({sure})" if sure else ""))


def _true(value) -> bool:
    return str(value) == "True"


def report(results: Path, preset: str) -> int:
    path = results / "tables" / "specificity.csv"
    if not path.exists():
        print(f"{path} does not exist: run the preset first (--run, or make demo / make control)",
              file=sys.stderr)
        return 2
    table = pd.read_csv(path)
    sidecar = json.loads(Path(f"{path}.json").read_text())
    n = table.loc[table["method"] == "ours", "n_videos"]
    print(f"{preset}: {path} (extractor {sidecar.get('extractor')} "
          f"{sidecar.get('regressor', '')}, {int(n.iloc[0]) if len(n) else 0} videos per method "
          "and target; mean [bootstrap interval] over videos)")
    if "regressor_r2_test" in sidecar:
        r2 = ", ".join(f"{k} {v:.2f}" for k, v in sidecar["regressor_r2_test"].items())
        print(f"behaviour read-out test R²: {r2}")
    if "real_trials" in sidecar:
        print("real trials: " + ", ".join(f"{k} {v}" for k, v in sidecar["real_trials"].items()))
    show("target share of behaviour variance, % (chance 1/B)", pivot(table, "specificity", ci(100, 0)))
    show("target lift: readout variance ÷ unguided VDM (same seeds)", pivot(table, "lift", ci(1, 1)))
    show("target amplitude: readout std ÷ real test trials' (bounds in the config)",
         pivot(table, "amplitude", ci()))
    show("fidelity: Pearson r of the target readout with the requested trajectory",
         pivot(table, "fidelity", ci()))
    bands = table.groupby("target")[["band_lo", "band_hi"]].first()
    print("\nreal band of the target readout's spectral centroid (Hz): "
          + ", ".join(f"{t} {b.band_lo:.1f}–{b.band_hi:.1f}" for t, b in bands.iterrows()))
    show("spectral centroid of the target readout, Hz", pivot(table, "centroid", ci(1, 1)))
    show("realism: Fréchet distance ÷ the floor of as many real trials",
         pivot(table, "realism_ratio", ci(digits=1)))
    scored = table[table["method"].isin(DISPLAY_ORDER[:4])]
    cells = {m: {r.target: verdict(r._asdict()) for r in rows.itertuples()}
             for m, rows in scored.groupby("method")}
    show("specific (largest lift, amplitude in bounds, fidelity, spectrum in band)",
         pd.DataFrame({m: cells[m] for m in DISPLAY_ORDER if m in cells}))
    claims = video_claims(table, control=preset == "control")
    width = max(len(c[0]) for c in claims)
    print()
    for text, outcome, numbers in claims:
        print(f"{outcome:<12}  {text:<{width}}  {numbers}")
    counts = {o: sum(c[1] == o for c in claims) for o in OUTCOMES}
    print("\nvideo claims: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
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
