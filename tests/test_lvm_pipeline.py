"""End-to-end of one fit (dataset file -> model, latents, metrics) plus tables and figures."""

import json

import numpy as np
import pytest
import torch

from benediff.io import dataset as dataset_io
from benediff.lvm.base import LatentModelError
from benediff.lvm.model import BehaviorVAE
from benediff.lvm.pipeline import derive_seed, fit_region, read_latents, vae_params
from benediff.lvm.synthetic import planted_dataset
from benediff.lvm.tables import summarise, write_table, load_metrics
from benediff.lvm import targets
from benediff.figures.lvm import figure4, figure5, trajectory_figure
from benediff.config import validate

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


def test_outputs_of_one_fit(fitted):
    root, out = fitted
    d = out[("R0_L", "ours", 0)]
    metrics = json.loads((d / "metrics.json").read_text())
    assert np.array(metrics["decoding"]).shape == (4, 3)
    assert metrics["factor_names"] == NAMES + ["u1"]
    assert {"r2", "rmse", "mig", "r2_per_dim", "normalisation"} <= set(metrics)
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
    assert len(summary) == 2 * 3 * 2
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
