"""End-to-end: the whole DAG on the tiny config in a temporary directory, plus lint."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benediff.io import dataset as dsio
from benediff.testing.dag import job_counts

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY = ROOT / ".test" / "config" / "config.yaml"

pytestmark = pytest.mark.e2e


def snakemake(workdir, *args, configfile=TINY, timeout=1500):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(configfile), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    run = snakemake(workdir, "--cores", "2", "--show-failed-logs")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return workdir


def test_datasets_are_valid(tiny_run):
    for session in ("S1", "S2"):
        ds = dsio.read(tiny_run / "results" / session / "dataset.h5")
        assert ds.n_trials == 10
        assert ds.neural[0].shape[0] == 48 and ds.images[0].shape[1:] == (2, 16, 16)
        assert set(ds.split) == {"train", "val", "test"}
        assert ds.provenance["config_hash"]
        for region in ("VIS_L", "VIS_R", "SSp_L", "SSp_R", "MOs_L", "MOs_R"):
            # LocaNMF rank 7 per region; the whiteness test leaves >= min_components (7: the
            # VAE's 6 behaviours + 1), so it drops none here
            assert len(ds.regions[region]) == 7


PAPER_FIGURES = ["fig1b", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "fig11",
                 "fig12", "fig13", "specificity"]
PAPER_TABLES = ["table1", "table2", "table3", "specificity", "fig1b"]


def test_every_figure_is_a_pdf_with_provenance(tiny_run):
    for name in PAPER_FIGURES:
        pdf = tiny_run / "results" / "figures" / f"{name}.pdf"
        assert pdf.read_bytes()[:5] == b"%PDF-", name
        sidecar = json.loads(Path(f"{pdf}.json").read_text())
        assert sidecar["config_hash"] and sidecar["git_revision"] and "packages" in sidecar


def test_tables_are_well_formed(tiny_run):
    for name in PAPER_TABLES:
        table = pd.read_csv(tiny_run / "results" / "tables" / f"{name}.csv")
        assert len(table) > 0 and table.notna().any().all(), name
    table1 = pd.read_csv(tiny_run / "results" / "tables" / "table1.csv")
    assert set(table1["model"]) == {"ssl", "cebra (ridge)", "cebra (mlp)", "pivae", "ours"}
    assert set(table1["metric"]) >= {"r2", "rmse", "mig"}


def test_results_ledger_is_written_from_the_runs_tables(tiny_run):
    run = snakemake(tiny_run, "--cores", "1", "results/RESULTS.md")
    assert run.returncode == 0, run.stderr[-3000:]
    text = (tiny_run / "results" / "RESULTS.md").read_text()
    assert "## Table 1" in text and "## Guided generation" in text
    assert "| VIS_L | MIG (%) |" in text and "claims on this run" in text
    # the cost table: every stage that ran, with CPU time measured by the jobs themselves
    cost = text.split("## Cost of each stage")[1].split("\n## ")[0]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in cost.splitlines()
            if line.startswith("| ") and not line.startswith(("| stage", "|---"))}
    assert {"simulate", "widefield", "behavior", "dataset", "lvm", "video"} <= set(rows)
    assert int(rows["lvm"][4]) == int(rows["lvm"][1]) > 0  # every LVM job measured itself
    assert float(rows["lvm"][3]) > 0


def test_ledger_waits_only_for_the_stages_it_reports(tmp_path):
    """report.stages [lvm]: the ledger plans the LVM fits and no video job; with
    config/partial.yaml layered on, it waits for no job at all (a snapshot of a run)."""
    def planned(*configs):
        run = snakemake(tmp_path, "-n", "--quiet", "rules", "--configfile", str(TINY),
                        *map(str, configs), "--", "results/RESULTS.md")  # the later flag wins
        assert run.returncode == 0, run.stderr[-3000:]
        stats = (run.stdout + run.stderr).split("Job stats:")[1].split("total")[0]
        return {line.split()[0] for line in stats.splitlines()[3:] if line.strip()}

    lvm_only = tmp_path / "lvm_only.yaml"
    lvm_only.write_text("report: {stages: [lvm]}\n")
    jobs = planned(lvm_only)
    assert {"lvm_fit", "lvm_table", "lvm_fig4", "results_ledger"} <= jobs
    assert not jobs & {"train_vdm", "generate", "specificity", "behavior_fig1b"}
    assert planned(lvm_only, ROOT / "config" / "partial.yaml") == {"resolved_config",
                                                                   "results_ledger"}


def test_rerun_is_noop(tiny_run):
    run = snakemake(tiny_run, "--cores", "1", "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_lint_is_clean(tmp_path):
    run = snakemake(tmp_path, "--lint", configfile=ROOT / "config" / "demo.yaml")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Congratulations" in run.stdout + run.stderr


def test_unknown_config_key_fails_with_allowed_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text() + "\nsede: 3\n")
    run = snakemake(tmp_path, "-n", configfile=bad)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "unknown config key(s) 'sede'" in out and "allowed keys" in out


def test_missing_input_names_path_and_key(tmp_path):
    cfg = tmp_path / "files.yaml"
    cfg.write_text(
        "sessions:\n  R1:\n    source: files\n    widefield: /nonexistent/movie.dat\n"
        "    trials: /nonexistent/trials.csv\n"
    )
    run = snakemake(tmp_path, "-n", configfile=cfg)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "sessions.R1.widefield" in out and "/nonexistent/movie.dat" in out


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_every_figure(tiny_run, tmp_path):
    report = tiny_run / "report.html"
    run = snakemake(tiny_run, "--report", str(report))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = sorted(p.name for p in (tiny_run / "results" / "figures").glob("*.pdf"))
    assert figures, "the tiny run made no figures"
    html = report.read_text(errors="replace")
    assert all(name in html for name in figures)
    if chromium() is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", "--window-size=1280,900",
                    report.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = subprocess.run([chromium(), *flags, "--virtual-time-budget=5000", "--dump-dom",
                          report.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "Figure" in dom or "figure" in dom


def test_snakefmt_is_clean():
    run = subprocess.run([str(SNAKEMAKE.with_name("snakefmt")), "--check", str(ROOT / "workflow")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]




def test_figure6_builds_only_what_it_needs(tmp_path):
    run = snakemake(tmp_path, "-n", "results/figures/fig6.pdf")
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert counts["simulate_session"] == 1  # one session only
    assert counts["lvm_fit"] == 1  # the figure's region, our model, one seed
    assert counts["fit_linear_encoder"] == 1 and counts["video_figure"] == 1
    assert counts["generate"] == 3  # naive, CFG and ours for the one factor
    assert not {"lvm_table", "specificity", "behavior_fig1b", "lvm_trajectories"} & set(counts)


def test_specificity_uses_the_dlc_model_when_pose_inference_is_configured(tmp_path):
    import yaml

    (tmp_path / "model").mkdir()
    for name in ("pytorch_config.yaml", "snapshot-010.pt"):  # the folder layout is all -n needs
        (tmp_path / "model" / name).write_text("")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["behavior"]["pose"] = {"mode": "infer", "model_dir": str(tmp_path / "model")}
    changed = tmp_path / "config.yaml"
    changed.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(tmp_path, "-n", "results/tables/specificity.csv", configfile=changed)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert counts["specificity_canvas"] == 1 and counts["specificity_pose"] == 1
    assert counts["dlc_infer"] == 1  # the video session's own pose, for its labels
    plain = job_counts(snakemake(tmp_path, "-n", "results/tables/specificity.csv").stdout)
    assert "specificity" in plain and not {"specificity_canvas", "specificity_pose"} & set(plain)


def test_forcing_one_region_reruns_only_its_downstream(tiny_run):
    fit = "results/lvm/S1/VIS_R/ours/seed0/model.pt"
    run = snakemake(tiny_run, "-n", "--forcerun", fit)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert counts["lvm_fit"] == 1
    assert counts.get("fit_linear_encoder", 0) <= 1
    assert not {"simulate_session", "widefield_locanmf", "assemble_dataset"} & set(counts)
    assert "region=VIS_R" in run.stdout


def test_changing_a_video_setting_reruns_only_video_jobs(tiny_run, tmp_path):
    """Rules get only the config sections they use, so tuning guidance keeps the upstream work."""
    import yaml

    cfg = yaml.safe_load(TINY.read_text())
    cfg["video"].setdefault("guidance", {})["scale"] = 123.0
    changed = tmp_path / "config.yaml"
    changed.write_text(yaml.safe_dump(cfg, sort_keys=False))  # key order is part of params
    run = snakemake(tiny_run, "-n", configfile=changed)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert counts.get("generate", 0) > 0
    upstream = {"simulate_session", "widefield_neural", "widefield_qc", "assemble_dataset",
                "lvm_fit", "lvm_table", "train_vdm", "train_video_ae"}
    assert not upstream & set(counts), counts


def _dry_run_with(tiny_run, tmp_path, section, key, value):
    import yaml

    cfg = yaml.safe_load(TINY.read_text())
    node = cfg["video"]
    for part in section:
        node = node.setdefault(part, {})
    node[key] = value
    changed = tmp_path / "config.yaml"
    changed.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(tiny_run, "-n", configfile=changed)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_a_figure_setting_reruns_only_figures(tiny_run, tmp_path):
    run = _dry_run_with(tiny_run, tmp_path, ["figures"], "n_columns", 5)
    counts = job_counts(run.stdout)
    assert set(counts) == {"video_figure", "resolved_config", "all"}, counts


def test_the_guidance_scale_reruns_only_guided_generation_and_what_follows(tiny_run, tmp_path):
    run = _dry_run_with(tiny_run, tmp_path, ["guidance"], "scale", 321.0)
    counts = job_counts(run.stdout)
    assert set(counts) <= {"generate", "specificity", "video_figure", "resolved_config", "all"}, counts
    assert counts["generate"] > 0
    assert "method=ours" in run.stdout
    assert "method=cfg" not in run.stdout and "method=naive" not in run.stdout
    # Algorithm 1 as written has no scale to change, the unguided reference none either
    assert "method=ours_literal" not in run.stdout and "method=unguided" not in run.stdout


def test_reordered_config_file_reruns_nothing(tiny_run, tmp_path):
    """Snakemake compares params by repr; the validated config has the schema's key order.

    Session order is kept: it is meaningful (the first session is the default video session).
    """
    import yaml

    def reverse(node, keep_order=False):
        if not isinstance(node, dict):
            return node
        keys = list(node) if keep_order else reversed(list(node))
        return {k: reverse(node[k], keep_order=k == "sessions") for k in keys}

    reordered = tmp_path / "config.yaml"
    reordered.write_text(yaml.safe_dump(reverse(yaml.safe_load(TINY.read_text())), sort_keys=False))
    run = snakemake(tiny_run, "-n", configfile=reordered)
    assert run.returncode == 0, run.stderr[-3000:]
    assert job_counts(run.stdout) == {}, run.stdout[-3000:]


def test_editing_one_session_keeps_the_others_work(tiny_run, tmp_path):
    """Per-session jobs see only their own session's config."""
    import yaml

    cfg = yaml.safe_load(TINY.read_text())
    cfg["sessions"]["S2"]["seed"] = 7
    changed = tmp_path / "config.yaml"
    changed.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run = snakemake(tiny_run, "-n", configfile=changed)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "session=S2" in run.stdout
    assert "session=S1" not in run.stdout, run.stdout[-3000:]


def test_same_seed_gives_identical_tables(tiny_run, tmp_path):
    """Refit every model from the same datasets in a fresh directory: identical tables (CPU)."""
    for sub in ("resources", "results/S1", "results/S2"):
        shutil.copytree(tiny_run / sub, tmp_path / sub)
    tables = [f"results/tables/table{n}.csv" for n in (1, 2, 3)]
    run = snakemake(tmp_path, "--cores", "2", *tables)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "rule simulate_session" not in run.stdout + run.stderr
    for table in tables:
        assert (tmp_path / table).read_text() == (tiny_run / table).read_text(), table
