"""LVM baselines (SSL/M2, CEBRA-Behavior, pi-VAE) on small planted data."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

from benediff.lvm.baselines import BASELINES, BaselineInputError, get_baseline
from benediff.lvm.baselines.pivae import PiVAEBaseline, original_loss
from benediff.lvm.baselines.ssl import kl_to_standard_normal
from benediff.testing.lvm import planted_region

N_BEHAV, N_DIMS, N_TRAIN = 3, 10, 16

FAST = {
    "ssl": dict(hidden_size=16, epochs=40, batch_size=4, learning_rate=1e-2),
    "cebra": dict(batch_size=128, max_iterations=200, mlp_max_iter=100),
    "pivae": dict(epochs=40, batch_size=128, learning_rate=2e-3),
}
TINY = {  # just enough training to test determinism and save/load
    "ssl": dict(hidden_size=8, epochs=2, batch_size=8),
    "cebra": dict(batch_size=64, max_iterations=5, mlp_max_iter=5),
    "pivae": dict(epochs=1, batch_size=256),
}


def planted(n_trials=24):
    return planted_region(n_trials=n_trials, length=80, n_behaviours=N_BEHAV, n_dims=N_DIMS)


@pytest.fixture(scope="module", autouse=True)
def one_thread(torch_one_thread):
    """every test of this module on one torch thread (tests/conftest.py)"""


@pytest.fixture(scope="module")
def data():
    X, U = planted()
    return X[:N_TRAIN], U[:N_TRAIN], X[N_TRAIN:], U[N_TRAIN:]


@pytest.fixture(scope="module")
def fitted(data):
    X, U, _, _ = data
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = get_baseline(name, seed=0, **FAST[name]).fit(X, U)
        return cache[name]

    return get


def tiny_fit(name, data, seed=0):
    X, U, _, _ = data
    return get_baseline(name, seed=seed, **TINY[name]).fit(X, U)


@pytest.mark.parametrize("name", BASELINES)
def test_shapes(name, fitted, data):
    _, _, X_test, _ = data
    latent_dims = {"ssl": 2 * N_BEHAV, "cebra": N_BEHAV, "pivae": N_BEHAV}[name]
    Z, X_hat = fitted(name).transform(X_test), fitted(name).reconstruct(X_test)
    assert [z.shape for z in Z] == [(len(x), latent_dims) for x in X_test]
    assert [x.shape for x in X_hat] == [x.shape for x in X_test]
    assert all(z.dtype == np.float32 and np.isfinite(z).all() for z in Z)


@pytest.mark.parametrize("name", BASELINES)
def test_reconstruction_beats_mean_predictor(name, fitted, data):
    X, _, X_test, _ = data
    truth = np.concatenate(X_test)
    mean_only = np.broadcast_to(np.concatenate(X).mean(0), truth.shape)
    baseline_r2 = r2_score(truth, mean_only)
    model = fitted(name)
    decoders = ("ridge", "mlp") if name == "cebra" else (None,)
    for decoder in decoders:
        X_hat = model.reconstruct(X_test, decoder=decoder) if decoder else model.reconstruct(X_test)
        assert r2_score(truth, np.concatenate(X_hat)) > baseline_r2 + 0.2, decoder


def test_cebra_embedding_decodes_behaviour(fitted, data):
    X, U, X_test, U_test = data
    model = fitted("cebra")
    readout = LinearRegression().fit(np.concatenate(model.transform(X)), np.concatenate(U))
    score = readout.score(np.concatenate(model.transform(X_test)), np.concatenate(U_test))
    assert score > 0.5


def test_cebra_decoders_differ_and_are_checked(fitted, data):
    _, _, X_test, _ = data
    model = fitted("cebra")
    ridge, mlp = model.reconstruct(X_test[:1]), model.reconstruct(X_test[:1], decoder="mlp")
    assert not np.allclose(ridge[0], mlp[0])
    with pytest.raises(BaselineInputError, match="ridge"):
        model.reconstruct(X_test[:1], decoder="knn")


def test_cebra_kdtree_search_finds_the_brute_force_neighbours(data):
    import cebra

    from benediff.lvm.baselines.cebra_baseline import _KDTreeIndex

    labels = torch.from_numpy(np.concatenate(data[1]))
    noise = torch.randn(len(labels[::7]), N_BEHAV, generator=torch.Generator().manual_seed(0))
    query = labels[::7] + 0.3 * noise
    brute = cebra.distributions.ContinuousIndex(labels).search(query)
    assert torch.equal(_KDTreeIndex(labels).search(query), brute)
    assert torch.equal(_KDTreeIndex(labels).search(labels[[5, 40]]), torch.tensor([5, 40]))
    X, U, X_test, _ = data
    fits = [get_baseline("cebra", seed=0, neighbour_search=search, **TINY["cebra"]).fit(X, U)
            for search in ("kdtree", "brute")]
    np.testing.assert_array_equal(*(f.transform(X_test[:1])[0] for f in fits))
    with pytest.raises(BaselineInputError, match="neighbour_search = 'faiss'"):
        get_baseline("cebra", neighbour_search="faiss")


def test_ssl_predicts_behaviour_label_free(fitted, data):
    _, _, X_test, U_test = data
    predicted = fitted("ssl").predict_labels(X_test)
    assert r2_score(np.concatenate(U_test), np.concatenate(predicted)) > 0.6


@pytest.mark.parametrize("name", BASELINES)
def test_same_seed_same_latents(name, data):
    X_test = data[2][:2]
    first, second = tiny_fit(name, data), tiny_fit(name, data)
    other = tiny_fit(name, data, seed=1)
    for a, b, c in zip(first.transform(X_test), second.transform(X_test), other.transform(X_test)):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


@pytest.mark.parametrize("name", BASELINES)
def test_save_load_round_trip(name, data, tmp_path):
    X_test = data[2][:2]
    model = tiny_fit(name, data)
    path = tmp_path / f"{name}.pt"
    model.save(path)
    loaded = type(model).load(path)
    for a, b in zip(model.transform(X_test), loaded.transform(X_test)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.reconstruct(X_test), loaded.reconstruct(X_test)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_load_refuses_other_checkpoint(data, tmp_path):
    path = tmp_path / "ssl.pt"
    tiny_fit("ssl", data).save(path)
    with pytest.raises(BaselineInputError, match="not a pivae model file"):
        PiVAEBaseline.load(path)


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("where", ["X", "U"])
def test_nan_input_is_refused(name, where, data):
    X, U = [x.copy() for x in data[0]], [u.copy() for u in data[1]]
    (X if where == "X" else U)[3][5, 0] = np.nan
    with pytest.raises(BaselineInputError, match=rf"{where}\[trial 3\].*NaN"):
        get_baseline(name, **TINY[name]).fit(X, U)


def test_pivae_refuses_region_smaller_than_latents(data):
    X, U = [x[:, :N_BEHAV] for x in data[0]], data[1]
    with pytest.raises(BaselineInputError, match="too small"):
        get_baseline("pivae", epochs=1).fit(X, U)


def test_unknown_baseline_and_parameter():
    with pytest.raises(BaselineInputError, match="choose one of"):
        get_baseline("vae")
    with pytest.raises(BaselineInputError, match="max_iteration"):
        get_baseline("cebra", max_iteration=10)


def test_unfitted_model_cannot_save(tmp_path):
    with pytest.raises(BaselineInputError, match="not fitted"):
        get_baseline("ssl").save(tmp_path / "x.pt")
    assert not list(tmp_path.iterdir())


def test_ssl_semi_supervised_fraction(data):
    X, U, X_test, _ = data
    model = get_baseline("ssl", unlabelled_fraction=0.5, **TINY["ssl"]).fit(X, U)
    assert np.isfinite(model.history_["train"]).all()
    assert model.transform(X_test[:1])[0].shape == (len(X_test[0]), 2 * N_BEHAV)
    with pytest.raises(BaselineInputError, match="unlabelled_fraction"):
        get_baseline("ssl", unlabelled_fraction=1.0)


def test_kl_to_standard_normal_closed_form():
    mean, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.7]])
    by_hand = 0.5 * sum(m**2 + np.exp(v) - 1 - v for m, v in [(0.5, 0.2), (-1.0, -0.7)])
    assert kl_to_standard_normal(mean, logvar).item() == pytest.approx(by_hand, abs=1e-6)


def test_pivae_loss_is_the_original_zhd96_loss():
    """mean over samples of Gaussian NLL (no 2π constant) + KL(q(z|x,u) || p(z|u))."""
    torch.manual_seed(0)
    model = PiVAEBaseline(n_latents=2)
    model._build(n_neural=4, n_labels=3)
    net = model.network_
    x, u = torch.randn(5, 4), torch.randn(5, 3)
    with torch.no_grad():
        net.observation_noise_model.weight.copy_(torch.tensor([[0.3], [-0.2], [0.0], [0.5]]))
        out = net(x, u)
        loss = original_loss(net, x, out).item()
    o = {k: v.double().numpy() for k, v in out.items()}
    obs_logvar = np.array([0.3, -0.2, 0.0, 0.5])
    x_np = x.double().numpy()
    residual = o["posterior_firing_rate"] - x_np
    nll = (residual**2 / (2 * np.exp(obs_logvar)) + obs_logvar / 2).sum(1)
    mq, vq = o["posterior_mean"], np.exp(o["posterior_log_variance"])
    mp, vp = o["label_mean"], np.exp(o["label_log_variance"])
    kl = 0.5 * (np.log(vp / vq) + (vq + (mq - mp) ** 2) / vp - 1).sum(1)
    assert loss == pytest.approx((nll + kl).mean(), abs=1e-5)
    # and the posterior is the product of q(z|x) and p(z|u)
    ve = np.exp(o["encoder_log_variance"])
    np.testing.assert_allclose(vq, ve * vp / (ve + vp), rtol=1e-5)
    np.testing.assert_allclose(mq, (o["encoder_mean"] * vp + mp * ve) / (ve + vp), rtol=1e-4)


def test_params_schema_matches_constructors():
    import inspect
    from pathlib import Path

    import yaml
    from jsonschema import Draft202012Validator

    from benediff.lvm.baselines import baseline_class

    lvm_schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "lvm.schema.yaml"
    schema = yaml.safe_load(lvm_schema.read_text())["properties"]["baselines"]
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate({"ssl": {}, "cebra": {"decoder": "mlp"}})
    for name in BASELINES:
        properties = schema["properties"][name]["properties"]
        signature = inspect.signature(baseline_class(name)).parameters
        defaults = {k: p.default for k, p in signature.items()
                    if k not in ("seed", "device", "progress", "checkpoint_dir",
                                 "checkpoint_every")}
        assert set(properties) == set(defaults), name
        for key, spec in properties.items():
            expected = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
            assert spec["default"] == expected, (name, key)


@pytest.mark.parametrize("name", ["ssl", "pivae"])
def test_early_stopping_keeps_best_validation_epoch(name, data):
    X, U, X_val, U_val = data
    params = dict(TINY[name], epochs=4, patience=2, learning_rate=3e-2)
    model = get_baseline(name, **params).fit(X, U, X_val, U_val)
    history = model.history_["val"]
    assert 1 <= len(history) <= 4 and len(model.history_["train"]) == len(history)
    with torch.no_grad():
        assert model._val_loss(X_val, U_val)() == pytest.approx(min(history), rel=1e-6)


@pytest.mark.parametrize("min_delta, epochs_run", [(0.0, 8), (0.01, 4)])
def test_patience_restarts_only_on_relative_improvement(min_delta, epochs_run):
    from benediff.lvm.baselines._training import fit_loop

    # the validation loss creeps down by 0.1 % per epoch after a first real drop
    losses = iter([10.0, 5.0, 4.995, 4.990, 4.985, 4.980, 4.975, 4.970])
    module = torch.nn.Linear(1, 1)
    history = fit_loop(module, lambda batch: module.weight.sum() ** 2, lambda epoch: [None],
                       lambda: next(losses), epochs=8, lr=1e-3, patience=2,
                       min_delta=min_delta)
    assert len(history["val"]) == epochs_run
