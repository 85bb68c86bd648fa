import math

import numpy as np
import pytest
import torch

from benediff.lvm.base import LatentModel, LatentModelError
from benediff.lvm.data import RegionDataError, region_data
from benediff.lvm.model import BehaviorVAE
from benediff.lvm.train import loss_terms
from benediff.training import significant_improvement
from benediff.testing.lvm import planted_dataset

torch.set_num_threads(1)
FAST = dict(max_epochs=2, warmup_epochs=1, patience=5, batch_size=8, n_unsupervised=1)


@pytest.fixture(scope="module")
def small():
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6, 4), seed=1)
    return ds, region_data(ds, "R0_L", n_latents=4)


def test_region_data_zscores_with_train_stats(small):
    ds, rd = small
    xtr = np.concatenate(rd.part("train")[0])
    assert np.allclose(xtr.mean(0), 0, atol=1e-5) and np.allclose(xtr.std(0), 1, atol=1e-4)
    raw = np.concatenate([ds.neural[i][:, ds.regions["R0_L"]] for i in ds.split["train"]])
    assert np.allclose(rd.x_mean, raw.mean(0))


def test_fit_transform_reconstruct_shapes(small, tmp_path):
    _, rd = small
    (X, U), (Xv, Uv) = rd.part("train"), rd.part("val")
    model = BehaviorVAE(seed=3, **FAST).fit(X, U, Xv, Uv)
    assert isinstance(model, LatentModel)
    z, xh = model.transform(rd.X), model.reconstruct(rd.X)
    assert len(z) == len(rd.X) and z[0].shape == (16, 4) and xh[0].shape == (16, 6)
    assert [h["epoch"] for h in model.history_] == [0, 1]
    model.save(tmp_path / "m.pt")
    again = BehaviorVAE.load(tmp_path / "m.pt")
    assert np.array_equal(again.transform(rd.X[:2])[0], z[0])


def test_same_seed_same_weights(small):
    _, rd = small
    X, U = rd.part("train")
    a = BehaviorVAE(seed=5, **FAST).fit(X, U).net_.state_dict()
    b = BehaviorVAE(seed=5, **FAST).fit(X, U).net_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loss_terms_do_not_scale_with_batch_or_length(small):
    _, rd = small
    model = BehaviorVAE(seed=0, **FAST)
    net = model._build(6, 3)
    net.eval()
    x = torch.as_tensor(np.stack(rd.X[:4]))
    u = torch.as_tensor(np.stack(rd.U[:4]))
    with torch.no_grad():
        one = loss_terms(net, x, u, model.params, 1000, sample=False)
        doubled = loss_terms(net, torch.cat([x, x]), torch.cat([u, u]), model.params, 1000, sample=False)
        # trials half as long: same per-frame terms in expectation, so compare to within noise
        half = loss_terms(net, x[:, :8], u[:, :8], model.params, 1000, sample=False)
    for key in one:
        assert float(one[key]) == pytest.approx(float(doubled[key]), rel=1e-5)
        assert float(half[key]) == pytest.approx(float(one[key]), rel=0.5)


def test_behaviour_gain_initialised_to_ones():
    net = BehaviorVAE(seed=0)._build(6, 3)
    assert torch.equal(net.beh_gain.data, torch.ones(3))


def test_nan_input_is_rejected(small):
    _, rd = small
    X, U = rd.part("train")
    bad = [x.copy() for x in X]
    bad[2][0, 0] = np.nan
    with pytest.raises(LatentModelError, match="trial 2 contains NaN"):
        BehaviorVAE(**FAST).fit(bad, U)


def test_too_many_latents_for_region(small):
    ds, _ = small
    with pytest.raises(RegionDataError, match="4 neural dims are fewer than the 5 latents"):
        region_data(ds, "R1_L", n_latents=5)
    _, rd = small
    X, U = rd.part("train")
    with pytest.raises(LatentModelError, match="6 neural dims but the model has 9 latents"):
        BehaviorVAE(**(FAST | {"n_unsupervised": 6})).fit(X, U)


def test_constant_label_is_named(small):
    ds, _ = small
    labels = [u.copy() for u in ds.labels]
    for u in labels:
        u[:, 1] = 2.0
    const = type(ds)(**(ds.__dict__ | {"labels": labels, "label_names": ["Levers", "Jaw", "Chest"]}))
    with pytest.raises(RegionDataError, match="'Jaw' is constant"):
        region_data(const, "R0_L")


def test_too_few_trials_for_split(small):
    ds, _ = small
    tiny = type(ds)(**(ds.__dict__ | {"split": {"train": np.array([0]), "val": np.array([1]),
                                                  "test": np.array([2])}}))
    with pytest.raises(RegionDataError, match="split 'train' has 1 trials"):
        region_data(tiny, "R0_L")


def test_significant_improvement_is_relative():
    assert significant_improvement(5.0, math.inf, 0.5)
    assert significant_improvement(9.8, 10.0, 0.01)
    assert not significant_improvement(9.95, 10.0, 0.01)
    assert not significant_improvement(10.0, 10.0, 0.0)


def test_min_delta_stops_on_small_improvements(small):
    _, rd = small
    (X, U), (Xv, Uv) = rd.part("train"), rd.part("val")
    params = FAST | dict(max_epochs=10, warmup_epochs=1, patience=2, lr=1e-2)
    # no relative improvement can exceed 100 % of a positive loss: stop after patience epochs
    strict = BehaviorVAE(seed=3, min_delta=1.0, **params).fit(X, U, Xv, Uv)
    assert len(strict.history_) == 3
    # min_delta = 0 keeps going while the validation loss still falls
    lenient = BehaviorVAE(seed=3, min_delta=0.0, **params).fit(X, U, Xv, Uv)
    assert len(lenient.history_) > 3
    # the first epochs are identical: min_delta only changes when the fit stops
    assert lenient.history_[:3] == strict.history_
