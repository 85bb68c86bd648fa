"""The results ledger (rule ``results_ledger``): a run's Tables 1–3 beside the paper's, the
guided-generation scores, and every claim of :mod:`benediff.claims`, as one Markdown file.

Generated, never typed: ``results/RESULTS.md`` is written from the run's own tables, so it can
only say what the run measured. The paper's numbers are those of its Tables 1–3 (mean ± std over
5 runs; VIS/MOs left for Tables 1 and 3, VIS right over two sessions for Table 2).
"""

from pathlib import Path

import pandas as pd

from benediff.claims import check
from benediff.io.atomic import atomic_output

# the paper's Tables 1-3 (mean, std) by (table, row key, metric, model)
PAPER = {
    1: {("VIS_L", "r2"): {"ssl": (81.10, 0.26), "cebra": (79.60, 0.22), "pivae": (74.37, 0.24), "ours": (75.41, 0.24)},
        ("VIS_L", "rmse"): {"ssl": (32.77, 0.17), "cebra": (33.07, 0.18), "pivae": (36.74, 0.22), "ours": (35.50, 0.17)},
        ("VIS_L", "mig"): {"ssl": (37.50, 0.20), "cebra": (40.12, 0.24), "pivae": (43.98, 0.29), "ours": (55.87, 0.26)},
        ("MOs_L", "r2"): {"ssl": (76.65, 0.30), "cebra": (72.63, 0.28), "pivae": (70.73, 0.23), "ours": (69.59, 0.22)},
        ("MOs_L", "rmse"): {"ssl": (30.64, 0.21), "cebra": (32.14, 0.17), "pivae": (35.69, 0.19), "ours": (36.91, 0.18)},
        ("MOs_L", "mig"): {"ssl": (36.89, 0.23), "cebra": (37.94, 0.23), "pivae": (42.20, 0.28), "ours": (58.56, 0.29)}},
    2: {(1, "r2"): {"vae": (77.79, 0.20), "ours": (73.74, 0.24)},
        (1, "rmse"): {"vae": (48.94, 0.18), "ours": (55.17, 0.19)},
        (1, "mig"): {"vae": (34.61, 0.30), "ours": (56.36, 0.29)},
        (2, "r2"): {"vae": (78.68, 0.21), "ours": (71.13, 0.29)},
        (2, "rmse"): {"vae": (49.54, 0.22), "ours": (54.27, 0.19)},
        (2, "mig"): {"vae": (33.20, 0.27), "ours": (59.05, 0.26)}},
    3: {("VIS_L", "r2"): {"vae": (83.66, 0.21), "no_beha": (77.74, 0.23), "no_tc": (79.82, 0.29), "ours": (75.41, 0.24)},
        ("VIS_L", "rmse"): {"vae": (30.96, 0.18), "no_beha": (34.86, 0.20), "no_tc": (34.71, 0.13), "ours": (35.50, 0.17)},
        ("VIS_L", "mig"): {"vae": (33.13, 0.24), "no_beha": (48.54, 0.23), "no_tc": (38.13, 0.27), "ours": (55.87, 0.26)},
        ("MOs_L", "r2"): {"vae": (84.70, 0.24), "no_beha": (76.08, 0.20), "no_tc": (75.49, 0.22), "ours": (69.59, 0.22)},
        ("MOs_L", "rmse"): {"vae": (31.41, 0.22), "no_beha": (34.14, 0.25), "no_tc": (34.92, 0.16), "ours": (36.91, 0.18)},
        ("MOs_L", "mig"): {"vae": (32.96, 0.21), "no_beha": (49.79, 0.23), "no_tc": (40.74, 0.23), "ours": (58.56, 0.29)}},
}
GROUP = {1: "region", 2: "session", 3: "region"}
METRICS = {"r2": "R² (%)", "rmse": "RMSE", "mig": "MIG (%)",
           "mig_floor": "MIG, trials shuffled (%)", "mig_decoder": "MIG, linear decoder (%)"}


def paper_value(table: int, key, position: int, metric: str, model: str):
    """The paper's (mean, std) for a row of our table; Table 2 rows match by session order."""
    base = model.split(" ")[0]  # "cebra (ridge)" -> cebra
    row = PAPER[table].get((position + 1 if table == 2 else key, metric), {})
    return row.get(base)


def table_section(table: int, frame: pd.DataFrame) -> list[str]:
    group = GROUP[table]
    models = list(dict.fromkeys(frame["model"]))
    lines = [f"| {group} | metric | " + " | ".join(models) + " |",
             "|---|---|" + "---|" * len(models)]
    for position, key in enumerate(dict.fromkeys(frame[group])):
        for metric in METRICS:
            if not ((frame[group] == key) & (frame["metric"] == metric)).any():
                continue
            cells = []
            for model in models:
                row = frame[(frame[group] == key) & (frame["metric"] == metric) & (frame["model"] == model)]
                if row.empty:
                    cells.append("—")
                    continue
                ours = f"{row['mean'].iloc[0]:.1f} ± {row['std'].iloc[0]:.1f}"
                paper = paper_value(table, key, position, metric, model)
                cells.append(ours + (f" ({paper[0]:.1f})" if paper else ""))
            lines.append(f"| {key} | {METRICS[metric]} | " + " | ".join(cells) + " |")
    return lines


def specificity_section(table: pd.DataFrame) -> list[str]:
    methods = [m for m in ("ours", "ours_literal", "naive", "cfg", "unguided", "real")
               if m in set(table["method"])]
    lines = ["| target | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    means = table.groupby(["target", "method"])[["specificity", "lift", "amplitude",
                                                 "realism_ratio"]].mean()
    for target in sorted(set(table["target"])):
        cells = []
        for method in methods:
            if (target, method) not in means.index:
                cells.append("—")
                continue
            r = means.loc[(target, method)]
            lift = "—" if pd.isna(r["lift"]) else f"{r['lift']:.1f}"
            cells.append(f"{100 * r['specificity']:.0f} % / {lift} / {r['amplitude']:.2f} / "
                         f"{r['realism_ratio']:.0f}×")
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return lines


def write_ledger(results, out_md, *, title: str, note: str = "", control: bool = False) -> str:
    """Write the ledger of the run in ``results`` (its ``tables/`` and resolved config)."""
    results = Path(results)
    parts = [f"# {title}", "", "Generated by the rule `results_ledger` from this run's tables; "
             "do not edit by hand.", ""]
    if note:
        parts += [note, ""]
    for n in (1, 2, 3):
        path = results / "tables" / f"table{n}.csv"
        if path.exists():
            parts += [f"## Table {n}: ours (mean ± std over seeds), the paper's mean in brackets",
                      "", *table_section(n, pd.read_csv(path)), ""]
    spec = results / "tables" / "specificity.csv"
    if spec.exists():
        parts += ["## Guided generation (the paper shows videos only; scores of this pipeline)",
                  "", "Per target: share of behaviour variance / lift over the unguided VDM / "
                  "amplitude (× real) / realism (× the real-vs-real floor).", "",
                  *specificity_section(pd.read_csv(spec)), ""]
    claims = check(results, control=control)
    held = sum(c[1] for c in claims)
    parts += [f"## The paper's claims on this run: {held} of {len(claims)} hold", "",
              "| | claim | numbers |", "|---|---|---|"]
    parts += [f"| {'holds' if ok else '**fails**'} | {text} | {numbers} |"
              for text, ok, numbers in claims]
    text = "\n".join(parts) + "\n"
    with atomic_output(out_md) as tmp:
        Path(tmp).write_text(text)
    return text
