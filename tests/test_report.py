"""The results ledger on hand-made tables: the paper's numbers beside the run's, every claim."""

from benediff import report
from test_claims import video_rows, write


def test_ledger_puts_the_papers_means_beside_the_runs_and_lists_every_claim(tmp_path):
    write(tmp_path)
    table = video_rows().assign(n_videos=3, realism=1.0, realism_floor=0.5, specificity_std=0.1)
    table.to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    text = report.write_ledger(tmp_path, tmp_path / "RESULTS.md", title="Demo", note="Simulated.")
    assert (tmp_path / "RESULTS.md").read_text() == text
    assert text.startswith("# Demo\n") and "Simulated." in text
    # Table 1, VIS_L: ours MIG 30 ± 2 beside the paper's 55.87, pi-VAE's 10 ± 1 beside 43.98
    assert "| VIS_L | MIG (%) | 30.0 ± 2.0 (55.9) | 10.0 ± 1.0 (44.0) | 5.0 ± 1.0 (37.5) |" in text
    assert "| VIS_L | MIG, trials shuffled (%) | 1.0 ± 0.2 | — | — |" in text
    assert "| VIS_L | RMSE |" not in text  # a metric the run's table lacks gets no row
    # Table 2 matches the paper's sessions by order: S1 -> session 1
    assert "| S1 | MIG (%) | 20.0 ± 2.0 (56.4) | 5.0 ± 1.0 (34.6) |" in text
    assert "| A | 70 % / 3.0 / 0.80 / 2× |" in text
    from benediff.claims import check
    claims = check(tmp_path)
    assert f"{sum(c[1] for c in claims)} of {len(claims)} hold" in text
    assert all(c[0] in text for c in claims)


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
    usage = report.job_usage(tmp_path)
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
    _record(root, "c.json", "lvm_fit", 3, 200.0001, 2000.0)  # outputs start microseconds apart
    _record(root, "gone.h5", "lvm_fit", 4, 0.0, 99999.0)
    (root / "bm90LWpzb24=").write_text("{not json")
    jobs = report.job_times(tmp_path)
    assert sorted(jobs["rule"]) == ["lvm_fit", "lvm_fit", "simulate_session"]
    usage = pd.DataFrame([{"rule": "lvm_fit", "wall_s": 1800, "cpu_s": 1800, "peak_rss_mb": 512},
                          {"rule": "lvm_fit", "wall_s": 1800, "cpu_s": 900, "peak_rss_mb": 1024}])
    stages = {"simulate_session": "simulate", "lvm_fit": "lvm", "resolved_config": "Snakefile"}
    costs = report.stage_costs(jobs, usage, stages)
    assert list(costs.index) == ["simulate", "lvm"]
    assert costs.loc["lvm", "jobs"] == 2 and costs.loc["lvm", "wall_hours"] == 1.0
    assert costs.loc["lvm", "cpu_hours"] == 0.75 and costs.loc["lvm", "measured"] == 2
    assert costs.loc["lvm", "peak_rss_gb"] == 1.0 and costs.loc["lvm", "longest_min"] == 30
    assert costs.loc["simulate", "measured"] == 0 and pd.isna(costs.loc["simulate", "cpu_hours"])
    text = "\n".join(report.cost_section(jobs, usage, stages))
    assert "| lvm | 2 | 1.00 | 0.75 | 2 | 1.00 | 30.0 |" in text
    assert "| simulate | 1 | 1.00 | — | 0 | — | 60.0 |" in text
    assert "first start to last end 1.00 h" in text


def test_ledger_causes_figure6_and_an_included_run(tmp_path):
    write(tmp_path)
    table = video_rows().assign(n_videos=3, realism=1.0, realism_floor=0.5, specificity_std=0.1)
    table.to_csv(tmp_path / "tables" / "specificity.csv", index=False)
    other = tmp_path / "demo.md"
    other.write_text("# Demo\n\n## Table 1\n\nrow\n")
    causes = [{"claim": "ours has the highest mig", "cause": "pi-VAE's prior sees the labels."}]
    expected = [f"{tmp_path.name}/tables/table1.csv", f"{tmp_path.name}/tables/table9.csv"]
    text = report.write_ledger(tmp_path, tmp_path / "RESULTS.md", title="Study", causes=causes,
                               figure6=("R", "A"), include=[("Demo run", other)],
                               expected=expected)
    assert "Not yet produced, so not in this ledger: `table9.csv`." in text
    # MOs_L: pi-VAE's 9 beats ours' 8, so that claim fails and gets its cause
    # one paragraph per cause, then the claims it explains; the rest under "not established"
    assert "pi-VAE's prior sees the labels.\n\n- Table 1, MOs_L: ours has the highest MIG: ours" in text
    assert text.count("pi-VAE's prior sees the labels.") == 1
    rest = text.split("Cause not established (no `report.causes` entry):")[1]
    assert "- Table 3, VIS_L: ours MIG above no_tc:" in rest and "highest MIG" not in rest
    assert "## Figure 6 (R, factor A)" in text and "| ours | 70 % | 3.0 | 0.80 | 2× |" in text
    assert "| naive | 90 % | 0.0 | 0.05 | 9× |" in text
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
            "mig_decoder_per_factor": {"Levers": 60.0, "Jaw": 40.0}}))
    old = tmp_path / "lvm" / "S1" / "VIS_L" / "ours" / "seed2"  # an older fit: no gaps, skipped
    old.mkdir()
    old.joinpath("metrics.json").write_text(json.dumps({
        "session": "S1", "region": "VIS_L", "model": "ours", "run_seed": 2, "r2": 90,
        "rmse": 30, "mig": 5.0}))
    text = "\n".join(report.per_factor_section(tmp_path))
    assert "| session | region | seeds | Levers | Jaw | MIG |" in text
    assert "| S1 | VIS_L | 2 | 15 / 60 | 40 / 40 | 27.5 / 50.0 |" in text
