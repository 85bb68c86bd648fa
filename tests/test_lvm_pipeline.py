"""End-to-end of one fit (dataset file -> model, latents, metrics) plus tables and figures."""

import json

import numpy as np
import pytest
import torch

from benediff.io import dataset as dataset_io
from benediff.lvm.base import LatentModelError
from benediff.lvm.model import BehaviorVAE
from benediff.io.latents import read_latents
from benediff.lvm.pipeline import derive_seed, fit_region, vae_params
from benediff.lvm.tables import summarise, write_table, load_metrics
from benediff.lvm import targets
from benediff.figures.lvm import figure4, figure5, trajectory_figure
from benediff.config import validate
from benediff.testing.lvm import planted_dataset

torch.set_num_threads(1)
LVM = validate({"sessions": {"S1": {"source": "simulate"}}})["lvm"] | {
    "max_epochs": 2, "warmup_epochs": 1, "batch_size": 8, "n_unsupervised": 1}
NAMES = ["Levers", "Paw-x", "Paw-y"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("lvm")
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6, 5), label_names=NAMES,
                            session="S1", seed=3)
    dataset_io.write(root / "dataset.h5", ds)
    out = {}
    for region in ("R0_L", "R1_L"):
        for model in ("ours", "vae"):
            for seed in (0, 1):
                d = root / region / model / f"seed{seed}"
                fit_region(root / "dataset.h5", region, model, seed, LVM, checkpoint_dir=d / "ckpt",
                           out_model=d / "model.pt", out_latents=d / "latents.h5",
                           out_metrics=d / "metrics.json")
                out[(region, model, seed)] = d
    return root, out


def test_a_fit_does_not_depend_on_the_fits_before_it_in_its_process(fitted, tmp_path):
    """lvm.fit_seeds_together runs a region x model's seeds one after another in one process:
    each fit must equal the fit of its own job. Seed 1 of R0_L/ours was fitted right after seed 0
    (the fixture); refitted here after eight other fits, its latents and weights are the same."""
    root, out = fitted
    d = tmp_path / "again"
    fit_region(root / "dataset.h5", "R0_L", "ours", 1, LVM, out_model=d / "model.pt",
               out_latents=d / "latents.h5", out_fit=d / "fit.json", evaluate_fit=False)
    before, after = read_latents(out[("R0_L", "ours", 1)] / "latents.h5")[0], read_latents(
        d / "latents.h5")[0]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    w0 = BehaviorVAE.load(out[("R0_L", "ours", 1)] / "model.pt").net_.state_dict()
    w1 = BehaviorVAE.load(d / "model.pt").net_.state_dict()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    other = read_latents(out[("R0_L", "ours", 0)] / "latents.h5")[0]
    assert not np.array_equal(other[0], after[0])  # and the seed does matter


@pytest.mark.e2e
def test_fit_seeds_together_groups_a_tables_seeds_in_one_job(tmp_path):
    """The demo (lvm.fit_seeds_together on): one job per session x region x model a table reads,
    fitting its three seeds; every other fit (a figure's single seed) stays an lvm_fit job; the
    same 57 fits as with the key off, where every fit is an lvm_fit job."""
    import yaml
    from pathlib import Path

    demo = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"
    counts, out = _dry_run_job_counts(tmp_path / "on", demo, "all")
    grouped = {r: n for r, n in counts.items() if r.startswith("lvm_fit_seeds_")}
    assert len(grouped) == 18 and set(grouped.values()) == {1}, grouped
    assert "lvm_fit_seeds_S1_VIS_L_ours" in grouped and counts["lvm_fit"] == 3
    block = out.split("rule lvm_fit_seeds_S1_VIS_L_ours:")[1].split("\n\n")[0]
    assert all(f"results/lvm/S1/VIS_L/ours/seed{s}/model.pt" in block for s in (0, 1, 2))
    cfg = yaml.safe_load(demo.read_text())
    cfg["lvm"]["fit_seeds_together"] = False
    (tmp_path / "off.yaml").write_text(yaml.safe_dump(cfg))
    counts_off, _ = _dry_run_job_counts(tmp_path / "off", tmp_path / "off.yaml", "all")
    assert not any(r.startswith("lvm_fit_seeds") for r in counts_off)
    assert counts_off["lvm_fit"] == 3 * len(grouped) + counts["lvm_fit"] == 57


