"""Shared pieces of the LVM baselines: the LatentModel base, input checks, device, seeding."""

import contextlib
import inspect
from pathlib import Path

import numpy as np
import torch

from benediff.lvm.base import LatentModel, LatentModelError

__all__ = ["Baseline", "BaselineInputError"]


class BaselineInputError(LatentModelError):
    """Bad data or hyper-parameters for a baseline; the message says what and how to fix it."""


class Baseline(LatentModel):
    """A LatentModel whose constructor arguments are its hyper-parameters (as in sklearn)."""

    def get_params(self) -> dict:
        """Constructor arguments as plain values (lists, not tuples), for checkpoints."""
        names = inspect.signature(type(self)).parameters
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in ((k, getattr(self, k)) for k in names)}


class TorchBaseline(Baseline):
    """A baseline whose fitted state is one torch ``network_`` built by ``_build(n_neural, n_labels)``.

    Its fit runs through :func:`benediff.training.train` (``_training.fit_loop``): with
    ``checkpoint_dir`` it is resumable and SIGTERM-safe like the VAE's."""

    kind = None

    def get_params(self) -> dict:
        """Hyper-parameters (the checkpoint settings are the run's, not the model's)."""
        return {k: v for k, v in super().get_params().items()
                if k not in ("checkpoint_dir", "checkpoint_every")}

    def _checkpointing(self, X, U, X_val, U_val) -> dict:
        """``fit_loop``'s checkpoint arguments: the file, its interval and the fingerprint (the
        hyper-parameters and a digest of the data)."""
        from benediff.checkpoint import array_digest
        from ._training import CHECKPOINT_NAME, RUNTIME_KEYS

        if self.checkpoint_dir is None:
            return {}
        settings = {k: v for k, v in self.get_params().items() if k not in RUNTIME_KEYS}
        data = [array_digest(*part) for part in (X, U, X_val or [], U_val or [])]
        return {"checkpoint": Path(self.checkpoint_dir) / CHECKPOINT_NAME,
                "checkpoint_every": self.checkpoint_every,
                "fingerprint": settings | {"kind": self.kind, "data": data}}

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise BaselineInputError(f"{type(self).__name__} is not fitted: call fit() or load() first")

    def save(self, path):
        self._check_fitted()
        save_checkpoint({"kind": self.kind, "params": self.get_params(),
                         "dims": [self.n_neural_, self.n_labels_],
                         "state_dict": self.network_.state_dict(),
                         "history": self.history_}, path)

    @classmethod
    def load(cls, path):
        ckpt = load_checkpoint(path, cls.kind)
        model = cls(**ckpt["params"])
        model._build(*ckpt["dims"])
        model.network_.load_state_dict(ckpt["state_dict"])
        model.network_.eval()
        model.history_ = ckpt["history"]
        return model


def check_trials(X, name="X", n_dims=None) -> list[np.ndarray]:
    """Return ``X`` as a list of finite float32 (L, n) arrays with one common n; raise otherwise."""
    if isinstance(X, np.ndarray) and X.ndim == 3:
        X = list(X)
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        raise BaselineInputError(f"{name}: expected a non-empty list of per-trial (L, dims) arrays")
    trials = [np.asarray(x, dtype=np.float32) for x in X]
    for i, x in enumerate(trials):
        if x.ndim != 2 or x.shape[0] == 0:
            raise BaselineInputError(f"{name}[trial {i}]: shape {x.shape}, expected (L, dims)")
        if not np.isfinite(x).all():
            raise BaselineInputError(
                f"{name}[trial {i}]: {int((~np.isfinite(x)).sum())} NaN/inf values; "
                "fix the upstream stage output (or drop the trial) before fitting"
            )
    widths = {x.shape[1] for x in trials}
    if len(widths) != 1:
        raise BaselineInputError(f"{name}: trials have different widths {sorted(widths)}")
    if n_dims is not None and widths != {n_dims}:
        raise BaselineInputError(
            f"{name}: trials have {widths.pop()} dims but the model was fitted on {n_dims}"
        )
    return trials


def check_pairs(X, U, x_name="X", u_name="U"):
    """Validate neural trials and label trials together (same count, same lengths)."""
    X = check_trials(X, x_name)
    U = check_trials(U, u_name)
    if len(X) != len(U):
        raise BaselineInputError(f"{x_name} has {len(X)} trials but {u_name} has {len(U)}")
    for i, (x, u) in enumerate(zip(X, U)):
        if len(x) != len(u):
            raise BaselineInputError(
                f"trial {i}: {x_name} has {len(x)} bins but {u_name} has {len(u)}"
            )
    return X, U


@contextlib.contextmanager
def seeded(seed: int):
    """Seed torch's global RNG inside the block and restore the caller's RNG state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def split_like(flat: np.ndarray, trials) -> list[np.ndarray]:
    """Cut a (sum L, d) array back into per-trial pieces with the lengths of ``trials``."""
    bounds = np.cumsum([len(t) for t in trials])[:-1]
    return np.split(flat, bounds)


def save_checkpoint(obj: dict, path) -> None:
    """A fitted baseline's file: ``obj`` (with its ``kind``) as every model file is written
    (:func:`benediff.checkpoint.save_model_file`)."""
    from benediff.checkpoint import save_model_file

    save_model_file(path, **obj)


def load_checkpoint(path, kind: str) -> dict:
    """The fitted baseline of ``kind`` saved at ``path`` (:func:`benediff.checkpoint.load_file`
    names a missing or unreadable file); a file of another kind is a BaselineInputError."""
    from benediff.checkpoint import load_model_file

    return load_model_file(path, (kind,), error=BaselineInputError)
