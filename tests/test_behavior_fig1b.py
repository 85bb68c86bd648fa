"""Figure 1B: pooled cross-validated R² of decoding behaviour from region signals."""

import json

import numpy as np
import pandas as pd
import pytest

from benediff.behavior.decoding import cross_validated_r2, mixed_selectivity, pooled_r2
from benediff.figures.behavior import make_fig1b
from benediff.io import dataset
from benediff.io.dataset import DatasetError


def test_pooled_r2_hand_values():
    y = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0], [4.0, 2.0]])
    y_hat = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [3.0, 0.0]])
    r2 = pooled_r2(y, y_hat)
    assert r2[0] == pytest.approx(1 - 1 / 5)  # SS_res 1, SS_tot 5
    assert np.isnan(r2[1])  # constant target


def synthetic_dataset(n_trials=12, length=20, seed=0):
    """Region A drives behaviour 0 linearly; region B is pure noise."""
    rng = np.random.default_rng(seed)
    neural, labels = [], []
    w = np.array([1.0, -2.0, 0.5])
    for _ in range(n_trials):
        a = rng.standard_normal((length, 3))
        b = rng.standard_normal((length, 2))
        neural.append(np.hstack([a, b]))
        labels.append(np.stack([a @ w, rng.standard_normal(length)], axis=1))
    return dataset.Dataset(session="syn", frame_rate=30.0, trial_ids=np.arange(n_trials),
                           neural=neural, labels=labels, label_names=["Drive", "Noise"],
                           regions={"A_L": np.array([0, 1, 2]), "B_R": np.array([3, 4])})


def test_cross_validated_r2_separates_signal_from_noise():
    ds = synthetic_dataset()
    r2_a = cross_validated_r2(ds.region_neural("A_L"), ds.labels, n_folds=4, alpha=1e-6)
    r2_b = cross_validated_r2(ds.region_neural("B_R"), ds.labels, n_folds=4, alpha=1e-6)
    assert r2_a[0] > 0.999  # exact linear map, held-out trials
    assert r2_b[0] < 0.05 and r2_a[1] < 0.05 and r2_b[1] < 0.05
    with pytest.raises(DatasetError, match="too few for behavior.fig1b.n_folds = 20"):
        cross_validated_r2(ds.region_neural("A_L"), ds.labels, n_folds=20)


def test_make_fig1b_writes_table_figure_and_sidecars(tmp_path):
    dataset.write(tmp_path / "dataset.h5", synthetic_dataset())
    table = make_fig1b(tmp_path / "dataset.h5", tmp_path / "fig1b.pdf", tmp_path / "fig1b.csv",
                       regions=["A_L", "B_R"], n_folds=3, alpha=1e-6, seed=1)
    back = pd.read_csv(tmp_path / "fig1b.csv")
    assert list(back.columns) == ["region", "behavior", "r2"] and len(back) == 4
    assert back.loc[(back.region == "A_L") & (back.behavior == "Drive"), "r2"].item() > 0.99
    np.testing.assert_allclose(back.r2, table.r2, atol=1e-4)
    assert (tmp_path / "fig1b.pdf").read_bytes()[:4] == b"%PDF"
    assert json.loads((tmp_path / "fig1b.pdf.json").read_text())["seed"] == 1
    assert (tmp_path / "fig1b.csv.json").exists()


def test_missing_region_named(tmp_path):
    with pytest.raises(DatasetError, match="region 'MOs_L' not in dataset"):
        mixed_selectivity(synthetic_dataset(), ["A_L", "MOs_L"])
