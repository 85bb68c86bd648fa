"""benchmarks/check_claims.py on hand-made tables whose verdicts are known."""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_claims", ROOT / "benchmarks" / "check_claims.py")
claims = importlib.util.module_from_spec(spec)
spec.loader.exec_module(claims)


def rows(group, key, model, **metrics):
    return [{group: key, "metric": m, "model": model, "mean": v[0], "std": v[1], "n_seeds": 2}
            for m, v in metrics.items()]


def write(results: Path):
    (results / "tables").mkdir(parents=True)
    t1 = (rows("region", "VIS_L", "ours", r2=(80, 1), mig=(30, 2), mig_floor=(1, 0.2),
               mig_decoder=(20, 0))
          + rows("region", "VIS_L", "pivae", r2=(70, 1), mig=(10, 1))
          + rows("region", "VIS_L", "ssl", r2=(40, 1), mig=(5, 1))          # R² below 50
          + rows("region", "MOs_L", "ours", r2=(80, 1), mig=(8, 2), mig_floor=(4, 1),
                 mig_decoder=(10, 0))
          + rows("region", "MOs_L", "pivae", r2=(70, 1), mig=(9, 1)))       # pi-VAE wins
    t2 = (rows("session", "S1", "ours", r2=(75, 1), mig=(20, 2))
          + rows("session", "S1", "vae", r2=(90, 1), mig=(5, 1)))
    t3 = (rows("region", "VIS_L", "ours", mig=(30, 2)) + rows("region", "VIS_L", "no_tc", mig=(31, 2))
          + rows("region", "VIS_L", "no_beha", mig=(3, 1)))
    for n, t in ((1, t1), (2, t2), (3, t3)):
        pd.DataFrame(t).to_csv(results / "tables" / f"table{n}.csv", index=False)
    config = {"sessions": {"S1": {}}, "behaviors": ["a", "b", "c"], "regions": ["VIS_L"],
              "lvm": {"seeds": [0], "fig4": {"session": "", "region": "VIS_L"}}}
    (results / "config.resolved.yaml").write_text(yaml.safe_dump(config))
    fit = results / "lvm" / "S1" / "VIS_L" / "ours" / "seed0"
    fit.mkdir(parents=True)
    # latent 2 decodes behaviour b better than latent 1: 2 of 3 behaviours on their own latent
    (fit / "metrics.json").write_text(json.dumps({
        "session": "S1", "region": "VIS_L", "model": "ours", "run_seed": 0, "r2": 80, "rmse": 40,
        "mig": 30, "decoding": [[50, 0, 0], [0, 10, 0], [0, 40, 60]]}))


