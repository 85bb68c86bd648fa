"""The paper's qualitative findings, claim by claim, on a finished run's tables.

Each ``*_claims`` function returns ``(claim, holds, numbers)`` triples; :func:`check` runs every
claim that a run's ``results/`` folder has the tables for. Used by ``benchmarks/check_claims.py``
(the command line), ``benchmarks/bench_specificity.py`` and the results ledger
(:mod:`benediff.report`). The claims themselves are listed in ``benchmarks/check_claims.py``.
"""


import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

OURS = "ours"


def cell(table: pd.DataFrame, group: str, key: str, model: str, metric: str):
    row = table[(table[group] == key) & (table["model"] == model) & (table["metric"] == metric)]
    if row.empty:
        return None
    return float(row["mean"].iloc[0]), float(row["std"].iloc[0])


def fmt(value) -> str:
    return "n/a" if value is None else f"{value[0]:.1f} ± {value[1]:.1f}"


def table1_claims(t: pd.DataFrame) -> list[tuple[str, bool, str]]:
    out = []
    baselines = [m for m in dict.fromkeys(t["model"]) if m != OURS]
    for region in dict.fromkeys(t["region"]):
        ours = cell(t, "region", region, OURS, "mig")
        others = {m: cell(t, "region", region, m, "mig") for m in baselines}
        others = {m: v for m, v in others.items() if v is not None}
        if ours is None or not others:
            continue
        best = max(others, key=lambda m: others[m][0])
        ratio = ours[0] / others[best][0] if others[best][0] > 0 else float("inf")
        out.append((f"Table 1, {region}: ours has the highest MIG", ours[0] > others[best][0],
                    f"ours {fmt(ours)} vs best baseline {best} {fmt(others[best])} "
                    f"(× {ratio:.2f})"))
        r2 = {m: cell(t, "region", region, m, "r2") for m in baselines}
        low = {m: v for m, v in r2.items() if v is not None and v[0] < 50}
        out.append((f"Table 1, {region}: every baseline's R² ≥ 50 %", not low,
                    ", ".join(f"{m} {fmt(v)}" for m, v in r2.items() if v is not None)))
    return out


def table2_claims(t: pd.DataFrame) -> list[tuple[str, bool, str]]:
    out = []
    for session in dict.fromkeys(t["session"]):
        ours, vae = cell(t, "session", session, OURS, "mig"), cell(t, "session", session, "vae", "mig")
        if ours is None or vae is None:
            continue
        r2_ours, r2_vae = (cell(t, "session", session, m, "r2") for m in (OURS, "vae"))
        ratio = ours[0] / vae[0] if vae[0] > 0 else float("inf")
        separated = ours[0] - ours[1] > vae[0] + vae[1]
        loss = "" if None in (r2_ours, r2_vae) else f"; R² loss {r2_vae[0] - r2_ours[0]:.1f} points"
        out.append((f"Table 2, {session}: ours MIG above the standard VAE's", ours[0] > vae[0],
                    f"ours {fmt(ours)} vs VAE {fmt(vae)} (× {ratio:.2f}, beyond one std: "
                    f"{'yes' if separated else 'no'}){loss}"))
    return out


def table3_claims(t: pd.DataFrame) -> list[tuple[str, bool, str]]:
    out = []
    for region in dict.fromkeys(t["region"]):
        ours = cell(t, "region", region, OURS, "mig")
        for ablation in ("no_tc", "no_beha"):
            other = cell(t, "region", region, ablation, "mig")
            if ours is None or other is None:
                continue
            out.append((f"Table 3, {region}: ours MIG above {ablation}", ours[0] > other[0],
                        f"ours {fmt(ours)} vs {ablation} {fmt(other)}"))
    return out


# the references each MIG of ours is read against: (metric row, claim, how many times, name)
REFERENCES = (("mig_floor", "ours MIG ≥ 5× its shuffled floor", 5.0, "floor"),
              ("mig_decoder", "ours MIG ≥ the supervised decoder's", 1.0, "decoder"))


def reference_claims(tables: dict) -> list[tuple[str, bool, str]]:
    """``ours`` against its shuffled-trials floor (``mig_floor``: the same latents against other
    test trials' labels) and the MIG of a supervised linear decoder of the behaviours from the
    same region (``mig_decoder``: how much of what the data allow the latents separate)."""
    out = []
    for metric, claim, times, label in REFERENCES:
        for name, (t, group) in tables.items():
            if metric not in set(t["metric"]):
                continue
            for key in dict.fromkeys(t[group]):
                ours, ref = cell(t, group, key, OURS, "mig"), cell(t, group, key, OURS, metric)
                if ours is None or ref is None:
                    continue
                ratio = ours[0] / ref[0] if ref[0] > 0 else float("inf")
                out.append((f"{name}, {key}: {claim}", ratio >= times,
                            f"MIG {fmt(ours)} vs {label} {fmt(ref)} (× {ratio:.2f})"))
    return out


def level_claims(tables: dict, min_mig: float) -> list[tuple[str, bool, str]]:
    """Every MIG of ``ours`` reaches ``min_mig`` % (asked of the independent-behaviour control)."""
    out = []
    for name, (t, group) in tables.items():
        for key in dict.fromkeys(t[group]):
            ours = cell(t, group, key, OURS, "mig")
            if ours is not None:
                out.append((f"{name}, {key}: ours MIG ≥ {min_mig:g} %", ours[0] >= min_mig,
                            f"MIG {fmt(ours)}"))
    return out


