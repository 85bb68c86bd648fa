"""The video claims on the specificity table, each with three outcomes.

:func:`video_claims` returns ``(text, outcome, numbers)`` with ``outcome`` one of
:data:`OUTCOMES`: ``holds`` when the claim is met at the pessimistic end of the rows' bootstrap
intervals, ``fails`` when it is missed even at their optimistic end, ``inconclusive`` otherwise.
A target counts as specific only under the score's full definition
(:mod:`benediff.video.specificity`: the largest lift, amplitude within bounds, fidelity to the
requested trajectory, spectrum in the real band): ``specific_lo`` for the count that must reach
the threshold, ``specific_hi`` for the count that can.

Demo (task-coupled behaviours) and control (independent behaviours, ``control=True``), per
guided method (``ours``; ``ours_literal`` reported):

* specific on ≥ 4 of the 6 targets (≥ 2/3 of the targets scored);
* target lift above CFG's on ≥ 4 of 6 (ours' lower bound above CFG's upper bound);
* realism: the guided videos' Fréchet distance ÷ the same-n real floor at most 2× the unguided
  VDM's on every target (guidance does not take the videos further from the data than the
  VDM they are sampled from);

and on the control only, where a target can move alone:

* target share ≥ 60 % on ≥ 4 of 6;
* realism ≤ 2× the same-n real floor on every target.
"""

import numpy as np
import pandas as pd

from benediff.claims import FAILS, HOLDS, INCONCLUSIVE, OUTCOMES  # noqa: F401 (OUTCOMES: API)
from benediff.video.methods import GUIDED

MIN_SHARE = 0.6  # control: the target's share of the behaviour variance
MAX_REALISM = 2.0  # × the floor (control) or × the unguided VDM's ratio


def outcome(sure: bool, possible: bool) -> str:
    """``holds`` if met at the pessimistic end, ``fails`` if not met even at the optimistic
    end, else ``inconclusive``."""
    if sure:
        return HOLDS
    return INCONCLUSIVE if possible else FAILS


def _rows(t: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per target of a method (the mean over regions when several are scored)."""
    rows = t[t["method"] == method]
    if rows.empty:
        return rows
    numeric = rows.groupby("target").mean(numeric_only=True)
    flags = [c for c in ("specific", "specific_lo", "specific_hi", "amplitude_ok", "fidelity_ok",
                         "spectrum_ok") if c in rows]
    for c in flags:  # a target passes when every region's row does
        numeric[c] = rows.groupby("target")[c].agg(lambda x: bool(x.astype(bool).all()))
    return numeric


def _count(flags) -> int:
    return int(np.asarray(flags, dtype=bool).sum())


def video_claims(table: pd.DataFrame, control: bool) -> list[tuple[str, str, str]]:
    """The claims above on a specificity table (``results/tables/specificity.csv``)."""
    out = []
    cfg, unguided = _rows(table, "cfg"), _rows(table, "unguided")
    for method in GUIDED:
        m = _rows(table, method)
        if m.empty:
            continue
        name = "ours" if method == "ours" else f"{method} (reported)"
        kind = "Video control" if control else "Video demo"
        n = len(m)
        need = int(np.ceil(2 * n / 3))
        sure, possible = _count(m["specific_lo"]), _count(m["specific_hi"])
        verdicts = ", ".join(
            f"{k} {_why(r)}" for k, r in m.iterrows())
        out.append((f"{kind}, {name}: specific on ≥ {need} of {n} behaviours (largest lift, "
                    "amplitude in bounds, follows the requested trajectory, real spectrum)",
                    outcome(sure >= need, possible >= need),
                    f"{sure} sure, {possible} possible; {verdicts}"))
        if not cfg.empty:
            c = cfg.reindex(m.index)
            above_sure = m["lift_lo"] > c["lift_hi"]
            above_possible = m["lift_hi"] > c["lift_lo"]
            out.append((f"{kind}, {name}: target lift above CFG's on ≥ {need} of {n}",
                        outcome(_count(above_sure) >= need, _count(above_possible) >= need),
                        f"{_count(above_sure)} sure, {_count(above_possible)} possible; "
                        + ", ".join(f"{k} {_ci(m.loc[k], 'lift')} vs {_ci(c.loc[k], 'lift')}"
                                    for k in m.index)))
        if not unguided.empty:
            u = unguided.reindex(m.index)
            sure = bool((m["realism_ratio_hi"] <= MAX_REALISM * u["realism_ratio_lo"]).all())
            possible = bool((m["realism_ratio_lo"] <= MAX_REALISM * u["realism_ratio_hi"]).all())
            out.append((f"{kind}, {name}: realism ≤ {MAX_REALISM:g}× the unguided VDM's on "
                        "every target (× the same-n real floor)", outcome(sure, possible),
                        ", ".join(f"{k} {_ci(m.loc[k], 'realism_ratio', 1)} vs "
                                  f"{_ci(u.loc[k], 'realism_ratio', 1)}" for k in m.index)))
        if control:
            share_sure = _count(m["specificity_lo"] >= MIN_SHARE)
            share_possible = _count(m["specificity_hi"] >= MIN_SHARE)
            out.append((f"{kind}, {name}: target share ≥ {100 * MIN_SHARE:.0f} % on ≥ {need} "
                        f"of {n}", outcome(share_sure >= need, share_possible >= need),
                        f"{share_sure} sure, {share_possible} possible; "
                        + ", ".join(f"{k} {_ci(m.loc[k], 'specificity', 0, 100)} %"
                                    for k in m.index)))
            out.append((f"{kind}, {name}: realism ≤ {MAX_REALISM:g}× the same-n real floor on "
                        "every target", outcome(bool((m["realism_ratio_hi"] <= MAX_REALISM).all()),
                                                bool((m["realism_ratio_lo"] <= MAX_REALISM).all())),
                        ", ".join(f"{k} {_ci(m.loc[k], 'realism_ratio', 1)}×" for k in m.index)))
    return out


def _ci(row, column: str, digits: int = 2, scale: float = 1.0) -> str:
    return (f"{scale * row[column]:.{digits}f} [{scale * row[f'{column}_lo']:.{digits}f}, "
            f"{scale * row[f'{column}_hi']:.{digits}f}]")


def _why(row) -> str:
    """'specific' or the conditions a target misses (at the estimate)."""
    if bool(row["specific_lo"]):
        return "specific"
    missed = [why for why, bad in (
        ("lift not largest", not row["lift_margin"] > 1),
        (f"amplitude {row['amplitude']:.2f}", not bool(row["amplitude_ok"])),
        (f"fidelity {row['fidelity']:.2f} (lo {row['fidelity_lo']:.2f})",
         not bool(row["fidelity_ok"])),
        (f"centroid {row['centroid']:.1f} Hz outside {row['band_lo']:.1f}–{row['band_hi']:.1f}",
         not bool(row["spectrum_ok"])),
    ) if bad]
    return ("not sure: " if not missed else "no: ") + ("; ".join(missed) or "an interval")
