"""The results ledger (rule ``results_ledger``): a run's Tables 1–3 beside the paper's, the
guided-generation scores, and every claim of :mod:`benediff.claims`, as one Markdown file.

Generated, never typed: ``results/RESULTS.md`` is written from the run's own tables, so it can
only say what the run measured. The paper's numbers are those of its Tables 1–3 (mean ± std over
5 runs; VIS/MOs left for Tables 1 and 3, VIS right over two sessions for Table 2).
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

from benediff.claims import HOLDS, OURS, check, counts_text
from benediff.io.metrics import read_metrics
from benediff.video.methods import DISPLAY_ORDER, METHODS, REAL
from benediff.io.atomic import atomic_output
from benediff.report_cost import COST_DIR, cost_section, job_times, job_usage, load_cost, save_cost

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
           "mig_floor": "MIG floor, trials shuffled (%)",
           "mig_ceiling": "MIG ceiling, labels as code (%)",
           "mig_calibrated": "MIG calibrated (0 = floor, 1 = ceiling)",
           "mig_relative": "relative gap (%), not Chen's MIG",
           "mig_decoder": "MIG, linear decoder (%)"}
# rows whose paper value is shown: the paper's MIG beside our relative gap, the scale its MIGs
# are on (docs/METHOD.md §8.3), not beside our MIG
PAPER_METRIC = {"r2": "r2", "rmse": "rmse", "mig_relative": "mig"}
DECIMALS = {"mig_calibrated": 2}
SCALE_NOTE = ("MIG is Chen et al.'s (the gap ÷ the behaviour's entropy, 20 bins per code and "
              "behaviour, `lvm.mig_binning`), read between its floor (the same latents against "
              "other test trials' labels) and its ceiling (the labels themselves as the code); "
              "calibrated = (MIG − floor) / (ceiling − floor). The paper's MIGs are not on that "
              "scale (no code reaches its 33–35 % for a plain VAE with Chen's normalisation): "
              "they are shown beside the relative gap (I₁ − I₂) / I₁, the normalisation that "
              "matches their scale (docs/METHOD.md §8.3), for scale only.")


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
                k = DECIMALS.get(metric, 1)
                ours = f"{row['mean'].iloc[0]:.{k}f} ± {row['std'].iloc[0]:.{k}f}"
                paper = (paper_value(table, key, position, PAPER_METRIC[metric], model)
                         if metric in PAPER_METRIC else None)
                cells.append(ours + (f" ({paper[0]:.1f})" if paper else ""))
            lines.append(f"| {key} | {METRICS[metric]} | " + " | ".join(cells) + " |")
    return lines


VIDEO_SCORES = ("specificity", "lift", "amplitude", "fidelity", "realism_ratio")


def _verdict(row) -> str:
    """A row's ``specific`` verdict with its intervals: sure, possible (inconclusive) or no."""
    if "specific_lo" not in row or pd.isna(row["specific_lo"]):
        return "—"
    return "sure" if row["specific_lo"] else "possible" if row["specific_hi"] else "no"


def _video_cell(r) -> str:
    lift = "—" if pd.isna(r.get("lift")) else f"{r['lift']:.1f}"
    fidelity = "—" if pd.isna(r.get("fidelity", float("nan"))) else f"{r['fidelity']:.2f}"
    return (f"{100 * r['specificity']:.0f} % / {lift} / {r['amplitude']:.2f} / {fidelity} / "
            f"{r['realism_ratio']:.1f}× / {_verdict(r)}")


def _video_means(table: pd.DataFrame, keys) -> pd.DataFrame:
    """Mean of the scores over regions; a verdict holds where it holds in every region."""
    scores = [c for c in VIDEO_SCORES if c in table]
    out = table.groupby(keys)[scores].mean()
    for flag in ("specific_lo", "specific_hi"):
        if flag in table:
            out[flag] = table.groupby(keys)[flag].agg(
                lambda x: None if x.isna().all() else bool(x.astype(bool).all()))
    return out


