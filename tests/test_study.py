"""The paper-scale study configs plan what the issue asks, so they cannot rot unnoticed (their
runs take CPU-hours: docs/RESULTS.md and the Makefile's `study` targets)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TABLES = ["results/tables/table1.csv", "results/tables/table2.csv", "results/tables/table3.csv"]


def planned(workdir, configs, targets=()) -> dict[str, int]:
    cmd = [str(SNAKEMAKE), "-n", "--quiet", "rules", "--snakefile",
           str(ROOT / "workflow" / "Snakefile"), "--directory", str(workdir),
           "--configfile", *map(str, configs), "--", *targets]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = (run.stdout + run.stderr).split("Job stats:")[1].split("total")[0]
    rows = [line.split() for line in stats.splitlines()[3:] if line.strip()]
    return {name: int(count) for name, count in rows}


def test_study_plans_every_model_of_tables_1_to_3_at_five_seeds(tmp_path):
    jobs = planned(tmp_path, [ROOT / "config" / "study.yaml"])
    # Table 1: 2 regions x (ssl, cebra, pivae, ours); Table 3 adds vae, no_beha, no_tc; Table 2:
    # VIS_R x 2 sessions x (vae, ours); Figs 4, 5, 7, 12 add the other regions' fits; x 5 seeds
    assert jobs["lvm_fit"] == 93 and jobs["lvm_table"] == 3
    assert jobs["simulate_session"] == 2 and jobs["train_vdm"] == 1
    # 40 generation jobs before: the unguided reference of the scored region is one job for its 6 factors
    assert jobs["generate"] == 34 and jobs["generate_unguided"] == 1
    assert "widefield_locanmf" in jobs  # the QC of the movie; the LVM reads the planted truth


def test_locanmf_variant_runs_the_whole_chain(tmp_path):
    jobs = planned(tmp_path, [ROOT / "config" / "study_locanmf.yaml"], TABLES)
    assert jobs["widefield_locanmf"] == 2 and jobs["widefield_neural"] == 2
    assert jobs["lvm_fit"] == 54  # Tables 1-3 at 3 seeds


def test_a_study_in_parts_reports_without_rerunning(tmp_path):
    """`make results-parts`: this part's snapshot waits for no fit, and includes the earlier
    parts' ledgers, which are in the repository (docs/study/)."""
    configs = [ROOT / "config" / f for f in ("study.yaml", "causes.yaml", "partial.yaml",
                                             "study_parts.yaml")]
    (tmp_path / "run").mkdir()
    # the include path is relative to the run directory (runs/study -> ../../docs/study/...)
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    jobs = planned(tmp_path / "run" / "study", configs, ["results/RESULTS.md"])
    assert jobs == {"resolved_config": 1, "results_ledger": 1}