def test_verdicts_match_the_hand_made_tables(tmp_path, capsys):
    write(tmp_path)
    verdicts = {text: holds for text, holds, _ in claims.check(tmp_path)}
    assert verdicts["Table 1, VIS_L: ours has the highest MIG"] is True
    assert verdicts["Table 1, MOs_L: ours has the highest MIG"] is False
    assert verdicts["Table 1, VIS_L: every baseline's R² ≥ 50 %"] is False
    assert verdicts["Table 2, S1: ours MIG above the standard VAE's"] is True
    assert verdicts["Table 3, VIS_L: ours MIG above no_tc"] is False
    assert verdicts["Table 3, VIS_L: ours MIG above no_beha"] is True
    assert verdicts["Table 1, VIS_L: ours MIG ≥ 5× its shuffled floor"] is True
    assert verdicts["Table 1, MOs_L: ours MIG ≥ 5× its shuffled floor"] is False
    assert verdicts["Table 1, VIS_L: ours MIG ≥ the supervised decoder's"] is True   # 30 vs 20
    assert verdicts["Table 1, MOs_L: ours MIG ≥ the supervised decoder's"] is False  # 8 vs 10
    fig4 = [k for k in verdicts if k.startswith("Figure 4")]
    assert len(fig4) == 1 and verdicts[fig4[0]] is False
    assert claims.main(["--results", str(tmp_path), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "2 of 3 (a, c)" in out and "(× 3.00)" in out and "R² loss 15.0 points" in out


def test_min_mig_claims_only_when_asked(tmp_path):
    write(tmp_path)
    assert not any("ours MIG ≥ 30 %" in text for text, _, _ in claims.check(tmp_path))
    verdicts = {text: holds for text, holds, _ in claims.check(tmp_path, min_mig=30)}
    assert verdicts["Table 1, VIS_L: ours MIG ≥ 30 %"] is True     # 30 reaches 30
    assert verdicts["Table 1, MOs_L: ours MIG ≥ 30 %"] is False    # 8
    assert verdicts["Table 2, S1: ours MIG ≥ 30 %"] is False       # 20


def video_rows():
    """Two targets; ours is specific on A only, the naive baseline is static."""
    def row(method, target, share, lift, specific, amplitude, realism_ratio):
        return {"region": "R", "method": method, "target": target, "specificity": share,
                "lift": lift, "specific": specific, "amplitude": amplitude,
                "realism_ratio": realism_ratio}
    return pd.DataFrame([
        row("ours", "A", 0.7, 3.0, True, 0.8, 1.5), row("ours", "B", 0.5, 1.2, False, 0.4, 2.5),
        row("naive", "A", 0.9, 0.01, False, 0.05, 9.0), row("naive", "B", 0.2, 0.01, False, 0.6, 9.0),
        row("cfg", "A", 0.3, 1.1, False, 0.9, 1.2), row("cfg", "B", 0.3, 1.5, True, 0.9, 1.2),
        row("unguided", "A", 0.3, float("nan"), None, 1.0, 1.1),
    ])


def test_video_claims_on_a_hand_made_table():
    demo = {text: (holds, numbers) for text, holds, numbers in
            claims.video_claims(video_rows(), control=False)}
    assert demo["Video demo, ours: specific by lift on ≥ 2 behaviours"][0] is False  # 1 of 2
    assert demo["Video demo, ours: target lift above CFG's on ≥ 2"][0] is False       # A yes, B no
    assert demo["Video demo: the naive baseline moves (target amplitude ≥ 0.3)"][0] is False
    control = {text: holds for text, holds, _ in claims.video_claims(video_rows(), control=True)}
    assert control["Video control, ours: target share ≥ 60 % on ≥ 2 behaviours"] is False
    assert control["Video control, ours: share above naive and CFG on ≥ 2"] is False  # naive wins A
    assert control["Video control, ours: amplitude ≥ 0.5 on every target"] is False
    assert control["Video control, ours: realism ≤ 2× the real-vs-real floor on every target"] is False
    good = video_rows()
    good.loc[good["method"] == "ours", ["specificity", "amplitude", "realism_ratio"]] = [0.95, 1.0, 1.1]
    control = {text: holds for text, holds, _ in claims.video_claims(good, control=True)}
    assert all(control.values())


def test_bench_specificity_reports_a_tables_claims(tmp_path, capsys):
    spec_b = importlib.util.spec_from_file_location("bench_specificity",
                                                    ROOT / "benchmarks" / "bench_specificity.py")
    bench = importlib.util.module_from_spec(spec_b)
    spec_b.loader.exec_module(bench)
    (tmp_path / "tables").mkdir()
    table = video_rows().assign(n_videos=4, realism=1.0, realism_floor=0.5, specificity_std=0.1)
    table.to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    (tmp_path / "tables" / "specificity.csv.json").write_text(json.dumps({"extractor": "regressor"}))
    assert bench.main(["--preset", "control", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| A | 70.0 ± 10.0 | 90.0 ± 10.0 | 30.0 ± 10.0 | 30.0 ± 10.0 |" in out
    assert "0 of 4 video claims hold" in out
    assert bench.main(["--results", str(tmp_path / "nothing")]) == 2


def test_figure4_says_when_not_every_seed_is_fitted(tmp_path):
    """A run reported part-way: the Fig 4 claim averages the fitted seeds and says how many."""
    write(tmp_path)
    config = yaml.safe_load((tmp_path / "config.resolved.yaml").read_text())
    config["lvm"]["seeds"] = [0, 1, 2]
    (tmp_path / "config.resolved.yaml").write_text(yaml.safe_dump(config))
    (text, _, numbers), = [c for c in claims.check(tmp_path) if c[0].startswith("Figure 4")]
    assert numbers.endswith("; 1 of 3 seeds fitted so far")
