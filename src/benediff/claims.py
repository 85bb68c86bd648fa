"""The paper's qualitative findings, claim by claim, on a finished run's tables.

Every claim has one of three outcomes (:data:`OUTCOMES`), decided over seeds:

- ``holds``: the effect is beyond two standard errors (SE = std / √n over run seeds, the two
  sides' SEs added in quadrature) *and*, for a MIG comparison, both models' MIGs are above
  their shuffled-trials floors by two SEs of (MIG − floor);
- ``fails``: the reverse effect is beyond two SEs (for a MIG comparison: with the model that
  wins above its floor: a model at its floor losing is a failure, not a tie);
- ``inconclusive``: anything else, including fewer than :data:`MIN_SEEDS` seeds (an SE from two
  seeds means nothing) or a side at its floor.

The claims are the paper's: Table 1 ours has the highest MIG of every baseline; Table 2 ours'
MIG above the standard VAE's and its R² within :data:`R2_COST_POINTS` points of the VAE's (the
paper's "well preserved" reconstruction: its Table 2 gaps are 4.1 and 7.6 points); Table 3 the
order ours > w/o Beha, ours > w/o TC, w/o Beha > VAE, w/o TC > VAE; Figure 4 single-mode (each
behaviour's own latent decodes it at R² ≥ :data:`FIG4_MIN_R2` % and decodes every other
behaviour below :data:`FIG4_OFF_FRACTION` of that). The shuffled floor, the labels' own MIG
(ceiling) and the supervised decoder are references shown with the numbers, never claims.
Video claims come from :mod:`benediff.video.claims`. Used by ``benchmarks/check_claims.py``, the
results ledger (:mod:`benediff.report`) and ``benchmarks/bench_specificity.py``.
"""

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml

OURS = "ours"
HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
OUTCOMES = (HOLDS, FAILS, INCONCLUSIVE)
MIN_SEEDS = 3          # fewer seeds: every claim is inconclusive
SE_MARGIN = 2.0        # an effect counts beyond this many standard errors
R2_COST_POINTS = 5.0   # "reconstruction well preserved": ours' R² at most this far below the VAE's
FIG4_MIN_R2 = 10.0     # Figure 4: a behaviour's own latent decodes it at least this well (R² %)
FIG4_OFF_FRACTION = 0.5  # ... and every other behaviour below this fraction of that
TABLE3_ORDER = ((OURS, "no_beha"), (OURS, "no_tc"), ("no_beha", "vae"), ("no_tc", "vae"))


class Claim(NamedTuple):
    text: str
    outcome: str  # one of OUTCOMES
    numbers: str


class Stat(NamedTuple):
    """A metric over seeds: mean, std (ddof 1) and number of seeds."""
    mean: float
    std: float
    n: int

    @property
    def se(self) -> float:
        return self.std / math.sqrt(self.n) if self.n > 0 else float("nan")

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.std:.1f}"


class Effect(NamedTuple):
    """``a − b − margin`` over seeds and its standard error (independent seeds, quadrature)."""
    value: float
    se: float
    n: int  # the smaller number of seeds

    @property
    def outcome(self) -> str:
        if self.n < MIN_SEEDS or not np.isfinite(self.value):
            return INCONCLUSIVE
        if self.value > SE_MARGIN * self.se:
            return HOLDS
        if self.value < -SE_MARGIN * self.se:
            return FAILS
        return INCONCLUSIVE

    def __str__(self) -> str:
        return f"{self.value:+.1f} ± {self.se:.1f} SE"


def effect(a: Stat, b: Stat, margin: float = 0.0) -> Effect:
    return Effect(a.mean - b.mean - margin, math.hypot(a.se, b.se), min(a.n, b.n))


def counts(claims) -> dict[str, int]:
    """How many claims have each outcome, in :data:`OUTCOMES` order."""
    return {o: sum(c[1] == o for c in claims) for o in OUTCOMES}


def counts_text(claims) -> str:
    c = counts(claims)
    return f"{c[HOLDS]} hold, {c[FAILS]} fail, {c[INCONCLUSIVE]} inconclusive"


def combine(outcomes) -> str:
    """All parts hold → holds; any part fails → fails; else inconclusive."""
    outcomes = list(outcomes)
    if outcomes and all(o == HOLDS for o in outcomes):
        return HOLDS
    return FAILS if FAILS in outcomes else INCONCLUSIVE


