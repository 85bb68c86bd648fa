"""The results ledger on hand-made tables: the paper's numbers beside the run's, every claim."""

import pandas as pd

from benediff import report, report_cost
from test_claims import write
from test_video_claims import table as video_table


def video_rows():
    """Six targets of one region (tests/test_video_claims.py): ours specific on 4 of them
    for sure, 5 possibly; CFG never; the unguided VDM and real trials for reference."""
    return video_table(4, 5)


def test_ledger_puts_the_papers_means_beside_the_runs_and_lists_every_claim(tmp_path):
    write(tmp_path)
    video_rows().to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    text = report.write_ledger(tmp_path, tmp_path / "RESULTS.md", title="Demo", note="Simulated.")
    assert (tmp_path / "RESULTS.md").read_text() == text
    assert text.startswith("# Demo\n") and "Simulated." in text
    # Table 1, VIS_L: ours MIG 30 ± 2 beside the paper's 55.87, pi-VAE's 10 ± 1 beside 43.98
    assert "| VIS_L | MIG (%) | 30.0 ± 2.0 | 10.0 ± 1.0 | 5.0 ± 1.0 | 5.0 ± 1.0 |" in text
    assert "| VIS_L | MIG floor, trials shuffled (%) | 1.0 ± 0.2 | 2.0 ± 0.5 | 1.0 ± 0.2 |" in text
    # the paper's MIG goes beside the relative gap (the scale it is on), not beside Chen's MIG
    assert "| VIS_L | relative gap (%), not Chen's MIG | 40.0 ± 3.0 (55.9) | 20.0 ± 1.0 (44.0) |" in text
    assert "| VIS_L | RMSE |" not in text  # a metric the run's table lacks gets no row
    # Table 2 matches the paper's sessions by order: S1 -> session 1
    assert "| S1 | R² (%) | 75.0 ± 1.0 (73.7) | 90.0 ± 1.0 (77.8) |" in text
    assert "| Levers | 70 % / 6.0 / 1.00 / 0.80 / 10.0× / sure | 70 % / 2.0 / 1.00 / 0.80 / 10.0× / no |" in text
    assert "| Chest | 70 % / 6.0 / 1.00 / 0.80 / 10.0× / no |" in text
    from benediff import claims as claims_mod
    claims = claims_mod.check(tmp_path)
    assert "## The paper's claims on this run: " + claims_mod.counts_text(claims) in text
    assert all(c.text in text for c in claims)
    assert "| **fails** | Table 1, MOs_L: ours has the highest MIG |" in text


def test_paper_value_lookup():
    assert report.paper_value(1, "MOs_L", 1, "mig", "cebra (mlp)") == (37.94, 0.23)
    assert report.paper_value(2, "S9", 1, "r2", "vae") == (78.68, 0.21)  # second session
    assert report.paper_value(3, "SSp_L", 0, "mig", "ours") is None  # not in the paper
    assert report.paper_value(1, "VIS_L", 0, "mig_floor", "ours") is None


