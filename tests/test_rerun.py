"""After a finished (small) run, an edit reruns exactly what reads the edited key.

One simulated session of the tiny config, built to Figure 1B, Table 2 and Figures 4 and 5;
then ``snakemake -n`` with one key changed in a config layered last. The planned job counts
are written to ``rerun_counts.json`` in the run directory (and printed with ``pytest -s``).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benediff.testing.dag import job_counts

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY = ROOT / ".test" / "config" / "config.yaml"
TARGETS = ["results/figures/fig1b.pdf", "results/tables/table2.csv", "results/figures/fig4.pdf",
           "results/figures/fig5.pdf"]

pytestmark = pytest.mark.e2e


def snakemake(workdir, *args, configs=()):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(workdir / "base.yaml"),
           *map(str, configs), *args, "--", *TARGETS]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1500)




@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("rerun")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["sessions"] = {"S1": cfg["sessions"]["S1"]}
    (workdir / "base.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(workdir, "--cores", "2", "--show-failed-logs")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert job_counts(snakemake(workdir, "-n").stdout) == {}  # a finished run plans nothing
    return workdir


def planned(workdir, name, edit: dict) -> dict:
    layer = workdir / f"{name}.yaml"
    layer.write_text(yaml.safe_dump(edit))
    run = snakemake(workdir, "-n", configs=(layer,))
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    record = workdir / "rerun_counts.json"
    done = json.loads(record.read_text()) if record.exists() else {}
    record.write_text(json.dumps(done | {name: counts}, indent=1))
    print(name, sum(counts.values()), counts)
    return counts


def test_the_figure_1b_ridge_penalty_reruns_only_figure_1b(small_run):
    assert planned(small_run, "fig1b_alpha", {"behavior": {"fig1b": {"alpha": 3.0}}}) == {
        "behavior_fig1b": 1}


def test_a_locanmf_key_reruns_locanmf_and_what_follows_not_motion_or_svd(small_run):
    counts = planned(small_run, "locanmf_loc_thresh", {"widefield": {"locanmf": {"loc_thresh": 60}}})
    assert counts["widefield_locanmf"] == 1 and counts["lvm_fit"] > 0
    assert not {"simulate_session", "widefield_motion", "widefield_atlas", "widefield_svd",
                "widefield_hemo", "behavior_pose", "behavior_labels", "behavior_clips",
                "split_trials"} & set(counts), counts


def test_a_figure_style_key_reruns_no_fit(small_run):
    assert planned(small_run, "fig5_n_dims", {"lvm": {"fig5": {"n_dims": 2}}}) == {"lvm_fig5": 1}


def test_a_metric_setting_reruns_only_evaluation_tables_and_figures(small_run):
    counts = planned(small_run, "mig_binning", {"lvm": {"mig_binning": "equal_width"}})
    evaluations = {k for k in counts if k.startswith("lvm_evaluate")}
    assert evaluations == {"lvm_evaluate_S1_VIS_R"}, counts  # Table 2 and Fig 4: one region
    assert set(counts) - evaluations == {"lvm_table", "lvm_fig4"}, counts
