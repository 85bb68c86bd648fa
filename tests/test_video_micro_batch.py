"""The frame autoencoder's micro-batches (video.autoencoder.micro_batch, issue #27): a batch's
gradient accumulated over micro-batches is the whole batch's up to float rounding, and a batch no
larger than the micro-batch trains bit for bit as the whole-batch step did."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from pathlib import Path

from benediff.training import epoch_order
from benediff.video import autoencoder as ae

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "video.schema.yaml"
CONFIG = dict(latent_size=4, latent_channels=2, base_channels=8)


def frames(n=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 2, 16, 16), dtype=np.uint8)


def model_and_optimiser(seed=0):
    torch.manual_seed(seed)
    model = ae.FrameAutoencoder(in_channels=2, image_size=16, **CONFIG)
    return model, torch.optim.Adam(model.parameters(), lr=2e-3)


def flat(tensors):
    return torch.cat([t.detach().reshape(-1).double() for t in tensors])


def relative(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("micro_batch", [1, 3, 4, 9])
def test_micro_batches_give_the_whole_batch_gradient_and_step(micro_batch):
    """Gradient, loss and the weights after the one step equal the whole batch's to 1e-6.

    The weights are compared after an SGD step (linear in the gradient): Adam's first step is
    ±lr whatever the gradient's size, so a parameter whose gradient is only rounding noise (a
    conv bias before a GroupNorm: |g| ≈ 1e-9) moves by ±lr either way, with micro-batches or not.
    """
    data, idx = torch.from_numpy(frames()), np.array([7, 2, 9, 0, 4, 1, 8, 3, 6, 5])
    losses, grads, weights = [], [], []
    for size in (len(idx), micro_batch):  # the whole batch, then micro-batches (uneven last)
        model, _ = model_and_optimiser()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        step, calls = opt.step, []
        opt.step = lambda: calls.append(grads.append(flat(p.grad for p in model.parameters())))
        losses.append(ae.train_step(model, opt, data, idx, size, "cpu"))
        assert len(calls) == 1  # one optimiser step per batch
        step()
        weights.append(flat(model.parameters()))
    assert relative(grads[1], grads[0]) < 1e-6
    assert relative(weights[1], weights[0]) < 1e-6
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)


def old_whole_batch_training(images, epochs, batch_size, seed):
    """train_autoencoder's loop before micro-batches (its step verbatim)."""
    model, opt = model_and_optimiser(seed)
    model.train()
    data = torch.from_numpy(images)
    for epoch in range(epochs):
        order = epoch_order(seed, epoch, len(data))
        for start in range(0, len(order), batch_size):
            batch = data[order[start:start + batch_size]].float() / 255.0
            loss = F.mse_loss(model(batch), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def test_a_batch_within_the_micro_batch_trains_bit_for_bit_as_before():
    images = frames(24)
    kwargs = dict(epochs=2, batch_size=8, lr=2e-3, seed=0, progress=False, model_config=CONFIG)
    before = old_whole_batch_training(images, 2, 8, 0)
    for micro_batch in (None, 8, 100):  # auto (4096 frames of 8 channels × 16 px) or ≥ batch
        model = ae.train_autoencoder(images, micro_batch=micro_batch, **kwargs)
        for a, b in zip(model.parameters(), before.parameters()):
            assert torch.equal(a, b)


def test_auto_micro_batch_splits_the_study_and_not_the_demo():
    assert ae.auto_micro_batch(32, 128) == 16  # config/study.yaml: 4 micro-batches of 16
    assert ae.auto_micro_batch(16, 64) >= 64  # the demo's batch 64: whole, unchanged
    assert ae.auto_micro_batch(1024, 1024) == 1
    with pytest.raises(ae.AutoencoderConfigError, match="micro_batch"):
        ae.train_autoencoder(frames(4), epochs=1, batch_size=2, lr=1e-3, seed=0,
                             progress=False, model_config=CONFIG, micro_batch=0)


def test_micro_batch_is_a_described_schema_key_defaulting_to_auto():
    from benediff.config import validate

    key = yaml.safe_load(SCHEMA.read_text())["properties"]["autoencoder"]["properties"][
        "micro_batch"]
    assert key["default"] is None and "micro-batch" in key["description"]
    config = validate({"sessions": {"S": {"source": "simulate"}}})
    assert config["video"]["autoencoder"]["micro_batch"] is None
