"""The fused CPU GRU of the sequential VAE (#27): same outputs and gradients as ``nn.GRU``."""

import numpy as np
import pytest
import torch
from torch import nn

import benediff.lvm.model as model_mod
from benediff.lvm.base import LatentModelError
from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE, _FusedGRULayer, fused_gru
from benediff.testing.lvm import planted_dataset

torch.set_num_threads(1)
CASES = [(bi, layers) for bi in (True, False) for layers in (1, 2)]


def _gru(bidirectional, layers, dropout=0.0):
    torch.manual_seed(0)
    return nn.GRU(5, 7, layers, batch_first=True, bidirectional=bidirectional,
                  dropout=dropout).double()


@pytest.mark.parametrize("bidirectional,layers", CASES)
def test_outputs_and_gradients_match_nn_gru(bidirectional, layers):
    gru = _gru(bidirectional, layers)
    x = torch.randn(3, 11, 5, dtype=torch.double, requires_grad=True)
    ours, theirs = fused_gru(gru, x), gru(x)[0]
    assert ours.shape == theirs.shape == (3, 11, 7 * (2 if bidirectional else 1))
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    weight = torch.randn_like(theirs)
    inputs = [x, *gru.parameters()]
    for a, b in zip(torch.autograd.grad((ours * weight).sum(), inputs),
                    torch.autograd.grad((theirs * weight).sum(), inputs)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


@pytest.mark.parametrize("bidirectional,layers", CASES)
def test_inference_path_matches_nn_gru(bidirectional, layers):
    gru = _gru(bidirectional, layers, dropout=0.3 if layers > 1 else 0.0).eval()
    x = torch.randn(4, 9, 5, dtype=torch.double)
    with torch.no_grad():
        torch.testing.assert_close(fused_gru(gru, x), gru(x)[0], rtol=0, atol=1e-12)


def test_gradcheck():
    torch.manual_seed(1)
    x = torch.randn(2, 5, 3, dtype=torch.double, requires_grad=True)
    w_ih, w_hh = (torch.randn(2, 12, n, dtype=torch.double, requires_grad=True) for n in (3, 4))
    b_ih, b_hh = (torch.randn(2, 12, dtype=torch.double, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(_FusedGRULayer.apply, (x, w_ih, w_hh, b_ih, b_hh))


def test_python_fallback_matches_torchscript(monkeypatch):
    gru = _gru(True, 1)
    x = torch.randn(3, 8, 5, dtype=torch.double, requires_grad=True)
    scripted = fused_gru(gru, x)
    grad_scripted = torch.autograd.grad(scripted.sum(), x)[0]
    python = (model_mod._gru_forward_steps, model_mod._gru_backward_steps, model_mod._gru_states)
    monkeypatch.setattr(model_mod, "_steps", lambda: python)
    plain = fused_gru(gru, x)
    torch.testing.assert_close(plain, scripted, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(plain.sum(), x)[0], grad_scripted,
                               rtol=0, atol=1e-12)


def test_fused_and_native_fits_agree():
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6,), seed=2)
    rd = region_data(ds, "R0_L")
    params = dict(max_epochs=3, warmup_epochs=1, batch_size=4, n_unsupervised=1, seed=3)
    fits = {rnn: BehaviorVAE(rnn=rnn, **params).fit(*rd.part("train"), *rd.part("val"))
            for rnn in ("fused", "native")}
    # same random draws and maths: the histories differ by float rounding only
    for a, b in zip(fits["fused"].history_, fits["native"].history_):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    z = [np.concatenate(m.transform(rd.X)) for m in fits.values()]
    np.testing.assert_allclose(z[0], z[1], atol=1e-3)
    assert fits["fused"].get_params() == fits["native"].get_params()  # rnn is run-time only


def test_unknown_rnn_is_refused():
    with pytest.raises(LatentModelError, match="rnn"):
        BehaviorVAE(rnn="cudnn")