def test_outputs_of_one_fit(fitted):
    root, out = fitted
    d = out[("R0_L", "ours", 0)]
    metrics = json.loads((d / "metrics.json").read_text())
    assert np.array(metrics["decoding"]).shape == (4, 3)
    assert metrics["factor_names"] == NAMES + ["u1"]
    assert {"r2", "rmse", "mig", "r2_per_dim", "normalisation"} <= set(metrics)
    # MIG is the mean of its per-behaviour gaps, for the latents and the decoder alike
    for key in ("mig", "mig_decoder"):
        gaps = metrics[f"{key}_per_factor"]
        assert list(gaps) == NAMES and np.isclose(np.mean(list(gaps.values())), metrics[key])
    latents, attrs = read_latents(d / "latents.h5")
    assert len(latents) == 20 and latents[0].shape == (16, 4)
    assert attrs["factor_names"] == NAMES + ["u1"]
    model = BehaviorVAE.load(d / "model.pt")
    assert np.allclose(model.transform([np.zeros((16, 6), np.float32)])[0].shape, (16, 4))
    assert (d / "ckpt" / "checkpoint.pt").exists()


def test_seeds_differ_and_are_derived():
    assert derive_seed(0, "S1", "VIS_L", 0) == derive_seed(0, "S1", "VIS_L", 0)
    assert len({derive_seed(0, "S1", "VIS_L", s) for s in range(5)}) == 5


def test_tables_mean_and_std(fitted, tmp_path):
    _, out = fitted
    paths = [out[(r, m, s)] / "metrics.json" for r in ("R0_L", "R1_L") for m in ("vae", "ours") for s in (0, 1)]
    summary = write_table(paths, "region", ["vae", "ours"], "test", tmp_path / "t.csv", tmp_path / "t.tex")
    raw = load_metrics(paths)
    sel = raw[(raw.region == "R1_L") & (raw.model == "ours")]["mig"].to_numpy()
    row = summary[(summary.region == "R1_L") & (summary.model == "ours") & (summary.metric == "mig")]
    assert row["mean"].item() == pytest.approx(sel.mean())
    assert row["std"].item() == pytest.approx(np.std(sel, ddof=1))
    # R², RMSE, MIG, its floor, ceiling, calibrated score, relative gap, decoder MIG and floor
    assert len(summary) == 2 * 9 * 2
    mine = summary[(summary.region == "R1_L") & (summary.model == "ours")].set_index("metric")["mean"]
    assert 0 <= mine["mig_floor"] < mine["mig"] <= mine["mig_ceiling"]
    assert mine["mig_calibrated"] == pytest.approx(np.mean([
        (m["mig"] - m["mig_floor"]) / (m["mig_ceiling"] - m["mig_floor"])
        for m in raw[(raw.region == "R1_L") & (raw.model == "ours")].to_dict("records")]))
    ceiling = summary[(summary.metric == "mig_ceiling") & (summary.region == "R1_L")]
    assert ceiling["mean"].nunique() == 1 and ceiling["std"].max() == 0  # the labels' own
    decoder = summary[(summary.metric == "mig_decoder") & (summary.region == "R1_L")]
    assert decoder["mean"].nunique() == 1 and decoder["std"].max() == 0  # a property of the data
    tex = (tmp_path / "t.tex").read_text()
    assert r"\begin{tabular}" in tex and "Standard VAE" in tex and "$\\pm$" in tex


def test_summarise_hand_case():
    import pandas as pd
    df = pd.DataFrame({"region": ["A", "A"], "model": ["ours", "ours"], "run_seed": [0, 1],
                       "r2": [70.0, 74.0], "rmse": [30.0, 30.0], "mig": [50.0, 52.0]})
    s = summarise(df, "region").set_index("metric")
    assert s.loc["r2", "mean"] == 72.0 and s.loc["r2", "std"] == pytest.approx(np.sqrt(8))
    assert s.loc["rmse", "std"] == 0.0


def test_figures(fitted, tmp_path):
    root, out = fitted
    figure4([out[("R0_L", "ours", s)] / "metrics.json" for s in (0, 1)], tmp_path / "fig4.pdf")
    figure5(root / "dataset.h5", "R0_L", {m: out[("R0_L", m, 0)] / "latents.h5" for m in ("vae", "ours")},
            tmp_path / "fig5.pdf", test_trial=0, n_dims=3)
    trajectory_figure({r: out[(r, "ours", 0)] / "latents.h5" for r in ("R0_L", "R1_L")},
                      ["Paw-x", "Paw-y"], 2, tmp_path / "fig7.pdf")
    for name in ("fig4", "fig5", "fig7"):
        pdf = tmp_path / f"{name}.pdf"
        assert pdf.read_bytes()[:4] == b"%PDF" and (tmp_path / f"{name}.pdf.json").exists()
    with pytest.raises(ValueError, match="not among the latents"):
        trajectory_figure({"R0_L": out[("R0_L", "ours", 0)] / "latents.h5"}, ["Jaw", "Chest"], 2,
                          tmp_path / "bad.pdf")
    assert not (tmp_path / "bad.pdf").exists()


