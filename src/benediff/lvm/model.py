"""The behaviour-informed beta-TC sequential VAE (docs/METHOD.md §2) as a LatentModel estimator."""

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from benediff.device import torch_device
from benediff.lvm.base import LatentModel, LatentModelError, check_trials
from benediff.lvm.tc import ESTIMATORS

RUNTIME_KEYS = ("device", "checkpoint_dir", "checkpoint_every", "progress")


@dataclass
class VAEParams:
    """Hyper-parameters of BehaviorVAE (built by it; its signature holds the defaults).

    ``fingerprint`` keys decide checkpoint compatibility.
    """

    n_unsupervised: int
    hidden: int | None  # None: the region's dimension N
    layers: int
    dropout: float
    use_behavior: bool
    beta: float
    tc_estimator: str
    tc_max_samples: int
    x_weight: float
    behavior_weight: float
    kl_weight: float
    warmup_epochs: int
    max_epochs: int
    patience: int
    min_delta: float  # relative validation improvement that restarts the patience count
    batch_size: int
    lr: float
    seed: int
    # run-time settings: they do not change the result, so they are not fingerprinted
    device: str
    checkpoint_dir: str | None
    checkpoint_every: int
    progress: bool | None

    def fingerprint(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in RUNTIME_KEYS}


class SeqVAENet(nn.Module):
    """Bidirectional-GRU encoder q(Z|X) and decoder p(X|Z), plus the diagonal behaviour map."""

    def __init__(self, n_neural: int, n_behavior: int, n_unsupervised: int, hidden: int,
                 layers: int, dropout: float):
        super().__init__()
        self.n_behavior = n_behavior
        n_latent = n_behavior + n_unsupervised
        gru_dropout = dropout if layers > 1 else 0.0
        self.enc_in = nn.Sequential(nn.Linear(n_neural, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.enc_rnn = nn.GRU(hidden, hidden, layers, batch_first=True, bidirectional=True,
                              dropout=gru_dropout)
        self.enc_out = nn.Linear(2 * hidden, 2 * n_latent)
        self.dec_in = nn.Sequential(nn.Linear(n_latent, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.dec_rnn = nn.GRU(hidden, hidden, layers, batch_first=True, bidirectional=True,
                              dropout=gru_dropout)
        self.dec_out = nn.Linear(2 * hidden, n_neural)
        # û_b = w_b z_b + c_b: one gain per supervised latent, no mixing across latents
        self.beh_gain = nn.Parameter(torch.ones(n_behavior))
        self.beh_bias = nn.Parameter(torch.zeros(n_behavior))

    def encode(self, x):
        h, _ = self.enc_rnn(self.enc_in(x))
        mu, logvar = self.enc_out(h).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z):
        h, _ = self.dec_rnn(self.dec_in(z))
        return self.dec_out(h)

    def predict_behavior(self, z):
        return z[..., : self.n_behavior] * self.beh_gain + self.beh_bias


def stack_trials(X, what="X") -> np.ndarray:
    lengths = {x.shape[0] for x in X}
    if len(lengths) != 1:
        raise LatentModelError(f"{what}: trials have different lengths {sorted(lengths)}; "
                               "the sequential VAE needs equal-length trials")
    return np.stack([np.asarray(x, dtype=np.float32) for x in X])


class BehaviorVAE(LatentModel):
    """Behaviour-informed, disentangled sequential VAE (one per region).

    Latents 0..B-1 are tied to behaviours 0..B-1 through a diagonal map; ``n_unsupervised``
    extra latents have no behaviour term. ``use_behavior=False`` and ``beta=0`` give the
    ablations (standard VAE: both).
    """

    def __init__(self, *, n_unsupervised: int = 0, hidden: int | None = 0, layers: int = 1,
                 dropout: float = 0.1, use_behavior: bool = True, beta: float = 4.0,
                 tc_estimator: str = "mws", tc_max_samples: int = 256, x_weight: float = 40.0,
                 behavior_weight: float = 10.0, kl_weight: float = 1.0, warmup_epochs: int = 10,
                 max_epochs: int = 200, patience: int = 20, min_delta: float = 0.01,
                 batch_size: int = 32, lr: float = 3e-3, seed: int = 0, device: str = "cpu",
                 checkpoint_dir: str | None = None, checkpoint_every: int = 5,
                 progress: bool | None = None):
        """Defaults are the config's (``lvm`` in the schema); ``hidden`` 0 or None = N."""
        self.params = VAEParams(
            n_unsupervised=n_unsupervised, hidden=hidden or None, layers=layers, dropout=dropout,
            use_behavior=use_behavior, beta=beta, tc_estimator=tc_estimator,
            tc_max_samples=tc_max_samples, x_weight=x_weight, behavior_weight=behavior_weight,
            kl_weight=kl_weight, warmup_epochs=warmup_epochs, max_epochs=max_epochs,
            patience=patience, min_delta=min_delta, batch_size=batch_size, lr=lr, seed=seed,
            device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
            progress=progress)
        if self.params.tc_estimator not in ESTIMATORS:
            raise LatentModelError(f"tc_estimator {self.params.tc_estimator!r} unknown; "
                                   f"allowed: {list(ESTIMATORS)}")

    def get_params(self) -> dict:
        return self.params.fingerprint() | {"device": self.params.device}

    def _build(self, n_neural: int, n_behavior: int) -> SeqVAENet:
        p = self.params
        n_latent = n_behavior + p.n_unsupervised
        if n_neural < n_latent:
            raise LatentModelError(
                f"region has {n_neural} neural dims but the model has {n_latent} latents "
                f"({n_behavior} behaviours + {p.n_unsupervised} unsupervised); "
                "lower lvm.n_unsupervised or use a larger region")
        torch.manual_seed(p.seed)
        return SeqVAENet(n_neural, n_behavior, p.n_unsupervised, p.hidden or n_neural,
                         p.layers, p.dropout)

    def fit(self, X, U, X_val=None, U_val=None) -> "BehaviorVAE":
        from benediff.lvm.train import train

        check_trials(X, U, "training trials")
        if X_val is not None:
            check_trials(X_val, U_val, "validation trials")
        x, u = stack_trials(X), stack_trials(U, "U")
        xv = None if X_val is None else stack_trials(X_val, "X_val")
        uv = None if U_val is None else stack_trials(U_val, "U_val")
        self.n_neural_, self.n_behavior_ = x.shape[2], u.shape[2]
        self.device_ = torch_device(self.params.device)
        self.net_ = self._build(self.n_neural_, self.n_behavior_).to(self.device_)
        self.history_ = train(self.net_, x, u, xv, uv, self.params, self.device_)
        self.best_epoch_ = min(self.history_, key=lambda h: h["val_loss"])["epoch"] if self.history_ else 0
        return self

    @property
    def n_latents_(self) -> int:
        return self.n_behavior_ + self.params.n_unsupervised

    @torch.no_grad()
    def _run(self, X, fn):
        check_trials(X, None, "X")
        self.net_.eval()
        out = []
        for x in X:
            xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device_)[None]
            out.append(fn(xt)[0].cpu().numpy())
        return out

    def transform(self, X):
        return self._run(X, lambda x: self.net_.encode(x)[0])

    def reconstruct(self, X):
        return self._run(X, lambda x: self.net_.decode(self.net_.encode(x)[0]))

    def predict_behavior(self, X):
        """Per-trial behaviour predicted from the supervised latents (L, B)."""
        return self._run(X, lambda x: self.net_.predict_behavior(self.net_.encode(x)[0]))

    def save(self, path) -> None:
        torch.save({"params": self.get_params(), "n_neural": self.n_neural_,
                    "n_behavior": self.n_behavior_, "state_dict": self.net_.state_dict(),
                    "history": self.history_}, path)

    @classmethod
    def load(cls, path, device="cpu") -> "BehaviorVAE":
        blob = torch.load(path, map_location="cpu", weights_only=False)
        est = cls(**(blob["params"] | {"device": device}))
        est.n_neural_, est.n_behavior_ = blob["n_neural"], blob["n_behavior"]
        est.device_ = torch_device(device)
        est.net_ = est._build(est.n_neural_, est.n_behavior_).to(est.device_)
        est.net_.load_state_dict(blob["state_dict"])
        est.history_ = blob["history"]
        est.best_epoch_ = min(est.history_, key=lambda h: h["val_loss"])["epoch"] if est.history_ else 0
        return est
