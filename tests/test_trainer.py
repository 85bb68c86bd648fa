"""The one training loop (benediff.training.train) under every model that plugs into it: a fit
stopped by SIGTERM and rerun ends exactly as an uninterrupted one, checkpoints come at the set
interval, early stopping restores the best epoch's weights; the model files keep one layout."""

import dataclasses
import os
import signal

import numpy as np
import pytest
import torch

from benediff import training
from benediff.lvm.baselines import get_baseline
from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE
from benediff.testing.lvm import planted_dataset, planted_region
from benediff.training import Fit, Loop, TrainingInterrupted
from benediff.video import baselines as naive
from benediff.video.autoencoder import train_autoencoder
from benediff.video.train import train_diffusion

EPOCHS, EVERY = 5, 2  # checkpoints after epochs 2, 4 and 5


@pytest.fixture(scope="module", autouse=True)
def one_thread(torch_one_thread):
    """every test of this module on one torch thread (tests/conftest.py)"""


# --- the seven models, each through its public entry point: (final weights, history)


def vae_data():
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6,), seed=2)
    rd = region_data(ds, "R0_L")
    return (*rd.part("train"), *rd.part("val"))


def baseline_data(n_trials=24, length=40):
    X, U = planted_region(n_trials=n_trials, length=length, n_behaviours=3, n_dims=10)
    return X[:16], U[:16], X[16:], U[16:]


def fit_vae(ckpt, every=EVERY, **overrides):
    params = dict(max_epochs=EPOCHS, warmup_epochs=2, patience=10, batch_size=4,
                  n_unsupervised=1, beta=2.0, tc_estimator="mss", tc_max_samples=32, seed=7,
                  progress=False) | overrides
    model = BehaviorVAE(checkpoint_dir=ckpt, checkpoint_every=every, **params).fit(*vae_data())
    return model.net_.state_dict(), model.history_


def fit_baseline(name, ckpt, every=EVERY, **overrides):
    params = {"ssl": dict(hidden_size=8, batch_size=4, unlabelled_fraction=0.25),
              "pivae": dict(batch_size=128)}[name]
    params |= dict(epochs=EPOCHS, learning_rate=1e-2, patience=10, seed=1) | overrides
    model = get_baseline(name, checkpoint_dir=ckpt, checkpoint_every=every, **params)
    model.fit(*baseline_data())
    return model.network_.state_dict(), model.history_


def fit_autoencoder(ckpt, every=EVERY):
    frames = np.random.default_rng(0).integers(0, 255, (48, 2, 16, 16), dtype=np.uint8)
    model = train_autoencoder(frames, epochs=EPOCHS, batch_size=16, lr=3e-3, seed=4,
                              progress=False, checkpoint_dir=ckpt, checkpoint_every=every,
                              model_config=dict(base_channels=8, latent_size=4))
    return model.state_dict(), []


UNET = dict(channels=1, dim=8, dim_mults=(1, 2), groups=4, attn_heads=2, attn_dim_head=8)


def fit_vdm(ckpt, every=EVERY, conditional=False):
    rng = np.random.default_rng(0)
    clips = (0.8 * np.sin(rng.uniform(0, 6, (7, 1, 6, 1, 1)) + np.arange(6)[:, None, None])
             * np.ones((1, 1, 1, 4, 4))).astype(np.float32)
    extra = {}
    if conditional:
        extra = dict(cond=rng.normal(size=(7, 6, 2)).astype(np.float32), cond_dropout=0.5)
    ema, history = train_diffusion(
        clips, model_config=UNET | {"cond_dim": 2 if conditional else None},
        diffusion_config=dict(timesteps=50), steps=EPOCHS, batch_size=3, lr=3e-3,
        ema_decay=0.9, seed=11, progress=False, checkpoint_dir=ckpt, checkpoint_every=every,
        **extra)
    return ema.state_dict(), history


def fit_naive(ckpt, every=EVERY):
    z = np.random.default_rng(0).normal(size=(10, 6, 2)).astype(np.float32)
    clips = np.repeat(z[:, None, :, :1, None], 2, axis=3).repeat(2, axis=4)
    model = naive.train_naive_decoder(z, clips, hidden=8, channels=8, epochs=EPOCHS,
                                      batch_size=3, lr=0.01, seed=3, checkpoint_dir=ckpt,
                                      checkpoint_every=every)
    return model.state_dict(), []


