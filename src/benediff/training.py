"""What every trainer shares (the VAE, the LVM baselines, the frame autoencoder, the diffusion
model): the data order of an epoch, early stopping on a validation loss, and a seeded start.

Checkpoints (atomic save, content digest, same-config check, resume decision) are in
:mod:`benediff.checkpoint`; each trainer's step (warm-up, EMA, AMP, classifier-free dropout)
stays beside its model, since those steps really differ.
"""

import copy
import math
import random
from dataclasses import dataclass

import numpy as np
import torch


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of ``n`` training items in ``epoch``: a permutation fixed by (seed, epoch), so
    a resumed run sees the same batches as an uninterrupted one."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def seed_all(seed: int) -> None:
    """Seed torch, numpy's global generator and python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def significant_improvement(val: float, reference: float, min_delta: float) -> bool:
    """``val`` beats ``reference`` by more than the relative margin ``min_delta``."""
    if not math.isfinite(reference):
        return True
    return val < reference - min_delta * abs(reference)


@dataclass
class EarlyStopping:
    """Keep the weights of the best validation epoch; stop after ``patience`` epochs in which
    the loss did not beat the one at the last restart by the relative margin ``min_delta``
    (Keras-style min_delta; the kept weights still follow every improvement).

    Its fields are plain values, so ``vars(stopping)`` goes into a checkpoint and
    ``EarlyStopping(**saved)`` restores it.
    """

    patience: int
    min_delta: float = 0.0
    best_loss: float = math.inf
    best_state: dict | None = None
    stall_loss: float = math.inf  # the loss at the last restart of the patience count
    bad_epochs: int = 0

    def update(self, loss: float, module: torch.nn.Module, grace: bool = False) -> bool:
        """Record one epoch's validation ``loss``; True when training should stop.

        During ``grace`` (e.g. a warm-up in which the objective itself changes) every epoch's
        weights are kept and patience does not run.
        """
        if grace or self.best_state is None or loss < self.best_loss:
            self.best_loss, self.best_state = loss, copy.deepcopy(module.state_dict())
        if grace or significant_improvement(loss, self.stall_loss, self.min_delta):
            self.stall_loss, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
        return not grace and self.bad_epochs >= self.patience

    def restore_best(self, module: torch.nn.Module) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)
