"""End-to-end: the whole DAG on the tiny config in a temporary directory, plus lint."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benediff.io import dataset as dsio

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
        assert ds.neural[0].shape[0] == 48 and ds.images[0].shape[1:] == (2, 32, 32)
        assert set(ds.split) == {"train", "val", "test"}
        assert ds.provenance["config_hash"]


def test_rerun_is_noop(tiny_run):
    run = snakemake(tiny_run, "--cores", "1", "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_lint_is_clean(tmp_path):
    run = snakemake(tmp_path, "--lint", configfile=ROOT / "config" / "config.yaml")
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
