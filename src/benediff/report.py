"""The results ledger (rule ``results_ledger``): a run's Tables 1–3 beside the paper's, the
guided-generation scores, and every claim of :mod:`benediff.claims`, as one Markdown file.

Generated, never typed: ``results/RESULTS.md`` is written from the run's own tables, so it can
only say what the run measured. The paper's numbers are those of its Tables 1–3 (mean ± std over
5 runs; VIS/MOs left for Tables 1 and 3, VIS right over two sessions for Table 2).
"""

import base64
import json
import re
from pathlib import Path

import pandas as pd

from benediff.claims import OURS, check
from benediff.io.metrics import read_metrics
from benediff.jobs import parse_usage
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


# the paper's Figure 6, in words (its videos are not numbers): METHOD.md 8.2
PAPER_FIG6 = ("generated single-trial side-view videos for the Jaw factor: the naive manipulation "
              "of the VAE's latent, classifier-free guidance (CFG) and ours; in ours the jaw moves "
              "over the trial while the rest of the frame stays, the naive manipulation and CFG "
              "show little or mixed motion (frame strips and frame differences)")


def job_times(workdir) -> pd.DataFrame:
    """One row per finished job of the Snakemake run in ``workdir`` whose outputs still exist:
    rule, start, end (s).

    Read from Snakemake's per-output records (``.snakemake/metadata``: one file per output, its
    name the output path in URL-safe base64, split into folders when long; it holds the rule, the
    job hash and the start/end times). A job with several outputs is counted once (same rule, job
hash and end time; the earliest start); a record of an
    output deleted since (an earlier run) or of another layout is skipped.
    """
    workdir = Path(workdir)
    root = workdir / ".snakemake" / "metadata"
    rows = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            name = "".join(path.relative_to(root).parts)
            output = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
            if not (workdir / output).exists():
                continue
            rec = json.loads(path.read_text())
            key = (rec["rule"], rec["job_hash"], float(rec["endtime"]))
            # each output of a job records its own start, microseconds apart: keep the first
            rows[key] = min(rows.get(key, float("inf")), float(rec["starttime"]))
        except (ValueError, KeyError, TypeError, OSError):
            continue
    frame = pd.DataFrame([(rule, start, end) for (rule, _, end), start in sorted(rows.items())],
                         columns=["rule", "start", "end"])
    return frame[frame["end"] >= frame["start"]]


def job_usage(workdir) -> pd.DataFrame:
    """The usage line every job writes to its log (:func:`benediff.jobs.start`): rule, wall_s,
    cpu_s, peak_rss_mb; one row per log under ``workdir/logs``."""
    rows = []
    for path in sorted((Path(workdir) / "logs").glob("**/*.log")):
        try:
            usage = parse_usage(path.read_text(errors="replace"))
        except OSError:
            continue
        if usage is not None:
            rows.append(usage)
    return pd.DataFrame(rows, columns=["rule", "wall_s", "cpu_s", "peak_rss_mb"])


STAGE_NAMES = {"Snakefile": "config", "common": "config"}  # rules outside a stage's rules file


def stage_costs(jobs: pd.DataFrame, usage: pd.DataFrame, stages: dict) -> pd.DataFrame:
    """Cost per stage (``stages``: rule -> its rules file's name).

    ``jobs`` (Snakemake's records, :func:`job_times`) give every job's wall time; ``usage``
    (the jobs' own logs, :func:`job_usage`) gives the CPU time and peak memory of the jobs that
    measured them. Columns: jobs, wall_hours (summed over jobs), longest_min, measured (jobs with
    a usage line), cpu_hours (over those), peak_rss_gb.
    """
    jobs = jobs[jobs["rule"] != "all"].assign(wall=lambda f: f["end"] - f["start"])
    stages = {rule: STAGE_NAMES.get(stage, stage) for rule, stage in stages.items()}
    jobs = jobs.assign(stage=[stages.get(r, "other") for r in jobs["rule"]])
    usage = usage.assign(stage=[stages.get(r, "other") for r in usage["rule"]])
    out = jobs.groupby("stage", sort=False).agg(
        jobs=("rule", "size"), wall_hours=("wall", lambda s: s.sum() / 3600),
        longest_min=("wall", lambda s: s.max() / 60))
    measured = usage.groupby("stage").agg(measured=("rule", "size"),
                                          cpu_hours=("cpu_s", lambda s: s.sum() / 3600),
                                          peak_rss_gb=("peak_rss_mb", lambda s: s.max() / 1024))
    out = out.join(measured, how="left")
    out["measured"] = out["measured"].fillna(0).astype(int)
    order = ["config", "simulate", "widefield", "behavior", "dataset", "lvm", "video", "report", "other"]
    return out.loc[sorted(out.index, key=lambda s: order.index(s) if s in order else len(order))]


def cost_section(jobs: pd.DataFrame, usage: pd.DataFrame, stages: dict) -> list[str]:
    if jobs.empty:
        return []
    costs = stage_costs(jobs, usage, stages)
    span = (jobs["end"].max() - jobs["start"].min()) / 3600
    lines = ["## Cost of each stage", "",
             f"{int(costs['jobs'].sum())} jobs; first start to last end {span:.2f} h (a run "
             "split over several sessions counts the pauses). Wall-hours are summed over jobs; "
             "CPU-hours and peak memory are measured by the jobs themselves (`measured`: the "
             "job runs that did, including runs stopped part-way, whose checkpoints the next "
             "run resumes).", "",
             "| stage | jobs | wall-hours | CPU-hours | measured | peak RSS (GB) | longest job (min) |",
             "|---|---|---|---|---|---|---|"]
    for stage, r in costs.iterrows():
        cpu = "—" if pd.isna(r["cpu_hours"]) else f"{r['cpu_hours']:.2f}"
        rss = "—" if pd.isna(r["peak_rss_gb"]) else f"{r['peak_rss_gb']:.2f}"
        lines.append(f"| {stage} | {int(r['jobs'])} | {r['wall_hours']:.2f} | {cpu} | "
                     f"{int(r['measured'])} | {rss} | {r['longest_min']:.1f} |")
    return lines + [""]


