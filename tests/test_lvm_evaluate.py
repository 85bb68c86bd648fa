"""The evaluation job (rule lvm_evaluate): metrics from the fit's files equal those of the fit."""

import json

import numpy as np
import pytest
import torch

from benediff.config import validate
from benediff.io import dataset as dataset_io
from benediff.lvm.base import LatentModelError
from benediff.lvm.pipeline import evaluate_region, fit_region
from benediff.testing.lvm import planted_dataset

torch.set_num_threads(1)
LVM = validate({"sessions": {"S1": {"source": "simulate"}}})["lvm"] | {
    "max_epochs": 2, "warmup_epochs": 1, "batch_size": 8, "n_unsupervised": 1,
    "baselines": {"ssl": {"epochs": 2}, "cebra": {"max_iterations": 5}, "pivae": {"epochs": 2}}}
NAMES = ["Levers", "Paw-x", "Paw-y"]


def _strip(metrics):  # everything but where the numbers were written
    return json.loads(json.dumps(metrics))


@pytest.mark.parametrize("models", [("ours", "vae"), ("ssl", "cebra", "pivae")])
def test_evaluation_job_reproduces_the_fits_metrics(tmp_path, models):
    if set(models) & {"ssl", "cebra", "pivae"}:
        pytest.importorskip("benediff.lvm.baselines")
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6, 5), label_names=NAMES,
                            session="S1", seed=3)
    dataset_io.write(tmp_path / "dataset.h5", ds)
    before, fits = [], []
    for model in models:
        for seed in (0, 1):
            d = tmp_path / model / f"seed{seed}"
            # in one process, as rule lvm_fit did before the evaluation became its own job
            before.append(fit_region(tmp_path / "dataset.h5", "R0_L", model, seed, LVM,
                                     out_model=d / "model.pt", out_latents=d / "latents.h5",
                                     out_fit=d / "fit.json", out_metrics=d / "before.json"))
            fits.append({"model": model, "model_path": d / "model.pt", "fit_path": d / "fit.json",
                         "metrics_path": d / "metrics.json"})
    after = evaluate_region(tmp_path / "dataset.h5", "R0_L", fits, LVM["mig_binning"])
    assert [_strip(m) for m in after] == [_strip(m) for m in before]
    for fit, m in zip(fits, before):
        assert json.loads(fit["metrics_path"].read_text()) == _strip(m)
    # a metric setting changes the metrics without refitting
    other = evaluate_region(tmp_path / "dataset.h5", "R0_L", fits[:1], "equal_width")[0]
    assert other["mig_binning"] == "equal_width" and other["r2"] == before[0]["r2"]
    assert other["fit_seconds"] == before[0]["fit_seconds"]


def test_evaluation_refuses_a_fit_of_another_region(tmp_path):
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6, 5), label_names=NAMES,
                            session="S1", seed=3)
    dataset_io.write(tmp_path / "dataset.h5", ds)
    d = tmp_path / "fit"
    fit_region(tmp_path / "dataset.h5", "R0_L", "vae", 0, LVM, out_model=d / "model.pt",
               out_fit=d / "fit.json", evaluate_fit=False)
    assert not (d / "metrics.json").exists()
    with pytest.raises(LatentModelError, match="a fit of S1/R0_L/vae, not of S1/R1_L/vae"):
        evaluate_region(tmp_path / "dataset.h5", "R1_L",
                        [{"model": "vae", "model_path": d / "model.pt", "fit_path": d / "fit.json"}],
                        "quantile")
    assert np.isfinite(evaluate_region(tmp_path / "dataset.h5", "R0_L", [
        {"model": "vae", "model_path": d / "model.pt", "fit_path": d / "fit.json"}],
        "quantile")[0]["mig"])
