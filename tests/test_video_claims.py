"""The video claims (three outcomes) on hand-made specificity tables, and their reporter."""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from benediff.video import claims as vclaims

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Chest"]


def row(method, target, *, specific=(True, True, True), lift=(6.0, 5.0, 7.0),
        realism=(10.0, 8.0, 12.0), share=(0.7, 0.65, 0.75)):
    """One table row; ``specific`` = (estimate, pessimistic, optimistic); scores as
    (value, lo, hi)."""
    scored = method not in ("unguided", "real")
    flag = (lambda v: v) if scored else (lambda v: None)
    return {"region": "R", "method": method, "target": target, "n_videos": 10,
            "specificity": share[0], "specificity_lo": share[1], "specificity_hi": share[2],
            "lift": lift[0], "lift_lo": lift[1], "lift_hi": lift[2], "lift_margin": 2.0,
            "amplitude": 1.0, "amplitude_lo": 0.8, "amplitude_hi": 1.2, "amplitude_ok": flag(True),
            "fidelity": 0.8, "fidelity_lo": 0.7, "fidelity_hi": 0.9, "fidelity_ok": flag(True),
            "centroid": 1.0, "centroid_lo": 0.9, "centroid_hi": 1.1, "band_lo": 0.5, "band_hi": 2.0,
            "spectrum_ok": flag(True), "realism_ratio": realism[0],
            "realism_ratio_lo": realism[1], "realism_ratio_hi": realism[2],
            "specific": flag(specific[0]), "specific_lo": flag(specific[1]),
            "specific_hi": flag(specific[2])}


def table(n_sure=6, n_possible=6, cfg_lift=(2.0, 1.5, 2.5), ours_realism=(10.0, 8.0, 12.0)):
    rows = []
    for k, t in enumerate(TARGETS):
        rows.append(row("ours", t, specific=(k < n_sure, k < n_sure, k < n_possible),
                        realism=ours_realism))
        rows.append(row("cfg", t, specific=(False, False, False), lift=cfg_lift))
        rows.append(row("unguided", t, realism=(9.0, 7.0, 11.0)))
        rows.append(row("real", t, realism=(1.0, 0.7, 1.3)))
    return pd.DataFrame(rows)


def outcomes(t, control=False) -> dict:
    return {text.split(": ", 1)[1].split(" (")[0]: result
            for text, result, _ in vclaims.video_claims(t, control)}


def test_outcome_is_holds_fails_or_inconclusive():
    assert vclaims.outcome(True, True) == "holds"
    assert vclaims.outcome(False, True) == "inconclusive"
    assert vclaims.outcome(False, False) == "fails"


def test_specific_count_uses_both_ends_of_the_intervals():
    assert outcomes(table(6, 6))["specific on ≥ 4 of 6 behaviours"] == "holds"
    assert outcomes(table(4, 4))["specific on ≥ 4 of 6 behaviours"] == "holds"
    assert outcomes(table(2, 5))["specific on ≥ 4 of 6 behaviours"] == "inconclusive"
    assert outcomes(table(2, 3))["specific on ≥ 4 of 6 behaviours"] == "fails"


def test_lift_above_cfg_needs_separated_intervals():
    assert outcomes(table())["target lift above CFG's on ≥ 4 of 6"] == "holds"
    overlapping = table(cfg_lift=(5.5, 4.0, 6.5))  # ours 6 [5, 7]
    assert outcomes(overlapping)["target lift above CFG's on ≥ 4 of 6"] == "inconclusive"
    above = table(cfg_lift=(9.0, 8.0, 10.0))
    assert outcomes(above)["target lift above CFG's on ≥ 4 of 6"] == "fails"


def test_realism_against_the_unguided_vdm():
    key = "realism ≤ 2× the unguided VDM's on every target"
    assert outcomes(table())[key] == "holds"  # 12 ≤ 2 × 7
    assert outcomes(table(ours_realism=(15.0, 10.0, 20.0)))[key] == "inconclusive"
    assert outcomes(table(ours_realism=(40.0, 30.0, 50.0)))[key] == "fails"  # 30 > 2 × 11


def test_control_claims_and_no_naive_claim():
    t = table()
    control = outcomes(t, control=True)
    assert control["target share ≥ 60 % on ≥ 4 of 6"] == "holds"  # lo 0.65
    assert control["realism ≤ 2× the same-n real floor on every target"] == "fails"  # lo 8
    low = t.assign(specificity_lo=0.5)
    assert outcomes(low, control=True)["target share ≥ 60 % on ≥ 4 of 6"] == "inconclusive"
    texts = [c[0] for c in vclaims.video_claims(t, control=False)]
    assert not any("naive" in text for text in texts)
    assert all(c[1] in vclaims.OUTCOMES for c in vclaims.video_claims(t, control=True))


def test_a_literal_row_is_reported_under_its_own_name():
    t = pd.concat([table(), table().query("method == 'ours'").assign(method="ours_literal")])
    texts = [c[0] for c in vclaims.video_claims(t, control=False)]
    assert any(text.startswith("Video demo, ours_literal (reported): specific") for text in texts)


def test_bench_specificity_reports_a_tables_claims(tmp_path, capsys):
    spec_b = importlib.util.spec_from_file_location("bench_specificity",
                                                    ROOT / "benchmarks" / "bench_specificity.py")
    bench = importlib.util.module_from_spec(spec_b)
    spec_b.loader.exec_module(bench)
    (tmp_path / "tables").mkdir()
    table(2, 5).to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    (tmp_path / "tables" / "specificity.csv.json").write_text(json.dumps(
        {"extractor": "regressor", "regressor": "mlp", "regressor_r2_test": {"Levers": 0.9}}))
    assert bench.main(["--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fidelity: Pearson r" in out and "inconclusive  Video demo, ours: specific" in out
    assert "| Levers | yes (sure) |" in out and "| Paw-y | no: interval (possible) |" in out
    assert "video claims: 2 holds, 0 fails, 1 inconclusive" in out


@pytest.mark.parametrize("missing", ["specific_lo", "lift_hi"])
def test_an_old_table_is_an_error_not_a_pass(missing):
    with pytest.raises(KeyError):
        vclaims.video_claims(table().drop(columns=missing), control=False)