# name: (fit, checkpoint file, the step call the SIGTERM comes at, (epoch, batch) saved then)
MODELS = {
    "vae": (fit_vae, "checkpoint.pt", 10, (2, 2)),  # 4 batches an epoch
    "ssl": (lambda ckpt, **kw: fit_baseline("ssl", ckpt, **kw), "checkpoint.pt", 10, (2, 2)),
    "pivae": (lambda ckpt, **kw: fit_baseline("pivae", ckpt, **kw), "checkpoint.pt", 12, (2, 2)),
    "autoencoder": (fit_autoencoder, "autoencoder.ckpt", 8, (2, 2)),  # 3 batches
    # one batch a step: the SIGTERM comes after a step's batch, before its end
    "vdm": (fit_vdm, "diffusion.ckpt", 3, (2, 1)),
    "cfg_vdm": (lambda ckpt, **kw: fit_vdm(ckpt, conditional=True, **kw), "diffusion.ckpt", 3,
                (2, 1)),
    "naive": (fit_naive, "naive_decoder.ckpt", 10, (2, 2)),  # 4 batches
}


def sigterm_at(monkeypatch, call: int):
    """Send this process a SIGTERM right after the ``call``-th training step."""
    real = training._run

    def run(loop, fit, state, stop):
        count = {"n": 0}

        def step(epoch, batch):
            out = fit.step(epoch, batch)
            count["n"] += 1
            if count["n"] == call:
                os.kill(os.getpid(), signal.SIGTERM)
            return out

        real(loop, dataclasses.replace(fit, step=step), state, stop)

    monkeypatch.setattr(training, "_run", run)


def record_saves(monkeypatch) -> list:
    saved, real = [], training.save_checkpoint

    def save(loop, fit, state):
        saved.append((state.done, state.batch))
        real(loop, fit, state)

    monkeypatch.setattr(training, "save_checkpoint", save)
    return saved


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("name", list(MODELS))
def test_sigterm_then_rerun_ends_as_an_uninterrupted_fit(name, tmp_path, monkeypatch, capsys):
    fit, file, call, position = MODELS[name]
    with monkeypatch.context() as patch:
        saves = record_saves(patch)
        reference, ref_history = fit(str(tmp_path / "straight"))
    assert saves == [(2, 0), (4, 0), (5, 0)]  # every EVERY epochs, and the last

    ckpt = tmp_path / "killed"
    with monkeypatch.context() as patch:
        sigterm_at(patch, call)
        with pytest.raises(TrainingInterrupted, match="SIGTERM .*state saved"):
            fit(str(ckpt))
    blob = torch.load(ckpt / file, weights_only=False)
    assert (blob["loop"]["done"], blob["loop"]["batch"]) == position
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    capsys.readouterr()

    resumed, history = fit(str(ckpt))
    assert f"resuming from {'step' if 'vdm' in name else 'epoch'} 2 of 5" in capsys.readouterr().out
    assert_same(resumed, reference)
    assert history == ref_history


def test_vae_checkpoint_interval_through_the_model(tmp_path, monkeypatch):
    saves = record_saves(monkeypatch)
    fit_vae(str(tmp_path), every=3, max_epochs=7)
    assert saves == [(3, 0), (6, 0), (7, 0)]


# --- early stopping: the weights at the end are those of the best validation epoch


def stop_early(name, epochs):
    """Fits whose validation loss stalls before the end, the best epoch not the last."""
    if name == "vae":
        ds, _ = planted_dataset(n_trials=24, n_frames=16, region_dims=(6,), seed=2)
        rd = region_data(ds, "R0_L")
        model = BehaviorVAE(max_epochs=epochs, warmup_epochs=1, patience=3, min_delta=0.0,
                            batch_size=4, lr=0.1, n_unsupervised=1, beta=1.0, tc_estimator="mss",
                            tc_max_samples=32, seed=7, progress=False)
        model.fit(*rd.part("train"), *rd.part("val"))
        return model.net_.state_dict(), [h["val_loss"] for h in model.history_]
    params = {"ssl": dict(hidden_size=8, batch_size=4, learning_rate=0.3, unlabelled_fraction=0.25),
              "pivae": dict(batch_size=64, learning_rate=3e-2)}[name]
    model = get_baseline(name, epochs=epochs, patience=2, seed=1, **params)
    model.fit(*baseline_data())
    return model.network_.state_dict(), model.history_["val"]


@pytest.mark.parametrize("name, epochs", [("vae", 14), ("ssl", 10), ("pivae", 8)])
def test_early_stopping_restores_the_best_epoch(name, epochs):
    weights, val = stop_early(name, epochs)
    best = int(np.argmin(val))
    assert best < len(val) - 1  # later epochs were worse
    # a fit that ends at the best epoch ends with that epoch's weights
    at_best, val_short = stop_early(name, best + 1)
    assert val_short == val[: best + 1]
    assert_same(weights, at_best)


# --- the loop itself, on a toy fit


