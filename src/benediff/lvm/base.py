"""The estimator API every neural latent model follows (ours and the baselines).

scikit-learn / CEBRA shape: hyper-parameters in the constructor (including ``seed`` and
``device``), ``fit`` on per-trial arrays, fitted attributes ending in ``_``.
"""

from abc import ABC, abstractmethod

import numpy as np


class LatentModelError(ValueError):
    """Bad input to a latent model; the message names what is wrong and how to fix it."""


class LatentModel(ABC):
    """Per-trial latent variable model of neural data, optionally informed by behaviour.

    ``X`` is a list of per-trial (L, N) float32 arrays and ``U`` a list of (L, B) float32
    arrays, both already normalised (z-scored with training statistics).
    """

    @abstractmethod
    def fit(self, X: list[np.ndarray], U: list[np.ndarray], X_val=None, U_val=None) -> "LatentModel":
        """Fit on training trials; ``X_val``/``U_val`` (optional) drive early stopping."""

    @abstractmethod
    def transform(self, X: list[np.ndarray]) -> list[np.ndarray]:
        """Per-trial latents (L, D): posterior means, computed from neural data only."""

    @abstractmethod
    def reconstruct(self, X: list[np.ndarray]) -> list[np.ndarray]:
        """Per-trial reconstructions (L, N) of the neural data."""

    @abstractmethod
    def save(self, path) -> None:
        """Write the fitted model to ``path``."""

    @classmethod
    @abstractmethod
    def load(cls, path) -> "LatentModel":
        """Read a model written by :meth:`save`."""


def check_trials(X, U=None, what="X") -> None:
    """Raise LatentModelError if per-trial arrays are empty, ragged in width, or non-finite."""
    if len(X) == 0:
        raise LatentModelError(f"{what}: no trials given; the split must leave at least one trial")
    widths = {x.shape[1] for x in X if x.ndim == 2}
    if any(x.ndim != 2 for x in X) or len(widths) != 1:
        raise LatentModelError(f"{what}: every trial must be a 2-D (L, N) array of one width N")
    for i, x in enumerate(X):
        if not np.all(np.isfinite(x)):
            raise LatentModelError(f"{what}: trial {i} contains NaN or inf; clean the input data")
    if U is None:
        return
    if len(U) != len(X):
        raise LatentModelError(f"{what}: {len(X)} neural trials but {len(U)} label trials")
    for i, (x, u) in enumerate(zip(X, U)):
        if u.ndim != 2 or u.shape[0] != x.shape[0]:
            raise LatentModelError(f"{what}: labels of trial {i} must be (L, B) with L = {x.shape[0]}")
        if not np.all(np.isfinite(u)):
            raise LatentModelError(f"{what}: labels of trial {i} contain NaN or inf; clean the labels")