def test_region_override_and_unknown_key():
    cfg = LVM | {"region_overrides": {"VIS_R": {"beta": 9.0}}}
    assert vae_params(cfg, "VIS_R", "ours")["beta"] == 9.0
    assert vae_params(cfg, "VIS_R", "no_tc")["beta"] == 0.0
    assert vae_params(cfg, "VIS_L", "vae")["use_behavior"] is False
    with pytest.raises(LatentModelError, match="lvm.region_overrides.VIS_R has unknown key"):
        vae_params(LVM | {"region_overrides": {"VIS_R": {"bogus": 1}}}, "VIS_R", "ours")


def test_targets_follow_config():
    cfg = validate({"sessions": {"S1": {"source": "simulate"}, "S2": {"source": "simulate"}},
                    "lvm": {"seeds": [0, 1]}})
    t2 = targets.table_metrics(cfg, 2)
    assert t2[0] == "results/lvm/S1/VIS_R/vae/seed0/metrics.json" and len(t2) == 2 * 2 * 2
    assert len(targets.table_metrics(cfg, 1)) == 2 * 4 * 2
    assert targets.fig5_inputs(cfg)["ours"] == "results/lvm/S1/VIS_R/ours/seed0/latents.h5"
    with pytest.raises(LatentModelError, match="not in sessions"):
        targets.table_metrics(cfg | {"lvm": cfg["lvm"] | {"table1": {"session": "S9", "regions": [], "models": []}}}, 1)


@pytest.mark.parametrize("name,params", [("ssl", {"epochs": 2}), ("cebra", {"max_iterations": 5}),
                                         ("pivae", {"epochs": 2})])
def test_baseline_fit_writes_the_same_outputs(fitted, tmp_path, name, params):
    pytest.importorskip("benediff.lvm.baselines")
    root, _ = fitted
    cfg = LVM | {"baselines": {name: params}}
    metrics = fit_region(root / "dataset.h5", "R0_L", name, 0, cfg, out_latents=tmp_path / "l.h5",
                         out_model=tmp_path / "m.pt", out_metrics=tmp_path / "m.json")
    latents, attrs = read_latents(tmp_path / "l.h5")
    assert len(latents) == 20 and latents[0].shape[1] == len(attrs["factor_names"])
    assert np.isfinite(metrics["r2"]) and np.isfinite(metrics["mig"])


def test_fit_config_keeps_only_what_a_fit_depends_on():
    from types import SimpleNamespace
    cfg = validate({"sessions": {"S1": {"source": "simulate"}},
                    "lvm": {"region_overrides": {"VIS_R": {"beta": 8.0}, "VIS_L": {"beta": 1.0}}}})
    wc = SimpleNamespace(session="S1", region="VIS_R", model="ours", seed="0")
    fit = targets.fit_config(cfg, wc)
    assert fit["region_overrides"] == {"VIS_R": {"beta": 8.0}} and "table1" not in fit
    assert vae_params(fit, "VIS_R", "ours")["beta"] == 8.0
    assert targets.checkpoint_dir(cfg, wc) == "results/checkpoints/lvm/S1/VIS_R/ours/seed0"


def _hand_dataset(session, neural, labels, split, label_names=("Paw-x",)):
    from benediff.io.dataset import Dataset

    return Dataset(session=session, frame_rate=30.0, trial_ids=np.arange(len(neural)),
                   neural=[np.asarray(x, np.float32) for x in neural],
                   labels=[np.asarray(u, np.float32) for u in labels],
                   label_names=list(label_names), regions={"R": np.arange(neural[0].shape[1])},
                   split={k: np.asarray(v) for k, v in split.items()})