def toy(total=7, every=3, patience=None, losses=None, checkpoint=None):
    module = torch.nn.Linear(1, 1, bias=False)
    optimiser = torch.optim.SGD(module.parameters(), lr=0.1)
    val = iter(losses or [])

    def step(_epoch, _batch):
        optimiser.zero_grad()
        loss = (module.weight - 3.0).pow(2).sum()
        loss.backward()
        optimiser.step()
        return loss.item()

    def end(epoch, step_losses):
        return {"epoch": epoch, "train": sum(step_losses), "val_loss": next(val, 0.0)}

    loop = Loop("toy fit", total, checkpoint=checkpoint, checkpoint_every=every,
                fingerprint={"toy": 1}, patience=patience, show="val_loss")
    fit = Fit(step, lambda epoch: [0, 1], {"module": module, "optimiser": optimiser}, module, end)
    return module, loop, fit


def test_checkpoints_at_the_interval_and_at_the_end(tmp_path, monkeypatch):
    saves = record_saves(monkeypatch)
    module, loop, fit = toy(checkpoint=tmp_path / "toy.ckpt")
    history = training.train(loop, fit)
    assert saves == [(3, 0), (6, 0), (7, 0)] and len(history) == 7
    saves.clear()
    training.train(*toy(checkpoint=None)[1:])  # no path: nothing saved
    assert saves == []


def test_early_stop_is_saved_as_finished_and_refitted(tmp_path, capsys):
    module, loop, fit = toy(patience=2, losses=[5.0, 1.0, 2.0, 3.0, 4.0],
                            checkpoint=tmp_path / "toy.ckpt")
    history = training.train(loop, fit)
    assert [h["val_loss"] for h in history] == [5.0, 1.0, 2.0, 3.0]  # stopped after 2 bad epochs
    blob = torch.load(tmp_path / "toy.ckpt", weights_only=False)
    assert blob["finished"] and blob["loop"]["done"] == 4
    best = blob["loop"]["stopping"]["best_state"]["weight"]
    assert torch.equal(module.weight.detach(), best)  # the weights after epoch 1
    capsys.readouterr()
    training.train(*toy(patience=2, losses=[5.0], checkpoint=tmp_path / "toy.ckpt")[1:])
    assert "holds a finished run (4 of 7 epoch); training afresh" in capsys.readouterr().out


def test_sigterm_without_checkpoint_path_says_nothing_was_saved(monkeypatch):
    sigterm_at(monkeypatch, 3)
    module, loop, fit = toy()
    with pytest.raises(TrainingInterrupted, match="toy fit: SIGTERM at epoch 1, batch 1; no "
                       "checkpoint path, state not saved"):
        training.train(loop, fit)


# --- model files: one layout, and the files written before it still load


def test_model_files_share_one_layout(tmp_path):
    from benediff.checkpoint import load_file
    from benediff.video.autoencoder import FrameAutoencoder
    from benediff.video.train import save_model

    X, U, _, _ = baseline_data()
    vae = BehaviorVAE(max_epochs=1, batch_size=8, seed=0).fit(X, U)
    ssl = get_baseline("ssl", hidden_size=8, epochs=1).fit(X, U)
    z = np.zeros((4, 6, 2), np.float32)
    decoder = naive.train_naive_decoder(z, np.zeros((4, 1, 6, 2, 2), np.float32), hidden=4,
                                        channels=4, epochs=1)
    vae.save(tmp_path / "vae.pt")
    ssl.save(tmp_path / "ssl.pt")
    naive.save_naive_decoder(tmp_path / "naive.pt", decoder, factor_names=["a", "b"])
    save_model(tmp_path / "ae.pt", FrameAutoencoder(image_size=8, latent_size=4), {})
    kinds = {p.stem: load_file(p) for p in tmp_path.glob("*.pt")}
    assert {k: v["kind"] for k, v in kinds.items()} == {
        "vae": "vae", "ssl": "ssl", "naive": "NaiveDecoder", "ae": "FrameAutoencoder"}
    for blob in kinds.values():
        assert all(t.device.type == "cpu" for t in blob["state_dict"].values())


def test_model_files_of_the_earlier_layout_still_load(tmp_path):
    X, U, _, _ = baseline_data()
    vae = BehaviorVAE(max_epochs=1, batch_size=8, seed=0).fit(X, U)
    torch.save({"params": vae.get_params(), "n_neural": vae.n_neural_,  # raw torch.save, no kind
                "n_behavior": vae.n_behavior_, "state_dict": vae.net_.state_dict(),
                "history": vae.history_}, tmp_path / "vae.pt")
    assert_same(BehaviorVAE.load(tmp_path / "vae.pt").net_.state_dict(), vae.net_.state_dict())
    decoder = naive.NaiveDecoder(2, (1, 2, 2), hidden=4, channels=4)
    torch.save({"config": decoder.config, "state": decoder.state_dict(), "meta": {}},
               tmp_path / "naive.pt")
    assert_same(naive.load_naive_decoder(tmp_path / "naive.pt").state_dict(), decoder.state_dict())
    naive.save_naive_decoder(tmp_path / "other.pt", decoder)
    with pytest.raises(ValueError, match="not a vae model file \\(found 'NaiveDecoder'\\)"):
        BehaviorVAE.load(tmp_path / "other.pt")
