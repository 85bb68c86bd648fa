"""A lab's own config stands alone: no demo session, schema defaults, names that exist."""

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from benediff import config as bconfig
from benediff.testing.lab import write_atlas, write_lab_files
from benediff.testing.lvm import planted_dataset

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(workdir, configfile, *args, timeout=1500):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(workdir), f"--configfile={configfile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def files_session(tmp_path) -> dict:
    paths = write_lab_files(tmp_path)  # tiny but consistent raw files
    atlas = write_atlas(tmp_path / "atlas.npz")  # the simulator's Allen-named atlas
    return {"sessions": {"M1": {"source": "files", **paths}},
            "widefield": {"atlas": {"path": str(atlas)}}}


def test_one_session_config_plans_only_its_jobs_with_schema_defaults(tmp_path):
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(yaml.safe_dump(files_session(tmp_path)))
    run = snakemake(tmp_path, cfg, "-n", "--quiet", "rules")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "simulate_session" not in run.stdout
    run = snakemake(tmp_path, cfg, "-n", "--printshellcmds", "--forceall")
    out = run.stdout + run.stderr
    assert "results/M1/" in out and "results/S1/" not in out and "results/S2/" not in out
    # the resolved config is written for provenance, with the schema's (production) defaults
    run = snakemake(tmp_path, cfg, "--cores", "1", "results/config.resolved.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    resolved = yaml.safe_load((tmp_path / "results" / "config.resolved.yaml").read_text())
    schema = bconfig.load_schema(SCHEMAS)
    lvm_schema = schema["properties"]["lvm"]["properties"]
    wf_schema = schema["properties"]["widefield"]["properties"]
    assert list(resolved["sessions"]) == ["M1"]
    for key in ("beta", "lr", "max_epochs", "seeds"):
        assert resolved["lvm"][key] == lvm_schema[key]["default"], key
    locanmf = wf_schema["locanmf"]["properties"]
    assert resolved["widefield"]["locanmf"]["max_rank"] == locanmf["max_rank"]["default"]
    assert resolved["widefield"]["merge_regions"] is wf_schema["merge_regions"]["default"]


def test_demo_runs_only_without_a_configfile(tmp_path):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(tmp_path), "-n", "--quiet", "rules"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "simulate_session" in run.stdout


def test_name_keys_default_to_what_the_config_has():
    cfg = {"sessions": {"A": {"source": "simulate", "seed": 1}},
           "regions": ["ACC_L", "RSP_R"], "behaviors": ["Jaw", "Chest", "Pupil"]}
    out = bconfig.validate(cfg, SCHEMAS)
    assert out["lvm"]["table1"]["regions"] == ["ACC_L", "RSP_R"]
    assert out["lvm"]["fig4"]["region"] == "ACC_L"
    assert out["lvm"]["trajectories"]["factors"] == ["Jaw", "Chest"]
    assert out["video"]["figures"]["fig6"]["factor"] == "Jaw"  # the paper's choice, present
    assert out["video"]["figures"]["fig9"] == {"region": "ACC_L", "factor": "Jaw",
                                               "view": "bottom"}
    assert out["video"]["specificity"]["regions"] == ["ACC_L"]
    # the paper's choices stay where the config has them (the demo is unchanged)
    demo = bconfig.validate(yaml.safe_load((ROOT / "config" / "demo.yaml").read_text()), SCHEMAS)
    assert demo["lvm"]["fig4"]["region"] == "VIS_R"
    assert demo["lvm"]["table1"]["regions"] == ["VIS_L", "MOs_L"]
    assert demo["video"]["figures"]["fig8"]["regions"] == ["VIS_R", "SSp_R", "MOs_R"]


def test_every_bad_name_is_reported_in_one_error():
    cfg = {"sessions": {"A": {"source": "simulate"}}, "regions": ["ACC_L", "RSP_R"],
           "lvm": {"fig4": {"region": "VIS_R"}, "table1": {"regions": ["X_L"]},
                   "region_overrides": {"VISS_R": {"beta": 2}}},
           "video": {"session": "B", "figures": {"fig6": {"factor": "Lick"}}}}
    with pytest.raises(bconfig.ConfigError) as err:
        bconfig.validate(cfg, SCHEMAS)
    msg = str(err.value)
    assert "5 problems" in msg
    for text in ("lvm.fig4.region names region(s) ['VIS_R']", "lvm.table1.regions",
                 "lvm.region_overrides names region(s) ['VISS_R']",
                 "video.session names session(s) ['B']", "fig6.factor names behaviour(s) ['Lick']"):
        assert text in msg, text


def test_targets_after_configfile_with_equals_sign(tmp_path):
    """`--configfile=mine.yaml target` (the README's form) takes the target as a target."""
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(yaml.safe_dump(files_session(tmp_path)))
    run = snakemake(tmp_path, cfg, "-n", "results/M1/split.json")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "split_trials" in run.stdout and "lvm_fit" not in run.stdout
    assert "--configfile=" in (ROOT / "README.md").read_text()


REGIONS = ["ACC_L", "RSP_R"]
BEHAVIORS = ["Jaw", "Chest", "Pupil"]


def write_behavenet(path, n_trials=20, n_frames=24):
    ds, _ = planted_dataset(n_trials=n_trials, n_frames=n_frames, n_behaviors=3,
                            region_dims=(5, 5), seed=4)
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        for t in range(n_trials):
            f[f"neural/trial_{t:04d}"] = ds.neural[t]
            f[f"labels/trial_{t:04d}"] = ds.labels[t]
            f[f"images/trial_{t:04d}"] = rng.integers(0, 255, (n_frames, 2, 16, 16), np.uint8)
        for name, cols in zip(REGIONS, ds.regions.values()):
            f[f"regions/indxs_consolidate_lr/{name}"] = cols[None, :]


@pytest.mark.e2e
def test_custom_regions_run_all_with_no_name_key_set(tmp_path):
    """Two regions and three behaviours of a lab's own: `all` runs with no figure key set."""
    write_behavenet(tmp_path / "data.hdf5")
    cfg = {"sessions": {"B1": {"source": "behavenet", "behavenet": str(tmp_path / "data.hdf5")}},
           "regions": REGIONS, "behaviors": BEHAVIORS,
           "behavior": {"clips": {"size": 16}, "fig1b": {"n_folds": 2}},
           "lvm": {"seeds": [0], "max_epochs": 2, "warmup_epochs": 1, "patience": 1,
                   "batch_size": 8, "n_unsupervised": 1,
                   "baselines": {"ssl": {"epochs": 1},
                                 "cebra": {"max_iterations": 10, "batch_size": 64,
                                           "mlp_max_iter": 10},
                                 "pivae": {"n_latents": 2, "epochs": 1}}},
           "video": {"autoencoder": {"epochs": 1, "latent_size": 4},
                     "diffusion": {"steps": 4, "checkpoint_every": 2}, "cfg": {"steps": 4},
                     "naive": {"epochs": 1}, "guidance": {"steps": 3},
                     "generation": {"n_videos": 2}}}
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = snakemake(tmp_path, path, "--cores", "2", "--show-failed-logs")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    table1 = pd.read_csv(tmp_path / "results" / "tables" / "table1.csv")
    assert set(table1["region"]) == set(REGIONS)
    for fig in ("fig4", "fig5", "fig6", "fig7", "fig8", "fig12", "fig13", "specificity"):
        assert (tmp_path / "results" / "figures" / f"{fig}.pdf").read_bytes()[:5] == b"%PDF-"


def test_working_directory_config_is_the_default_configfile(tmp_path):
    """With no --configfile, the working directory's config/config.yaml is run (so
    ``snakemake --directory .test`` runs .test's config); without one, the demo."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "-n",
           "--directory"]
    test_dir = tmp_path / "test"
    shutil.copytree(ROOT / ".test" / "config", test_dir / "config")
    own = yaml.safe_load((test_dir / "config" / "config.yaml").read_text())
    own["sessions"] = {"T9": own["sessions"]["S1"]}
    (test_dir / "config" / "config.yaml").write_text(yaml.safe_dump(own))
    run = subprocess.run([*cmd, str(test_dir), "--printshellcmds", "results/T9/split.json"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "results/T9/split.json" in run.stdout + run.stderr
    (tmp_path / "empty").mkdir()
    demo = subprocess.run([*cmd, str(tmp_path / "empty"), "results/T9/split.json"],
                          capture_output=True, text=True, timeout=900)
    assert demo.returncode != 0  # the demo has no session T9
    assert "results/T9/split.json" in demo.stdout + demo.stderr
