"""A small Adam loop with optional early stopping on a validation loss (shared by SSL, pi-VAE)."""

import numpy as np
import torch
from tqdm.auto import tqdm

from benediff.training import EarlyStopping


def trial_batches(lengths, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of trial indices; trials of one batch share a length so they stack."""
    batches = []
    for length in sorted(set(lengths)):
        idx = rng.permutation(np.flatnonzero(np.asarray(lengths) == length))
        batches += [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit_loop(module, batch_loss, epoch_batches, val_loss=None, *, epochs, lr, patience,
             min_delta=0.0, progress=False, desc="fit") -> dict:
    """Train ``module`` with Adam; keep the weights of the best validation epoch.

    ``epoch_batches(epoch)`` yields batches, ``batch_loss(batch)`` returns a scalar tensor and
    ``val_loss()`` (optional) a float. Without ``val_loss`` all epochs run and the last weights
    are kept. Patience restarts only on a validation loss better than the one at the last such
    restart by the relative margin ``min_delta`` (as in the VAE's loop); the kept weights follow
    every improvement. Returns the per-epoch history.
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    history = {"train": [], "val": []}
    stopping = EarlyStopping(patience, min_delta)
    for epoch in tqdm(range(epochs), desc=desc, disable=not progress):
        module.train()
        losses = []
        for batch in epoch_batches(epoch):
            optimizer.zero_grad()
            loss = batch_loss(batch)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history["train"].append(float(np.mean(losses)))
        if val_loss is None:
            continue
        module.eval()
        with torch.no_grad():
            current = float(val_loss())
        history["val"].append(current)
        if stopping.update(current, module):
            break
    stopping.restore_best(module)
    module.eval()
    return history