def test_pooled_region_data_hand_case():
    from benediff.lvm.data import pooled_region_data, region_data

    # S1: trial t is constant (t, 10t); train = trials 0, 1 -> mean (0.5, 5), std (0.5, 5).
    s1 = _hand_dataset("S1", [np.tile([t, 10 * t], (2, 1)) for t in range(4)],
                       [np.full((2, 1), t) for t in range(4)],
                       {"train": [0, 1], "val": [2], "test": [3]})
    # S2: trial t is constant (100 + 2t, -t); train = trials 1, 2 -> mean (103, -1.5), std (1, 0.5).
    s2 = _hand_dataset("S2", [np.tile([100 + 2 * t, -t], (2, 1)) for t in range(4)],
                       [np.full((2, 1), 5 - t) for t in range(4)],
                       {"train": [1, 2], "val": [3], "test": [0]})
    rd = pooled_region_data([region_data(s1, "R"), region_data(s2, "R")])
    assert rd.session == "pooled" and len(rd.X) == 8
    assert rd.split["train"].tolist() == [0, 1, 5, 6]
    assert rd.split["val"].tolist() == [2, 7] and rd.split["test"].tolist() == [3, 4]
    assert np.allclose(rd.X[3], [[5, 5], [5, 5]])  # S1 trial 3 with S1's statistics
    assert np.allclose(rd.X[4], [[-3, 3], [-3, 3]])  # S2 trial 0 with S2's own statistics
    assert np.allclose(rd.U[4], 3.0)  # S2 labels 4, 3 on train: (5 - 3.5) / 0.5
    assert np.allclose(rd.x_mean, [[0.5, 5], [103, -1.5]])
    x_test, _ = rd.part("test")
    assert [m.session for m in rd.members] == ["S1", "S2"] and len(x_test) == 2
    wide = _hand_dataset("S3", [np.zeros((2, 3)) + t for t in range(4)],
                         [np.full((2, 1), t) for t in range(4)], s1.split)
    with pytest.raises(LatentModelError, match="'S1' has 2 neural dims but 'S3' has 3"):
        pooled_region_data([region_data(s1, "R"), region_data(wide, "R")])
    renamed = _hand_dataset("S4", s1.neural, s1.labels, s1.split, label_names=("Jaw",))
    with pytest.raises(LatentModelError, match=r"behaviours \['Paw-x'\] but 'S4' has \['Jaw'\]"):
        pooled_region_data([region_data(s1, "R"), region_data(renamed, "R")])