def specificity_section(table: pd.DataFrame) -> list[str]:
    methods = [m for m in DISPLAY_ORDER if m in set(table["method"])]
    lines = ["| target | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    means = _video_means(table, ["target", "method"])
    for target in sorted(set(table["target"])):
        cells = [_video_cell(means.loc[(target, m)]) if (target, m) in means.index else "—"
                 for m in methods]
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return lines


# the paper's Figure 6, in words (its videos are not numbers): METHOD.md 8.2
PAPER_FIG6 = ("generated single-trial side-view videos for the Jaw factor: the naive manipulation "
              "of the VAE's latent, classifier-free guidance (CFG) and ours; in ours the jaw moves "
              "over the trial while the rest of the frame stays, the naive manipulation and CFG "
              "show little or mixed motion (frame strips and frame differences)")


def figure6_section(table: pd.DataFrame, region: str, factor: str) -> list[str]:
    """The paper's Figure 6 in words beside this run's scores for the figure's region × factor."""
    rows = table[(table["region"] == region) & (table["target"] == factor)]
    lines = [f"## Figure 6 ({region}, factor {factor})", "", f"The paper: {PAPER_FIG6}.", ""]
    if rows.empty:
        return lines + ["This run generated no videos for this region and factor.", ""]
    lines += ["This run (mean over its videos; specific: sure / possible / no over the "
              "bootstrap intervals):", "",
              "| method | share of behaviour variance | lift over unguided | amplitude (× real) "
              "| fidelity (r) | realism (× same-n floor) | specific |",
              "|---|---|---|---|---|---|---|"]
    means = _video_means(rows, ["method"])
    for method in [m for m in (*METHODS, REAL) if m in means.index]:
        cells = _video_cell(means.loc[method]).split(" / ")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines + [""]


def per_factor_section(results) -> list[str]:
    """MIG per behaviour of ``ours`` beside the supervised linear decoder's and the labels' own
    (the ceiling), per fitted session × region (mean over the seeds whose metrics.json has the
    per-behaviour gaps)."""
    rows = {}
    for path in sorted(Path(results).glob(f"lvm/*/*/{OURS}/seed*/metrics.json")):
        m = read_metrics(path)
        if "mig_per_factor" in m and "mig_decoder_per_factor" in m:
            rows.setdefault((m["session"], m["region"]), []).append(m)
    if not rows:
        return []
    names = list(next(iter(rows.values()))[0]["mig_per_factor"])
    keys = ["mig_per_factor", "mig_decoder_per_factor", "mig_ceiling_per_factor"]
    lines = ["## MIG per behaviour: ours / the supervised linear decoder / the labels' own", "",
             "MIG is the mean over behaviours of the gap between the two codes that carry most "
             "information about the behaviour (÷ its entropy), in %. The labels' own gap (the "
             "ceiling) is below 100 where behaviours share information. Mean over the seeds "
             "with these numbers.", "",
             "| session | region | seeds | " + " | ".join(names) + " | MIG |",
             "|---|---|---|" + "---|" * (len(names) + 1)]
    for (session, region), fits in rows.items():
        mean = {k: {b: sum(f[k][b] for f in fits) / len(fits) for b in names}
                for k in keys if all(k in f for f in fits)}
        cells = [" / ".join(f"{mean[k][b]:.0f}" for k in mean) for b in names]
        total = " / ".join(f"{sum(v.values()) / len(names):.1f}" for v in mean.values())
        lines.append(f"| {session} | {region} | {len(fits)} | " + " | ".join(cells)
                     + f" | {total} |")
    return lines + [""]


def difference_section(claims, causes: list[dict]) -> list[str]:
    """One paragraph per cause (``report.causes``) that explains a claim that does not hold
    (fails or inconclusive), each followed by the claims it explains with their outcome and
    numbers; claims no cause matches come last."""
    failing = [(f"{text} ({outcome})", numbers) for text, outcome, numbers in claims
               if outcome != HOLDS]
    if not failing:
        return []
    lines = ["## Where this run differs from the paper, and why", ""]
    explained = set()
    for cause in causes:
        hits = [(t, n) for t, n in failing if cause["claim"].lower() in t.lower()]
        if not hits:
            continue
        explained.update(t for t, _ in hits)
        lines += [cause["cause"], ""] + [f"- {t}: {n}" for t, n in hits] + [""]
    rest = [(t, n) for t, n in failing if t not in explained]
    if rest:
        lines += ["Cause not established (no `report.causes` entry):", ""]
        lines += [f"- {t}: {n}" for t, n in rest] + [""]
    return lines


def demote(markdown: str) -> str:
    """Headings one level down, to include another run's ledger as a section."""
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", markdown, flags=re.M)


def write_ledger(results, out_md, *, title: str, note: str = "", control: bool = False,
                 workdir=None, stages: dict | None = None, causes: list | None = None,
                 figure6: tuple[str, str] | None = None, include: list | None = None,
                 expected: list | None = None) -> str:
    """Write the ledger of the run in ``results`` (its ``tables/`` and resolved config).

    ``workdir`` and ``stages`` (rule -> stage) add the cost of each stage (:func:`stage_costs`); ``figure6`` is
    the (region, factor) of the run's Figure 6; ``causes`` are ``report.causes``; ``include``
    is a list of ``(title, ledger path)`` of other runs appended as sections; ``expected`` the
    run's artifacts (paths relative to the run's working directory) whose absence is listed.
    """
    results = Path(results)
    parts = [f"# {title}", "", "Generated by `benediff.report` from this run's tables "
             f"({ORIGIN}); do not edit by hand.", ""]
    if note:
        parts += [note, ""]
    missing = [p for p in expected or [] if not (results.parent / p).exists()]
    if missing:
        parts += ["**A snapshot of a run in progress.** Not yet produced, so not in this ledger: "
                  + ", ".join(f"`{Path(p).name}`" for p in missing) + ".", ""]
    if workdir is not None and stages:
        save_cost(results / COST_DIR, job_times(workdir), job_usage(workdir), stages)
    cost = load_cost(results / COST_DIR)
    if cost is not None:
        parts += cost_section(*cost)
    for n in (1, 2, 3):
        path = results / "tables" / f"table{n}.csv"
        if path.exists():
            parts += [f"## Table {n}: ours (mean ± std over seeds), the paper's mean in brackets",
                      "", SCALE_NOTE, "", *table_section(n, pd.read_csv(path)), ""]
    spec = results / "tables" / "specificity.csv"
    if spec.exists() and figure6 is not None:
        parts += figure6_section(pd.read_csv(spec), *figure6)
    if spec.exists():
        parts += ["## Guided generation (the paper shows videos only; scores of this pipeline)",
                  "", "Per target: share of behaviour variance / lift over the unguided VDM / "
                  "amplitude (× real) / fidelity to the requested trajectory (r) / realism (× the "
                  "real-vs-real floor with as many videos) / specific (sure, possible or no: the "
                  "largest lift, amplitude in bounds, fidelity and a real spectrum, over the "
                  "bootstrap intervals; `benediff.video.specificity`).", "",
                  *specificity_section(pd.read_csv(spec)), ""]
    parts += per_factor_section(results)
    claims = check(results, control=control)
    parts += [f"## The paper's claims on this run: {counts_text(claims)}", "",
              "Each claim is decided over seeds: it holds when the effect is beyond two standard "
              "errors and, for a MIG, both sides are above their shuffled-trials floors by as "
              "much; it fails when the reverse is; otherwise it is inconclusive "
              "(`benediff.claims`).", "",
              "| | claim | numbers |", "|---|---|---|"]
    parts += [f"| {outcome if outcome == HOLDS else f'**{outcome}**'} | {text} | {numbers} |"
              for text, outcome, numbers in claims]
    parts += [""] + difference_section(claims, causes or [])
    for section_title, path in include or []:
        parts += [f"# {section_title}", "", demote(Path(path).read_text()).strip(), ""]
    text = "\n".join(parts).rstrip("\n") + "\n"
    with atomic_output(out_md) as tmp:
        Path(tmp).write_text(text)
    return text


# ---------------------------------------------------------------------------------------------
# results as data: a run's tables, fits' metrics and job costs, small enough to commit, from
# which its ledger and claims regenerate without the run (``python -m benediff.report``)

ORIGIN = "the rule `results_ledger`, or `python -m benediff.report` on a committed snapshot"
SNAPSHOT_GLOBS = ("config.resolved.yaml", "tables/*.csv", "lvm/*/*/*/seed*/metrics.json",
                  f"{COST_DIR}/*")


# metric labels of ledgers written before the MIG had its scale, and of today's
LEDGER_LABELS = {"MIG, trials shuffled (%)": "mig_floor"} | {v: k for k, v in METRICS.items()}
CELL = re.compile(r"^(-?[\d.]+) ± ([\d.]+)")


def tables_from_ledger(markdown: str, n_seeds: int) -> dict[int, pd.DataFrame]:
    """Tables 1–3 (long form, as ``lvm_table`` writes them) recovered from a generated ledger's
    Markdown: mean and std as printed (one decimal), ``n_seeds`` as the run had. For ledgers
    whose run directory is gone; the per-fit numbers (Figure 4, per behaviour) are not in it."""
    tables, current = {}, None
    for line in markdown.splitlines():
        heading = re.match(r"^#+ Table (\d): ", line)
        if heading:
            current = int(heading.group(1))
            tables[current], header = [], None
            continue
        if current is None or not line.startswith("|"):
            if line.startswith("#"):
                current = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[1] == "metric":
            header = cells
            continue
        if set(cells[0]) <= {"-"} or header is None or cells[1] not in LEDGER_LABELS:
            continue
        for model, cell in zip(header[2:], cells[2:]):
            found = CELL.match(cell)
            if found:
                tables[current].append({header[0]: cells[0], "metric": LEDGER_LABELS[cells[1]],
                                        "model": model, "mean": float(found.group(1)),
                                        "std": float(found.group(2)), "n_seeds": n_seeds})
    return {n: pd.DataFrame(rows) for n, rows in tables.items() if rows}


def snapshot(results, out) -> list[Path]:
    """Copy what a run's ledger reads (:data:`SNAPSHOT_GLOBS`: resolved config, tables, every
    fit's metrics.json, job costs) from ``results`` into ``out`` (replaced); returns the files."""
    results, out = Path(results), Path(out)
    if not (results / "config.resolved.yaml").exists():
        raise FileNotFoundError(f"{results}/config.resolved.yaml does not exist: not a finished "
                                "run's results folder (run the pipeline, then its ledger)")
    if out.exists():
        shutil.rmtree(out)
    copied = []
    for pattern in SNAPSHOT_GLOBS:
        for path in sorted(results.glob(pattern)):
            target = out / path.relative_to(results)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied.append(target)
    return copied


def snapshot_ledger(folder, out_md, causes: list | None = None) -> str:
    """The ledger of a snapshot (or a run's results folder), its title, note, Figure 6 and
    control flag read from its resolved config; ``causes`` (``report.causes`` entries) replace
    the config's, so the interpretation can be updated without the run."""
    import yaml

    folder = Path(folder)
    config = yaml.safe_load((folder / "config.resolved.yaml").read_text())
    rep = config.get("report", {})
    fig6 = config.get("video", {}).get("figures", {}).get("fig6", {})
    return write_ledger(folder, out_md, title=rep.get("title") or str(folder),
                        note=rep.get("note", ""),
                        causes=rep.get("causes", []) if causes is None else causes,
                        control=config.get("simulate", {}).get("behavior_coupling") == "independent",
                        figure6=(fig6["region"], fig6["factor"]) if fig6.get("region") else None)


def compose(folders, out_md, preamble: str = "", causes: list | None = None) -> str:
    """One Markdown file from the ledgers of several snapshots: the first as the document, the
    others appended as sections (headings one level down)."""
    texts = []
    for folder in folders:
        tmp = Path(out_md).with_suffix(".part.md")
        texts.append(snapshot_ledger(folder, tmp, causes))
        tmp.unlink()
    parts = [texts[0].rstrip("\n")]
    if preamble:
        head, _, rest = parts[0].partition("\n\n")
        parts = [f"{head}\n\n{preamble}\n\n{rest}"]
    parts += [demote(t).strip() for t in texts[1:]]
    text = "\n\n".join(parts) + "\n"
    with atomic_output(out_md) as tmp:
        Path(tmp).write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benediff.report",
                                     description="results as data: snapshot a run, write ledgers")
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="copy a finished run's tables, metrics and costs")
    snap.add_argument("results", help="the run's results/ folder (its ledger written first)")
    snap.add_argument("out", help="the snapshot folder, e.g. docs/demo")
    led = sub.add_parser("ledger", help="one Markdown ledger from snapshots, the first on top")
    led.add_argument("folders", nargs="+", help="snapshot folders (or results/ folders)")
    led.add_argument("-o", "--out", required=True, help="the Markdown file to write")
    led.add_argument("--preamble", default="", help="a paragraph under the first title")
    led.add_argument("--causes", help="a YAML file with report.causes (config/causes.yaml) to "
                     "use instead of the snapshots' own")
    args = parser.parse_args(argv)
    try:
        if args.command == "snapshot":
            files = snapshot(args.results, args.out)
            print(f"{args.out}: {len(files)} files, "
                  f"{sum(f.stat().st_size for f in files) / 1024:.0f} KB")
        else:
            causes = None
            if args.causes:
                import yaml

                causes = yaml.safe_load(Path(args.causes).read_text())["report"]["causes"]
            compose(args.folders, args.out, args.preamble, causes)
            print(f"{args.out} written from {', '.join(args.folders)}")
    except (FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
