"""Import of a BehaveNet data.hdf5 (the paper's data format) as a session dataset."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from benediff.io import dataset as dsio
from benediff.io.behavenet import BehaveNetError, read_behavenet
from benediff.testing.lvm import planted_dataset

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
REGIONS = ["VIS_L", "VIS_R", "SSp_L", "SSp_R", "MOs_L", "MOs_R"]
BEHAVIORS = ["Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Chest"]
# the file has 7 label columns (as the paper's PS-VAE labels); column 2 is not analysed
LABEL_COLUMNS = [0, 1, 3, 4, 5, 6]


def write_behavenet(path, *, n_trials=20, n_frames=24, base=1, images=True):
    """A BehaveNet-layout file: planted neural data, 7 labels, 1 × n region indices."""
    ds, _ = planted_dataset(n_trials=n_trials, n_frames=n_frames, n_behaviors=7,
                            region_dims=(8,) * len(REGIONS), seed=3)
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        for t in range(n_trials):
            key = f"trial_{t:04d}"
            f[f"neural/{key}"] = ds.neural[t]
            f[f"labels/{key}"] = ds.labels[t]
            if images:
                f[f"images/{key}"] = rng.integers(0, 255, (n_frames, 2, 16, 16), dtype=np.uint8)
        for name, cols in zip(REGIONS, ds.regions.values()):
            f[f"regions/indxs_consolidate_lr/{name}"] = (cols + base)[None, :]
    return ds


@pytest.mark.parametrize("base", [0, 1])
def test_import_makes_indices_zero_based_and_selects_label_columns(tmp_path, base):
    planted = write_behavenet(tmp_path / "data.hdf5", base=base)
    ds = read_behavenet(tmp_path / "data.hdf5", session="B1", behaviors=BEHAVIORS,
                        regions=["SSp_R", "VIS_L"], label_columns=LABEL_COLUMNS)
    assert list(ds.regions) == ["SSp_R", "VIS_L"]
    np.testing.assert_array_equal(ds.regions["VIS_L"], np.arange(8))
    np.testing.assert_array_equal(ds.regions["SSp_R"], np.arange(24, 32))
    np.testing.assert_array_equal(ds.labels[5], planted.labels[5][:, LABEL_COLUMNS])
    np.testing.assert_array_equal(ds.region_neural("SSp_R")[2], planted.neural[2][:, 24:32])
    assert ds.images[0].shape == (24, 2, 16, 16) and ds.label_names == BEHAVIORS


def test_explicit_index_base_overrides_detection(tmp_path):
    write_behavenet(tmp_path / "data.hdf5", base=1)
    with pytest.raises(BehaveNetError, match="outside 0..47 .*index_base"):
        read_behavenet(tmp_path / "data.hdf5", session="B1", behaviors=BEHAVIORS,
                       regions=["MOs_R"], label_columns=LABEL_COLUMNS, index_base=0)


def test_ambiguous_index_base_asks_for_the_key(tmp_path):
    path = tmp_path / "data.hdf5"
    write_behavenet(path, base=1)
    with h5py.File(path, "a") as f:  # keep only a middle region: neither 0 nor 48 appears
        for name in REGIONS[:1] + REGIONS[-1:]:
            del f[f"regions/indxs_consolidate_lr/{name}"]
    with pytest.raises(BehaveNetError, match="sessions.B1.index_base"):
        read_behavenet(path, session="B1", behaviors=BEHAVIORS, regions=["SSp_L"],
                       label_columns=LABEL_COLUMNS)


def test_bad_files_fail_with_the_fix(tmp_path):
    path = tmp_path / "data.hdf5"
    write_behavenet(path)
    kwargs = dict(session="B1", behaviors=BEHAVIORS, regions=REGIONS)
    with pytest.raises(BehaveNetError, match="7 columns but behaviors names 6.*label_columns"):
        read_behavenet(path, **kwargs)
    with pytest.raises(BehaveNetError, match=r"out of range for 7 label columns"):
        read_behavenet(path, **kwargs, label_columns=[0, 1, 2, 3, 4, 9])
    with pytest.raises(BehaveNetError, match=r"regions \['RSP_L'\] are not in the file"):
        read_behavenet(path, session="B1", behaviors=BEHAVIORS, regions=["RSP_L"],
                       label_columns=LABEL_COLUMNS)
    with pytest.raises(BehaveNetError, match="does not exist"):
        read_behavenet(tmp_path / "nope.hdf5", **kwargs)
    with h5py.File(path, "a") as f:
        del f["labels/trial_0003"]
    with pytest.raises(BehaveNetError, match="trial_0003"):
        read_behavenet(path, **kwargs, label_columns=LABEL_COLUMNS)


def behavenet_config(tmp_path) -> Path:
    config = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    config["sessions"] = {"B1": {"source": "behavenet", "behavenet": str(tmp_path / "data.hdf5"),
                                 "label_columns": LABEL_COLUMNS}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_snakemake(tmp_path, *args):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(tmp_path), "--configfile", str(behavenet_config(tmp_path)), "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.e2e
def test_behavenet_session_skips_raw_stages_and_fits(tmp_path):
    write_behavenet(tmp_path / "data.hdf5", n_trials=20, n_frames=24)
    dry = run_snakemake(tmp_path, "-n", "results/tables/table1.csv")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "import_behavenet" in dry.stdout
    for rule in ("simulate_session", "widefield_", "behavior_", "assemble_dataset"):
        assert rule not in dry.stdout, rule
    target = "results/lvm/B1/VIS_R/ours/seed0/metrics.json"
    run = run_snakemake(tmp_path, target)
    assert run.returncode == 0, run.stderr[-3000:]
    ds = dsio.read(tmp_path / "results" / "B1" / "dataset.h5")
    assert ds.n_trials == 20 and sum(len(v) for v in ds.split.values()) == 20
    assert ds.label_names == BEHAVIORS and ds.images[0].shape == (24, 2, 16, 16)
    metrics = json.loads((tmp_path / target).read_text())
    assert np.isfinite(metrics["r2"])


def test_missing_behavenet_file_fails_before_running(tmp_path):
    run = run_snakemake(tmp_path, "-n")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "sessions.B1.behavenet" in output and "does not exist" in output