def figure6_section(table: pd.DataFrame, region: str, factor: str) -> list[str]:
    """The paper's Figure 6 in words beside this run's scores for the figure's region × factor."""
    rows = table[(table["region"] == region) & (table["target"] == factor)]
    lines = [f"## Figure 6 ({region}, factor {factor})", "", f"The paper: {PAPER_FIG6}.", ""]
    if rows.empty:
        return lines + ["This run generated no videos for this region and factor.", ""]
    lines += ["This run (mean over its videos):", "",
              "| method | share of behaviour variance | lift over unguided | amplitude (× real) "
              "| realism (× floor) |", "|---|---|---|---|---|"]
    means = rows.groupby("method")[["specificity", "lift", "amplitude", "realism_ratio"]].mean()
    for method in [m for m in ("naive", "cfg", "ours", "ours_literal", "unguided", "real")
                   if m in means.index]:
        r = means.loc[method]
        lift = "—" if pd.isna(r["lift"]) else f"{r['lift']:.1f}"
        lines.append(f"| {method} | {100 * r['specificity']:.0f} % | {lift} | "
                     f"{r['amplitude']:.2f} | {r['realism_ratio']:.0f}× |")
    return lines + [""]


def per_factor_section(results) -> list[str]:
    """MIG per behaviour of ``ours`` beside the supervised linear decoder's, per fitted session ×
    region (mean over the seeds whose metrics.json has the per-behaviour gaps)."""
    rows = {}
    for path in sorted(Path(results).glob(f"lvm/*/*/{OURS}/seed*/metrics.json")):
        m = read_metrics(path)
        if "mig_per_factor" in m and "mig_decoder_per_factor" in m:
            rows.setdefault((m["session"], m["region"]), []).append(m)
    if not rows:
        return []
    names = list(next(iter(rows.values()))[0]["mig_per_factor"])
    lines = ["## MIG per behaviour: ours / the supervised linear decoder", "",
             "MIG is the mean over behaviours of the gap between the two codes that carry most "
             "information about the behaviour (÷ its entropy), in %. Mean over the seeds with "
             "these numbers.", "",
             "| session | region | seeds | " + " | ".join(names) + " | MIG |",
             "|---|---|---|" + "---|" * (len(names) + 1)]
    for (session, region), fits in rows.items():
        ours = {b: sum(f["mig_per_factor"][b] for f in fits) / len(fits) for b in names}
        dec = {b: sum(f["mig_decoder_per_factor"][b] for f in fits) / len(fits) for b in names}
        cells = [f"{ours[b]:.0f} / {dec[b]:.0f}" for b in names]
        total = (f"{sum(ours.values()) / len(names):.1f} / {sum(dec.values()) / len(names):.1f}")
        lines.append(f"| {session} | {region} | {len(fits)} | " + " | ".join(cells)
                     + f" | {total} |")
    return lines + [""]


def difference_section(claims, causes: list[dict]) -> list[str]:
    """One paragraph per cause (``report.causes``) that explains a failing claim, each followed
    by the claims it explains with their numbers; failing claims no cause matches come last."""
    failing = [(text, numbers) for text, ok, numbers in claims if not ok]
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
    parts = [f"# {title}", "", "Generated by the rule `results_ledger` from this run's tables; "
             "do not edit by hand.", ""]
    if note:
        parts += [note, ""]
    missing = [p for p in expected or [] if not (results.parent / p).exists()]
    if missing:
        parts += ["**A snapshot of a run in progress.** Not yet produced, so not in this ledger: "
                  + ", ".join(f"`{Path(p).name}`" for p in missing) + ".", ""]
    if workdir is not None and stages:
        parts += cost_section(job_times(workdir), job_usage(workdir), stages)
    for n in (1, 2, 3):
        path = results / "tables" / f"table{n}.csv"
        if path.exists():
            parts += [f"## Table {n}: ours (mean ± std over seeds), the paper's mean in brackets",
                      "", *table_section(n, pd.read_csv(path)), ""]
    spec = results / "tables" / "specificity.csv"
    if spec.exists() and figure6 is not None:
        parts += figure6_section(pd.read_csv(spec), *figure6)
    if spec.exists():
        parts += ["## Guided generation (the paper shows videos only; scores of this pipeline)",
                  "", "Per target: share of behaviour variance / lift over the unguided VDM / "
                  "amplitude (× real) / realism (× the real-vs-real floor).", "",
                  *specificity_section(pd.read_csv(spec)), ""]
    parts += per_factor_section(results)
    claims = check(results, control=control)
    held = sum(c[1] for c in claims)
    parts += [f"## The paper's claims on this run: {held} of {len(claims)} hold", "",
              "| | claim | numbers |", "|---|---|---|"]
    parts += [f"| {'holds' if ok else '**fails**'} | {text} | {numbers} |"
              for text, ok, numbers in claims]
    parts += [""] + difference_section(claims, causes or [])
    for section_title, path in include or []:
        parts += [f"# {section_title}", "", demote(Path(path).read_text()).strip(), ""]
    text = "\n".join(parts).rstrip("\n") + "\n"
    with atomic_output(out_md) as tmp:
        Path(tmp).write_text(text)
    return text
