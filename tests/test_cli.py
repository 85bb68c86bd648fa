"""The ``benediff`` command: --version, and validate running every check made before any job
without Snakemake (check-config its old name)."""

import subprocess
import sys
from pathlib import Path

import yaml

import benediff
from benediff.cli import layer, main
from benediff.testing.lab import GOOD_TRIALS, write_atlas, write_lab_files

ROOT = Path(__file__).resolve().parents[1]
BENEDIFF = Path(sys.executable).with_name("benediff")


def run(*args):
    return subprocess.run([str(BENEDIFF), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_version_prints_the_package_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"benediff {benediff.__version__}"


def test_validate_passes_the_demo_config_and_check_config_is_an_alias():
    for command in ("validate", "check-config"):
        out = run(command, ROOT / "config" / "demo.yaml")
        assert out.returncode == 0, out.stderr
        assert "demo.yaml: valid (sessions S1, S2" in out.stdout


def lab(tmp_path):
    paths = write_lab_files(tmp_path / "data")
    atlas = write_atlas(tmp_path / "data" / "atlas.npz")  # the simulator's Allen-named atlas
    config = {"sessions": {"M1": {"source": "files", **paths}},
              "widefield": {"atlas": {"path": str(atlas)}}}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_validate_reads_the_raw_files_like_a_dry_run(tmp_path, capsys):
    path = lab(tmp_path)
    assert main(["validate", str(path)]) == 0
    (tmp_path / "data" / "trials.csv").write_text(GOOD_TRIALS + "20,3900,189\n")
    (tmp_path / "data" / "landmarks.json").unlink()
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "invalid input (3 problems)" in err  # overlap, past the end, landmarks
    assert "trials.csv: row 22" in err and "must not overlap" in err
    assert "sessions.M1.landmarks points at" in err


def test_validate_layers_files_and_reports_schema_errors(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text("sessions:\n  S1: {source: simulate}\nlvm: {seeds: [0, 1]}\n")
    top = tmp_path / "top.yaml"
    top.write_text("lvm: {max_epoch: 3}\n")
    assert main(["validate", str(base)]) == 0
    assert main(["validate", str(base), str(top)]) == 1
    assert "max_epoch" in capsys.readouterr().err
    assert layer({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_validate_relative_paths_from_the_run_directory(tmp_path, capsys):
    path = lab(tmp_path)
    text = path.read_text().replace(str(tmp_path / "data"), "data")
    path.write_text(text)
    assert main(["validate", str(path)]) == 1  # from here the data/ paths do not exist
    assert "does not exist" in capsys.readouterr().err
    assert main(["validate", "--directory", str(tmp_path), str(path)]) == 0
