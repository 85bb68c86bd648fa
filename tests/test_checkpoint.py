"""One checkpoint policy for every trainer: resume an interrupted run, refit a finished one."""

import numpy as np
import pytest
import torch

from benediff import checkpoint
from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE
from benediff.testing.lvm import planted_dataset
from benediff.video.autoencoder import train_autoencoder

VAE = dict(max_epochs=3, warmup_epochs=1, patience=10, batch_size=4, n_unsupervised=1,
           beta=2.0, tc_estimator="mss", tc_max_samples=32, checkpoint_every=1, seed=7)


def vae_data():
    ds, _ = planted_dataset(n_trials=16, n_frames=12, region_dims=(5,), seed=2)
    rd = region_data(ds, "R0_L")
    return (*rd.part("train"), *rd.part("val"))


def test_finished_fit_is_refitted_not_reloaded(tmp_path, capsys):
    data = vae_data()
    first = BehaviorVAE(checkpoint_dir=str(tmp_path), **VAE).fit(*data)
    capsys.readouterr()
    again = BehaviorVAE(checkpoint_dir=str(tmp_path), **VAE).fit(*data)
    out = capsys.readouterr().out
    assert "holds a finished run (3 of 3 epoch)" in out and "training afresh" in out
    assert len(again.history_) == len(first.history_) == 3  # every epoch trained again
    for a, b in zip(first.net_.state_dict().values(), again.net_.state_dict().values()):
        assert torch.equal(a, b)  # the same seed gives the same model


def test_interrupted_fit_resumes_with_one_line(tmp_path, capsys):
    data = vae_data()
    BehaviorVAE(checkpoint_dir=str(tmp_path), **(VAE | {"max_epochs": 1})).fit(*data)
    blob = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert blob["fingerprint"]["code"] == checkpoint.code_version()
    # the same fit with more epochs is an interrupted run of max_epochs 3 only if the settings
    # match, so rewrite the saved settings as an interrupted 3-epoch run would have them
    blob["fingerprint"]["max_epochs"] = 3
    torch.save(blob, tmp_path / "checkpoint.pt")
    capsys.readouterr()
    model = BehaviorVAE(checkpoint_dir=str(tmp_path), **VAE).fit(*data)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "lvm fit: resuming from epoch 1 of 3" in out
    assert len(model.history_) == 3


def test_checkpoint_of_other_code_is_not_resumed(tmp_path, capsys, monkeypatch):
    frames = np.random.default_rng(0).integers(0, 255, (16, 1, 16, 16), dtype=np.uint8)
    kwargs = dict(batch_size=8, lr=1e-3, seed=3, progress=False,
                  model_config=dict(base_channels=8, latent_size=4))
    monkeypatch.setattr(checkpoint, "code_version", lambda: "0.0.1+old")
    train_autoencoder(frames, epochs=1, checkpoint_dir=tmp_path, **kwargs)
    monkeypatch.setattr(checkpoint, "code_version", lambda: "0.0.2+new")
    capsys.readouterr()
    train_autoencoder(frames, epochs=2, checkpoint_dir=tmp_path, **kwargs)
    out = capsys.readouterr().out
    assert "written by benediff 0.0.1+old, this is 0.0.2+new; training afresh" in out
    monkeypatch.undo()
    capsys.readouterr()
    # same code, 2 of 3 epochs done: resumed
    monkeypatch.setattr(checkpoint, "code_version", lambda: "0.0.2+new")
    train_autoencoder(frames, epochs=3, checkpoint_dir=tmp_path, **kwargs)
    assert "autoencoder training: resuming from epoch 2 of 3" in capsys.readouterr().out


def test_other_settings_still_stop_with_the_difference(tmp_path):
    data = vae_data()
    BehaviorVAE(checkpoint_dir=str(tmp_path), **(VAE | {"max_epochs": 1})).fit(*data)
    with pytest.raises(checkpoint.CheckpointError, match=r"beta: 2\.0 -> 3\.0.*delete the "
                       r"checkpoint directory"):
        BehaviorVAE(checkpoint_dir=str(tmp_path), **(VAE | {"beta": 3.0})).fit(*data)