def test_a_job_logs_its_own_cpu_time_and_the_ledger_reads_it(tmp_path):
    """start() appends one usage line to the job's log when the script ends; a busy loop of
    ~0.3 CPU-s must show up as CPU time ≥ 0.2 s and wall ≥ CPU (one thread)."""
    import subprocess
    import sys
    log = tmp_path / "logs" / "lvm_fit" / "S1" / "seed0.log"
    log.parent.mkdir(parents=True)
    script = ("import time, types\nfrom benediff.jobs import start\n"
              f"start(types.SimpleNamespace(log=[{str(log)!r}], rule='lvm_fit'))\n"
              "t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    usage = report_cost.job_usage(tmp_path)
    assert list(usage["rule"]) == ["lvm_fit"]
    assert usage["cpu_s"].iloc[0] >= 0.2 and usage["wall_s"].iloc[0] >= usage["cpu_s"].iloc[0] - 0.1
    assert usage["peak_rss_mb"].iloc[0] > 10


def _record(root, output, rule, job, start, end):
    import base64
    import json
    name = base64.urlsafe_b64encode(output.encode()).decode()
    (root / name).write_text(json.dumps({"rule": rule, "job_hash": job, "starttime": start,
                                         "endtime": end, "record_format_version": 6}))


def test_stage_costs_by_hand(tmp_path):
    """Three jobs (one with two outputs, counted once), one record of a deleted output (an
    earlier run, skipped), one unreadable record; two jobs measured their CPU time."""
    import pandas as pd
    root = tmp_path / ".snakemake" / "metadata"
    root.mkdir(parents=True)
    for out in ("a.h5", "b.h5", "c.pt", "c.json", "not-json"):
        (tmp_path / out).write_text("x")
    _record(root, "a.h5", "simulate_session", 1, 0.0, 3600.0)
    _record(root, "b.h5", "lvm_fit", 2, 100.0, 1900.0)
    _record(root, "c.pt", "lvm_fit", 3, 200.0, 2000.0)
    # a job's outputs start microseconds and end milliseconds apart: still one job
    _record(root, "c.json", "lvm_fit", 3, 200.0001, 1999.996)
    _record(root, "gone.h5", "lvm_fit", 4, 0.0, 99999.0)
    (root / "bm90LWpzb24=").write_text("{not json")
    jobs = report_cost.job_times(tmp_path)
    assert sorted(jobs["rule"]) == ["lvm_fit", "lvm_fit", "simulate_session"]
    usage = pd.DataFrame([{"rule": "lvm_fit", "wall_s": 1800, "cpu_s": 1800, "peak_rss_mb": 512},
                          {"rule": "lvm_fit", "wall_s": 1800, "cpu_s": 900, "peak_rss_mb": 1024}])
    stages = {"simulate_session": "simulate", "lvm_fit": "lvm", "resolved_config": "Snakefile"}
    costs = report_cost.stage_costs(jobs, usage, stages)
    assert list(costs.index) == ["simulate", "lvm"]
    assert costs.loc["lvm", "jobs"] == 2 and costs.loc["lvm", "wall_hours"] == 1.0
    assert costs.loc["lvm", "cpu_hours"] == 0.75 and costs.loc["lvm", "measured"] == 2
    assert costs.loc["lvm", "peak_rss_gb"] == 1.0 and costs.loc["lvm", "longest_min"] == 30
    assert costs.loc["simulate", "measured"] == 0 and pd.isna(costs.loc["simulate", "cpu_hours"])
    text = "\n".join(report_cost.cost_section(jobs, usage, stages))
    assert "| lvm | 2 | 1.00 | 0.75 | 2 | 1.00 | 30.0 |" in text
    assert "| simulate | 1 | 1.00 | — | 0 | — | 60.0 |" in text
    assert "first start to last end 1.00 h" in text


def test_ledger_causes_figure6_and_an_included_run(tmp_path):
    write(tmp_path)
    table = video_rows()
    table.to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    other = tmp_path / "demo.md"
    other.write_text("# Demo\n\n## Table 1\n\nrow\n")
    causes = [{"claim": "ours has the highest mig", "cause": "pi-VAE's prior sees the labels."}]
    expected = [f"{tmp_path.name}/tables/table1.csv", f"{tmp_path.name}/tables/table9.csv"]
    text = report.write_ledger(tmp_path, tmp_path / "RESULTS.md", title="Study", causes=causes,
                               figure6=("R", "Jaw"), include=[("Demo run", other)],
                               expected=expected)
    assert "Not yet produced, so not in this ledger: `table9.csv`." in text
    # MOs_L: pi-VAE's 9 beats ours' 8, so that claim fails and gets its cause
    # one paragraph per cause, then the claims it explains; the rest under "not established"
    assert ("pi-VAE's prior sees the labels.\n\n- Table 1, MOs_L: ours has the highest MIG "
            "(fails): vs pivae: fails" in text)
    assert text.count("pi-VAE's prior sees the labels.") == 1
    rest = text.split("Cause not established (no `report.causes` entry):")[1]
    assert "- Table 3, VIS_L: ours MIG above no_tc (inconclusive):" in rest
    assert "MOs_L: ours has the highest MIG" not in rest
    assert "## Figure 6 (R, factor Jaw)" in text
    assert "| ours | 70 % | 6.0 | 1.00 | 0.80 | 10.0× | possible |" in text
    assert "| real | 70 % | 6.0 | 1.00 | 0.80 | 1.0× | — |" in text
    assert text.rstrip().endswith("# Demo run\n\n## Demo\n\n### Table 1\n\nrow")
    missing = report.figure6_section(table, "R", "Z")
    assert "no videos for this region and factor" in "\n".join(missing)


def test_per_behaviour_mig_of_ours_beside_the_decoders(tmp_path):
    import json
    for seed, (a, b) in enumerate(((10.0, 30.0), (20.0, 50.0))):
        fit = tmp_path / "lvm" / "S1" / "VIS_L" / "ours" / f"seed{seed}"
        fit.mkdir(parents=True)
        fit.joinpath("metrics.json").write_text(json.dumps({
            "session": "S1", "region": "VIS_L", "model": "ours", "run_seed": seed, "r2": 90,
            "rmse": 30, "mig": (a + b) / 2, "mig_per_factor": {"Levers": a, "Jaw": b},
            "mig_decoder_per_factor": {"Levers": 60.0, "Jaw": 40.0},
            "mig_ceiling_per_factor": {"Levers": 90.0, "Jaw": 70.0}}))
    old = tmp_path / "lvm" / "S1" / "VIS_L" / "ours" / "seed2"  # an older fit: no gaps, skipped
    old.mkdir()
    old.joinpath("metrics.json").write_text(json.dumps({
        "session": "S1", "region": "VIS_L", "model": "ours", "run_seed": 2, "r2": 90,
        "rmse": 30, "mig": 5.0}))
    text = "\n".join(report.per_factor_section(tmp_path))
    assert "| session | region | seeds | Levers | Jaw | MIG |" in text
    assert "| S1 | VIS_L | 2 | 15 / 60 / 90 | 40 / 40 / 70 | 27.5 / 50.0 / 80.0 |" in text


def test_a_snapshot_regenerates_the_runs_ledger_and_claims(tmp_path):
    """Results as data: the snapshot of a run (tables, resolved config, fits' metrics, job costs)
    gives the same ledger as the run itself, and a composed document puts later runs one heading
    level down; the tables of a ledger whose run is gone are recovered from its Markdown."""
    import yaml

    run = tmp_path / "run" / "results"
    write(run)
    config = yaml.safe_load((run / "config.resolved.yaml").read_text())
    config["report"] = {"title": "Hand-made run", "note": "Simulated by hand.", "causes": []}
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(config))
    jobs = pd.DataFrame({"rule": ["lvm_fit"], "start": [0.0], "end": [3600.0]})
    usage = pd.DataFrame({"rule": ["lvm_fit"], "wall_s": [3600], "cpu_s": [1800], "peak_rss_mb": [512]})
    report_cost.save_cost(run / report_cost.COST_DIR, jobs, usage, {"lvm_fit": "lvm"})
    direct = report.snapshot_ledger(run, tmp_path / "direct.md")
    files = report.snapshot(run, tmp_path / "snap")
    assert {f.name for f in files} >= {"table1.csv", "config.resolved.yaml", "metrics.json", "jobs.csv"}
    assert report.snapshot_ledger(tmp_path / "snap", tmp_path / "snap.md") == direct
    assert "| lvm | 1 | 1.00 | 0.50 | 1 | 0.50 | 60.0 |" in direct
    causes = [{"claim": "highest MIG", "cause": "A cause given at ledger time."}]
    text = report.compose([tmp_path / "snap", run], tmp_path / "all.md", preamble="Two runs.",
                          causes=causes)
    assert text.startswith("# Hand-made run\n\nTwo runs.\n\n")
    assert "\n## Hand-made run\n" in text and "\n### Table 1: ours" in text
    assert text.count("A cause given at ledger time.") == 2
    recovered = report.tables_from_ledger(direct, n_seeds=5)
    original = pd.read_csv(run / "tables" / "table1.csv")
    merged = original.merge(recovered[1], on=["region", "metric", "model"], suffixes=("", "_md"))
    shown = merged["metric"].isin(report.METRICS)
    assert shown.sum() == len(recovered[1]) > 0
    assert (merged["mean"] - merged["mean_md"]).abs().max() < 0.051
    assert set(recovered) == {1, 2, 3} and (recovered[2]["n_seeds"] == 5).all()
    assert report.main(["snapshot", str(tmp_path / "nothing"), str(tmp_path / "x")]) == 2