def test_pooled_fit_reports_every_session(fitted, tmp_path):
    root, _ = fitted
    ds2, _ = planted_dataset(n_trials=10, n_frames=16, region_dims=(6, 5), label_names=NAMES,
                             session="S2", seed=4)
    dataset_io.write(tmp_path / "s2.h5", ds2)
    paths = [root / "dataset.h5", tmp_path / "s2.h5"]
    metrics = fit_region(paths, "R0_L", "ours", 0, LVM, out_latents=tmp_path / "l.h5",
                         out_metrics=tmp_path / "m.json", pooled=True)
    assert metrics["session"] == "pooled" and metrics["sessions"] == ["S1", "S2"]
    assert metrics["n_train_trials"] == 16 + 8 and metrics["n_test_trials"] == 2 + 1
    per = metrics["per_session"]
    assert set(per) == {"S1", "S2"} and per["S2"]["n_test_trials"] == 1
    assert all(np.isfinite(per[s][k]) for s in per for k in ("r2", "rmse", "mig"))
    latents, attrs = read_latents(tmp_path / "l.h5")
    assert len(latents) == 30 and attrs["session_trials"] == [20, 10]
    figure5(paths, "R0_L", {"ours": tmp_path / "l.h5"}, tmp_path / "fig5.pdf", test_trial=2,
            n_dims=2, pooled=True)  # the last test trial: S2's
    trajectory_figure({"R0_L": tmp_path / "l.h5"}, ["Paw-x", "Paw-y"], 3, tmp_path / "fig7.pdf")
    assert json.loads((tmp_path / "fig5.pdf.json").read_text())["trial_position"] == 20 + 4
    assert (tmp_path / "fig7.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(LatentModelError, match="2 dataset files given for a single-session fit"):
        fit_region(paths, "R0_L", "ours", 0, LVM)


def test_pooled_targets_and_config_errors():
    from types import SimpleNamespace
    cfg = validate({"sessions": {"S1": {"source": "simulate"}, "S2": {"source": "simulate"},
                                 "S3": {"source": "simulate"}},
                    "lvm": {"seeds": [0], "pool_sessions": ["S1", "S3"],
                            "table1": {"session": "pooled"}}})
    assert targets.table_metrics(cfg, 1)[0] == "results/lvm/pooled/VIS_L/ssl/seed0/metrics.json"
    pooled = SimpleNamespace(session="pooled", region="VIS_L", model="ours", seed="0")
    single = SimpleNamespace(session="S1", region="VIS_L", model="ours", seed="0")
    assert targets.fit_datasets(cfg, pooled) == ["results/S1/dataset.h5", "results/S3/dataset.h5"]
    assert targets.fit_datasets(cfg, single) == "results/S1/dataset.h5"
    assert targets.fit_config(cfg, pooled)["pool_sessions"] == ["S1", "S3"]
    assert "pool_sessions" not in targets.fit_config(cfg, single)  # per-session fits unaffected
    bad = cfg | {"lvm": cfg["lvm"] | {"pool_sessions": ["S1", "S9"]}}
    with pytest.raises(LatentModelError, match=r"lvm.pool_sessions .*unknown: \['S9'\]"):
        targets.table_metrics(bad, 1)
    reserved = cfg | {"sessions": {"pooled": {}, "S1": {}}}
    with pytest.raises(LatentModelError, match="'pooled' is reserved"):
        targets.pool_sessions(reserved)


def _write_metrics(path, model, seed, r2, rmse, mig, **extra):
    path.write_text(json.dumps({"session": "S1", "region": "R0_L", "model": model,
                                "run_seed": seed, "r2": r2, "rmse": rmse, "mig": mig} | extra))
    return path


def test_table_reports_both_cebra_readouts(tmp_path):
    paths = [_write_metrics(tmp_path / f"c{s}.json", "cebra", s, 60.0 + s, 40.0, 10.0 + s,
                            r2_mlp=70.0 + 2 * s, rmse_mlp=30.0 - s) for s in (0, 1)]
    paths += [_write_metrics(tmp_path / f"o{s}.json", "ours", s, 80.0, 20.0, 30.0) for s in (0, 1)]
    summary = write_table(paths, "region", ["cebra", "ours"], "t", tmp_path / "t.csv",
                          tmp_path / "t.tex").set_index(["model", "metric"])
    assert set(summary.index.get_level_values("model")) == {"cebra (ridge)", "cebra (mlp)", "ours"}
    assert summary.loc[("cebra (ridge)", "r2"), "mean"] == 60.5
    assert summary.loc[("cebra (mlp)", "r2"), "mean"] == 71.0
    assert summary.loc[("cebra (mlp)", "r2"), "std"] == pytest.approx(np.sqrt(2))
    assert summary.loc[("cebra (mlp)", "rmse"), "mean"] == 29.5
    assert summary.loc[("cebra (mlp)", "mig"), "mean"] == summary.loc[("cebra (ridge)", "mig"), "mean"]
    tex = (tmp_path / "t.tex").read_text()
    assert "& CEBRA (Ridge) & CEBRA (MLP) & Ours" in tex
    assert "71.00 $\\pm$ 1.41" in tex and "29.50 $\\pm$ 0.71" in tex


def _dry_run_job_counts(workdir, configfile, *targets_) -> tuple[dict, str]:
    """Rule -> job count from a Snakemake dry run's 'Job stats' table, and its stdout."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cmd = [str(Path(sys.executable).with_name("snakemake")), "--snakefile",
           str(root / "workflow" / "Snakefile"), "--directory", str(workdir), "--configfile",
           str(configfile), "-n", *targets_]  # -n ends --configfile's list of files
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    from benediff.testing.dag import job_counts

    return job_counts(run.stdout), run.stdout


@pytest.mark.e2e
def test_pooled_table_builds_exactly_the_pooled_fits(tmp_path):
    import yaml
    from pathlib import Path

    tiny = Path(__file__).resolve().parents[1] / ".test" / "config" / "config.yaml"
    cfg = yaml.safe_load(tiny.read_text())
    cfg["lvm"]["table1"] = {"session": "pooled"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    counts, out = _dry_run_job_counts(tmp_path / "work", tmp_path / "config.yaml",
                                      "results/tables/table1.csv")
    # Table 1 defaults: 2 regions x 4 models x 1 seed, all pooled over both sessions S1, S2
    assert counts["lvm_fit"] == 8 and counts["lvm_table"] == 1
    assert out.count("session=pooled") == 8
    assert counts["assemble_dataset"] == 2 and counts["simulate_session"] == 2
    assert "results/S1/dataset.h5, results/S2/dataset.h5" in out
    # one evaluation job per pooled region, evaluating its 4 models
    assert sorted(c for c in counts if c.startswith("lvm_evaluate")) == [
        "lvm_evaluate_pooled_MOs_L", "lvm_evaluate_pooled_VIS_L"]
    counts = {c: n for c, n in counts.items() if not c.startswith("lvm_evaluate")}
    assert set(counts) - {"lvm_fit", "lvm_table"} <= {
        "simulate_session", "behavior_clips", "behavior_pose", "split_trials", "widefield_atlas",
        "widefield_motion", "behavior_labels", "widefield_svd", "widefield_hemo",
        "widefield_locanmf", "widefield_neural", "assemble_dataset"}