def stat(table: pd.DataFrame, group: str, key, model: str, metric: str) -> Stat | None:
    row = table[(table[group] == key) & (table["model"] == model) & (table["metric"] == metric)]
    if row.empty or not np.isfinite(float(row["mean"].iloc[0])):
        return None
    n = int(row["n_seeds"].iloc[0]) if "n_seeds" in row else 1
    return Stat(float(row["mean"].iloc[0]), float(row["std"].iloc[0]), n)


def fmt(value) -> str:
    return "n/a" if value is None else str(value)


def mig_comparison(t: pd.DataFrame, group: str, key, a: str, b: str) -> tuple[str, str] | None:
    """Outcome of "a's MIG above b's" and its numbers (see the module docstring)."""
    ma, mb = stat(t, group, key, a, "mig"), stat(t, group, key, b, "mig")
    if ma is None or mb is None:
        return None
    d = effect(ma, mb)
    above = {}
    for model, m in ((a, ma), (b, mb)):
        floor = stat(t, group, key, model, "mig_floor")
        above[model] = effect(m, floor) if floor is not None else None
    if None in above.values():  # no floor to read against: the comparison cannot be qualified
        outcome = INCONCLUSIVE
    elif d.outcome == HOLDS:
        outcome = HOLDS if all(e.outcome == HOLDS for e in above.values()) else INCONCLUSIVE
    elif d.outcome == FAILS:
        outcome = FAILS if above[b].outcome == HOLDS else INCONCLUSIVE
    else:
        outcome = d.outcome
    parts = [f"{a} {ma} vs {b} {mb}: {d}"]
    for model in (a, b):
        e = above[model]
        cal = stat(t, group, key, model, "mig_calibrated")
        parts.append(f"{model} − floor {'n/a' if e is None else e}"
                     + ("" if cal is None else f", calibrated {cal.mean:.2f}"))
    if d.n < MIN_SEEDS:
        parts.append(f"{d.n} seeds (< {MIN_SEEDS})")
    return outcome, "; ".join(parts)


def _baselines(t: pd.DataFrame) -> list[str]:
    """Models of a table other than ours, CEBRA's read-outs as one (its MIG is its embedding's)."""
    return list(dict.fromkeys(m.split(" (")[0] for m in t["model"] if m.split(" (")[0] != OURS))


def _model_in(t: pd.DataFrame, group, key, model: str) -> str | None:
    """The table's name for ``model`` (CEBRA: its first read-out row)."""
    names = [m for m in dict.fromkeys(t.loc[t[group] == key, "model"]) if m.split(" (")[0] == model]
    return names[0] if names else None


def table1_claims(t: pd.DataFrame) -> list[Claim]:
    out = []
    for region in dict.fromkeys(t["region"]):
        results = {}
        for base in _baselines(t):
            name = _model_in(t, "region", region, base)
            got = name and mig_comparison(t, "region", region, OURS, name)
            if got:
                results[base] = got
        if not results:
            continue
        outcome = combine(o for o, _ in results.values())
        numbers = " | ".join(f"vs {m}: {o} ({n})" for m, (o, n) in results.items())
        out.append(Claim(f"Table 1, {region}: ours has the highest MIG", outcome, numbers))
    return out


def table2_claims(t: pd.DataFrame) -> list[Claim]:
    out = []
    for session in dict.fromkeys(t["session"]):
        got = mig_comparison(t, "session", session, OURS, "vae")
        if got:
            out.append(Claim(f"Table 2, {session}: ours MIG above the standard VAE's", *got))
        out += r2_cost_claims(t, "session", session, "Table 2")
    return out


def r2_cost_claims(t: pd.DataFrame, group: str, key, name: str) -> list[Claim]:
    """Ours' R² at most :data:`R2_COST_POINTS` below the standard VAE's."""
    ours, vae = stat(t, group, key, OURS, "r2"), stat(t, group, key, "vae", "r2")
    if ours is None or vae is None:
        return []
    d = effect(ours, vae, -R2_COST_POINTS)  # ours − vae + 5 > 0
    return [Claim(f"{name}, {key}: ours' R² within {R2_COST_POINTS:g} points of the VAE's",
                  d.outcome, f"ours {ours} vs VAE {vae}: cost {vae.mean - ours.mean:.1f} points; "
                  f"margin to {R2_COST_POINTS:g} {d}")]


