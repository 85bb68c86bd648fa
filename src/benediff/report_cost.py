"""The cost of a run, for the results ledger: every job's wall time from Snakemake's records,
the CPU time and peak memory each job measured itself (its log's usage line), summed per stage
(:func:`cost_section`), and saved beside a snapshot of the run (:func:`save_cost`)."""

import base64
import json
from pathlib import Path

import pandas as pd

from benediff.io.atomic import atomic_output
from benediff.jobs import parse_usage

COST_DIR = "cost"  # under results/: the jobs' times, usage lines and rule -> stage map


def job_times(workdir) -> pd.DataFrame:
    """One row per finished job of the Snakemake run in ``workdir`` whose outputs still exist:
    rule, start, end (s).

    Read from Snakemake's per-output records (``.snakemake/metadata``: one file per output, its
    name the output path in URL-safe base64, split into folders when long; it holds the rule, the
    job hash and the start/end times). A job with several outputs is counted once (same rule and
    job hash; its outputs' end times differ by milliseconds), from its earliest start to its
    latest end; a record of an output deleted since (an earlier run) or of another layout is
    skipped.
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
            key = (rec["rule"], rec["job_hash"])
            # each output of a job records its own start and end, milliseconds apart (the end is
            # when that output was done): one job, from its first start to its last end
            start, end = rows.get(key, (float("inf"), float("-inf")))
            rows[key] = (min(start, float(rec["starttime"])), max(end, float(rec["endtime"])))
        except (ValueError, KeyError, TypeError, OSError):
            continue
    frame = pd.DataFrame([(rule, start, end) for (rule, _), (start, end) in sorted(rows.items())],
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


def save_cost(folder, jobs: pd.DataFrame, usage: pd.DataFrame, stages: dict) -> None:
    """The inputs of :func:`cost_section` as files (``jobs.csv``, ``usage.csv``,
    ``stages.json``), so a snapshot of the run keeps its cost."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("jobs.csv", jobs), ("usage.csv", usage)):
        with atomic_output(folder / name) as tmp:
            frame.to_csv(tmp, index=False)
    with atomic_output(folder / "stages.json") as tmp:
        Path(tmp).write_text(json.dumps(stages, indent=1, sort_keys=True))


def load_cost(folder):
    """(jobs, usage, stages) saved by :func:`save_cost`, or None."""
    folder = Path(folder)
    if not (folder / "jobs.csv").exists():
        return None
    return (pd.read_csv(folder / "jobs.csv"), pd.read_csv(folder / "usage.csv"),
            json.loads((folder / "stages.json").read_text()))