def fig4_claims(results: Path, config: dict) -> list[tuple[str, bool, str]]:
    lvm = config["lvm"]
    session = lvm["fig4"]["session"] or next(iter(config["sessions"]))
    region = lvm["fig4"]["region"]
    paths = [results / "lvm" / session / region / OURS / f"seed{s}" / "metrics.json"
             for s in lvm["seeds"]]
    paths = [p for p in paths if p.exists()]
    if not paths:
        return []
    decoding = np.mean([json.loads(p.read_text())["decoding"] for p in paths], axis=0)
    behaviors = list(config["behaviors"])
    own = [b for i, b in enumerate(behaviors) if int(np.argmax(decoding[:, i])) == i]
    return [(f"Figure 4 ({session}, {region}): each behaviour decoded best by its own latent",
             len(own) == len(behaviors),
             f"{len(own)} of {len(behaviors)} ({', '.join(own) or 'none'}); own-latent R² "
             + ", ".join(f"{b} {decoding[i, i]:.0f} %" for i, b in enumerate(behaviors))
             + ("" if len(paths) == len(lvm["seeds"])
                else f"; {len(paths)} of {len(lvm['seeds'])} seeds fitted so far"))]


def _by_target(t: pd.DataFrame, method: str) -> pd.DataFrame:
    return t[t["method"] == method].groupby("target").mean(numeric_only=True)


def _count(flags: pd.Series) -> str:
    return f"{int(flags.sum())} of {len(flags)}"


def video_claims(t: pd.DataFrame, control: bool, methods=(OURS, "ours_literal")) -> list:
    """#17's acceptance on the specificity table (see the module docstring)."""
    out = []
    naive, cfg = _by_target(t, "naive"), _by_target(t, "cfg")
    for method in methods:
        m = _by_target(t, method)
        if m.empty:
            continue
        name = "ours" if method == OURS else f"{method} (reported)"
        need = min(4, len(m))
        if control:
            share = m["specificity"]
            beats = (share > naive["specificity"].reindex(m.index)) & (
                share > cfg["specificity"].reindex(m.index))
            shares = ", ".join(f"{k} {100 * v:.0f}" for k, v in share.items())
            out += [
                (f"Video control, {name}: target share ≥ 60 % on ≥ {need} behaviours",
                 int((share >= 0.6).sum()) >= need, f"{_count(share >= 0.6)}: {shares} %"),
                (f"Video control, {name}: share above naive and CFG on ≥ {need}",
                 int(beats.sum()) >= need, _count(beats)),
                (f"Video control, {name}: amplitude ≥ 0.5 on every target",
                 bool((m["amplitude"] >= 0.5).all()),
                 ", ".join(f"{k} {v:.2f}" for k, v in m["amplitude"].items())),
                (f"Video control, {name}: realism ≤ 2× the real-vs-real floor on every target",
                 bool((m["realism_ratio"] <= 2).all()),
                 ", ".join(f"{k} {v:.1f}×" for k, v in m["realism_ratio"].items())),
            ]
        else:
            rows = t[t["method"] == method]
            specific = rows["specific"].astype(float).groupby(rows["target"]).mean() >= 0.5
            above = m["lift"] > cfg["lift"].reindex(m.index)
            lifts = ", ".join(f"{k} {v:.2f}" for k, v in m["lift"].items())
            out += [
                (f"Video demo, {name}: specific by lift on ≥ {need} behaviours",
                 int(specific.sum()) >= need, f"{_count(specific)}; target lifts {lifts}"),
                (f"Video demo, {name}: target lift above CFG's on ≥ {need}",
                 int(above.sum()) >= need, f"{_count(above)}; CFG lifts "
                 + ", ".join(f"{k} {v:.2f}" for k, v in cfg["lift"].items())),
            ]
    if not naive.empty and not control:
        amp = naive["amplitude"]
        out.append(("Video demo: the naive baseline moves (target amplitude ≥ 0.3)",
                    bool((amp >= 0.3).all()), ", ".join(f"{k} {v:.2f}" for k, v in amp.items())))
    return out


def check(results: Path, min_mig: float | None = None,
          control: bool = False) -> list[tuple[str, bool, str]]:
    tables = {}
    for n, group in ((1, "region"), (2, "session"), (3, "region")):
        path = results / "tables" / f"table{n}.csv"
        if path.exists():
            tables[f"Table {n}"] = (pd.read_csv(path), group)
    claims = []
    for name, fn in (("Table 1", table1_claims), ("Table 2", table2_claims),
                     ("Table 3", table3_claims)):
        if name in tables:
            claims += fn(tables[name][0])
    claims += reference_claims(tables)
    if min_mig is not None:
        claims += level_claims(tables, min_mig)
    resolved = results / "config.resolved.yaml"
    if resolved.exists():
        claims += fig4_claims(results, yaml.safe_load(resolved.read_text()))
    spec = results / "tables" / "specificity.csv"
    if spec.exists():
        claims += video_claims(pd.read_csv(spec), control)
    return claims
