"""The torch baselines' fit (SSL, pi-VAE): Adam steps run by the one loop of
:mod:`benediff.training`, with optional early stopping on a validation loss and a checkpoint."""

import numpy as np
import torch

from benediff.training import Fit, Loop
from benediff.training import train as run

CHECKPOINT_NAME = "checkpoint.pt"
RUNTIME_KEYS = ("device", "progress", "checkpoint_dir", "checkpoint_every")


def trial_batches(lengths, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of trial indices; trials of one batch share a length so they stack."""
    batches = []
    for length in sorted(set(lengths)):
        idx = rng.permutation(np.flatnonzero(np.asarray(lengths) == length))
        batches += [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit_loop(module, batch_loss, epoch_batches, val_loss=None, *, epochs, lr, patience,
             min_delta=0.0, progress=False, desc="fit", checkpoint=None, checkpoint_every=1,
             fingerprint=None, samplers=None) -> dict:
    """Train ``module`` with Adam; keep the weights of the best validation epoch.

    ``epoch_batches(epoch)`` yields batches, ``batch_loss(batch)`` returns a scalar tensor and
    ``val_loss()`` (optional) a float. Without ``val_loss`` all epochs run and the last weights
    are kept. Patience restarts only on a validation loss better than the one at the last such
    restart by the relative margin ``min_delta`` (as in the VAE's loop); the kept weights follow
    every improvement. With ``checkpoint`` (a file) the fit is resumable and SIGTERM-safe
    (:mod:`benediff.training`); ``samplers`` names the generators ``epoch_batches`` draws from,
    and ``fingerprint`` the settings and data a checkpoint must match. Returns the per-epoch
    history ``{"train": [...], "val": [...]}``.
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)

    def step(_epoch, batch):
        optimizer.zero_grad()
        loss = batch_loss(batch)
        loss.backward()
        optimizer.step()
        return loss.item()

    def end(_epoch, losses):
        record = {"train": float(np.mean(losses))}
        if val_loss is not None:
            module.eval()
            with torch.no_grad():
                record["val_loss"] = float(val_loss())
        return record

    loop = Loop(desc, epochs, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                fingerprint=fingerprint or {}, min_delta=min_delta,
                patience=None if val_loss is None else patience,
                show="train" if val_loss is None else "val_loss", bar=progress)
    state = {"module": module, "optimizer": optimizer} | (samplers or {})
    history = run(loop, Fit(step, epoch_batches, state, module, end))
    module.eval()
    return {"train": [r["train"] for r in history],
            "val": [r["val_loss"] for r in history if "val_loss" in r]}