def table3_claims(t: pd.DataFrame) -> list[Claim]:
    out = []
    for region in dict.fromkeys(t["region"]):
        for a, b in TABLE3_ORDER:
            got = mig_comparison(t, "region", region, a, b)
            if got:
                out.append(Claim(f"Table 3, {region}: {a} MIG above {b}", *got))
    return out


def level_claims(tables: dict, minimum: float, metric: str = "mig") -> list[Claim]:
    """Every ``metric`` of ``ours`` (``mig`` in %, or ``mig_calibrated``, a fraction) reaches
    ``minimum`` (asked of the independent-behaviour control, where behaviours are identifiable)."""
    unit = " %" if metric == "mig" else ""
    label = "MIG" if metric == "mig" else "calibrated MIG"
    out = []
    for name, (t, group) in tables.items():
        for key in dict.fromkeys(t[group]):
            ours = stat(t, group, key, OURS, metric)
            if ours is not None:
                d = effect(ours, Stat(minimum, 0.0, ours.n))
                shown = f"{ours.mean:.2f} ± {ours.std:.2f}" if metric != "mig" else str(ours)
                out.append(Claim(f"{name}, {key}: ours' {label} ≥ {minimum:g}{unit}", d.outcome,
                                 f"{label} {shown}: {d.value:+.2f} ± {d.se:.2f} SE"))
    return out


def single_mode(decoding: np.ndarray, n_behaviors: int) -> tuple[np.ndarray, np.ndarray]:
    """Per behaviour b of one fit's D × B decoding matrix (R² %): (own R² − FIG4_MIN_R2,
    FIG4_OFF_FRACTION · own R² − the largest R² of latent b for another behaviour). Both > 0:
    latent b is single-mode for behaviour b."""
    dec = np.asarray(decoding, dtype=float)[:n_behaviors, :n_behaviors]
    own = np.diag(dec)
    off = np.where(np.eye(n_behaviors, dtype=bool), -np.inf, dec).max(axis=1)
    return own - FIG4_MIN_R2, FIG4_OFF_FRACTION * own - off


def fig4_claims(results: Path, config: dict) -> list[Claim]:
    lvm = config["lvm"]
    session = lvm["fig4"]["session"] or next(iter(config["sessions"]))
    region = lvm["fig4"]["region"]
    paths = [results / "lvm" / session / region / OURS / f"seed{s}" / "metrics.json"
             for s in lvm["seeds"]]
    paths = [p for p in paths if p.exists()]
    if not paths:
        return []
    behaviors = list(config["behaviors"])
    margins = np.array([single_mode(json.loads(p.read_text())["decoding"], len(behaviors))
                        for p in paths])  # (seeds, 2, B)
    n = len(paths)
    mean = margins.mean(axis=0)
    se = margins.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    per = []
    for b, name in enumerate(behaviors):
        parts = [Effect(mean[k, b], se[k, b], n).outcome for k in (0, 1)]
        per.append((name, combine(parts), mean[:, b]))
    outcome = combine(o for _, o, _ in per)
    tally = counts([(None, o) for _, o, _ in per])
    detail = ", ".join(f"{name} {o} (own {m[0] + FIG4_MIN_R2:.0f} %, margin to off-diagonal "
                       f"{m[1]:+.0f})" for name, o, m in per)
    return [Claim(f"Figure 4 ({session}, {region}): each latent decodes its own behaviour "
                  f"(R² ≥ {FIG4_MIN_R2:g} %) and every other below {FIG4_OFF_FRACTION:g}× that",
                  outcome, f"{tally[HOLDS]} of {len(behaviors)} hold, {tally[FAILS]} fail over "
                  f"{n} seeds: {detail}"
                  + ("" if n == len(lvm["seeds"]) else f"; {n} of {len(lvm['seeds'])} seeds fitted"))]


def check(results: Path, min_mig: float | None = None, control: bool = False,
          min_calibrated: float | None = None) -> list[Claim]:
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
    if min_mig is not None:
        claims += level_claims(tables, min_mig)
    if min_calibrated is not None:
        claims += level_claims(tables, min_calibrated, "mig_calibrated")
    resolved = results / "config.resolved.yaml"
    if resolved.exists():
        claims += fig4_claims(results, yaml.safe_load(resolved.read_text()))
    spec = results / "tables" / "specificity.csv"
    if spec.exists():
        from benediff.video.claims import video_claims

        claims += [Claim(*c) for c in video_claims(pd.read_csv(spec), control)]
    return claims
