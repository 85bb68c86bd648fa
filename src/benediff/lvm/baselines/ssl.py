"""SSL baseline: Kingma et al. (2014) M2 semi-supervised VAE with continuous labels, GRU-based.

Generative model p(u) p(z) p(x | z, u) with p(u) = p(z) = N(0, I) per time bin (labels are
z-scored) and a Gaussian p(x | z, u) whose negative log-likelihood is ``x_weight`` × the mean
squared error over neural dims, exactly the core model's reconstruction term (lvm.x_weight, 40):
with a unit-variance likelihood (0.5 × the summed squared error, 11× weaker on 7 dims) the
decoder ignored z on the demo (test R² 12 %, one of 7 dims reconstructed). Inference:
the label predictor q(u | x) and q(z | x, u), both diagonal Gaussians per time bin. They share
one bidirectional-GRU trunk over the whole trial x; u enters q(z | x, u) through a per-bin MLP
on [trunk state, u] (as M2 feeds y to its MLP). The decoder is a second bidirectional GRU.

Per trial and time bin (all terms averaged over batch × time, summed over dims):
- labelled trials:   -log p(x|z,u) + KL(q(z|x,u) || p(z)) + label_weight · (-log q(u|x))
- unlabelled trials: u ~ q(u|x), then -log p(x|z,u) + KL(q(z|x,u) || p(z)) + KL(q(u|x) || p(u))
The constant -log p(u) of labelled trials is dropped. ``unlabelled_fraction`` of the training
trials (chosen with the seed) are treated as unlabelled; the default 0 is fully supervised.

Latents (label-free): [E q(u|x), E q(z | x, u = E q(u|x))], i.e. B predicted behaviours
followed by ``n_latents`` unsupervised dims. Reconstruction: decoder(z-mean, u-mean).
"""

import numpy as np
import torch
from torch import nn

from benediff.device import torch_device
from benediff.lvm.model import fused_gru

from ._common import (
    BaselineInputError,
    TorchBaseline,
    check_pairs,
    check_trials,
    seeded,
)
from ._training import fit_loop, trial_batches

LOGVAR_RANGE = (-8.0, 8.0)


class SequenceMap(nn.Module):
    """Linear → ReLU → (bi)GRU → dropout → Linear: per-bin outputs that see the whole trial."""

    def __init__(self, n_in, n_out, hidden, n_layers=1, bidirectional=True, dropout=0.1):
        super().__init__()
        self.embed = nn.Linear(n_in, hidden)
        self.gru = nn.GRU(hidden, hidden, n_layers, batch_first=True, bidirectional=bidirectional,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), n_out)

    def forward(self, x):
        h = torch.relu(self.embed(x))
        # on CPU the GRU runs through the VAE's fused_gru (same maths, faster training; #27)
        h = fused_gru(self.gru, h) if h.device.type == "cpu" else self.gru(h)[0]
        return self.out(self.drop(h))


def gaussian_head(out):
    mean, logvar = out.chunk(2, dim=-1)
    return mean, logvar.clamp(*LOGVAR_RANGE)


def kl_to_standard_normal(mean, logvar):
    """KL(N(mean, exp logvar) || N(0, I)) summed over the last axis."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(-1)


class M2Network(nn.Module):
    """q(u|x) and q(z|x,u) share one recurrent trunk over x; u joins through a per-bin MLP."""

    def __init__(self, n_neural, n_labels, n_latents, hidden, n_layers, bidirectional, dropout):
        super().__init__()
        kw = dict(hidden=hidden, n_layers=n_layers, bidirectional=bidirectional, dropout=dropout)
        self.trunk = SequenceMap(n_neural, hidden, **kw)
        self.label_head = nn.Linear(hidden, 2 * n_labels)
        self.latent_head = nn.Sequential(
            nn.Linear(hidden + n_labels, hidden), nn.ReLU(), nn.Linear(hidden, 2 * n_latents)
        )
        self.decoder = SequenceMap(n_latents + n_labels, n_neural, **kw)

    def encode_labels(self, x):
        h = torch.relu(self.trunk(x))
        return h, *gaussian_head(self.label_head(h))

    def encode_latents(self, h, u):
        return gaussian_head(self.latent_head(torch.cat([h, u], -1)))

    def encode(self, x):
        """Label-free posterior means: predicted labels and latents given them."""
        h, u_mean, _ = self.encode_labels(x)
        z_mean, _ = self.encode_latents(h, u_mean)
        return u_mean, z_mean

    def decode(self, z, u):
        return self.decoder(torch.cat([z, u], -1))

    def loss(self, x, u, labelled, label_weight, x_weight, sample=True):
        """M2 loss averaged over trials × bins; ``labelled`` is a (batch,) bool tensor."""
        h, u_mean, u_logvar = self.encode_labels(x)
        u_draw = u_mean + (0.5 * u_logvar).exp() * torch.randn_like(u_mean) if sample else u_mean
        lab = labelled[:, None, None]
        u_in = torch.where(lab, u, u_draw)
        z_mean, z_logvar = self.encode_latents(h, u_in)
        z = z_mean + (0.5 * z_logvar).exp() * torch.randn_like(z_mean) if sample else z_mean
        x_hat = self.decode(z, u_in)
        neural_nll = x_weight * (x - x_hat).square().mean(-1)
        label_nll = 0.5 * (u_logvar + (u - u_mean).square() / u_logvar.exp()).sum(-1)
        label_term = torch.where(labelled[:, None], label_weight * label_nll,
                                 kl_to_standard_normal(u_mean, u_logvar))
        return (neural_nll + kl_to_standard_normal(z_mean, z_logvar) + label_term).mean()


class SSLBaseline(TorchBaseline):
    """Semi-supervised VAE (M2, continuous labels) on a bidirectional-GRU skeleton."""

    kind = "ssl"

    def __init__(self, n_latents=None, hidden_size=32, n_layers=1, bidirectional=True,
                 dropout=0.1, label_weight=1.0, x_weight=40.0, unlabelled_fraction=0.0, epochs=100,
                 batch_size=32, learning_rate=1e-3, patience=10, min_delta=0.01, seed=0,
                 device="cpu", progress=False, checkpoint_dir=None, checkpoint_every=1):
        if not 0.0 <= unlabelled_fraction < 1.0:
            raise BaselineInputError(
                f"ssl.unlabelled_fraction = {unlabelled_fraction}: must be in [0, 1)"
            )
        self.n_latents = n_latents
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.label_weight = label_weight
        self.x_weight = x_weight
        self.unlabelled_fraction = unlabelled_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.min_delta = min_delta
        self.seed = seed
        self.device = device
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    def _build(self, n_neural, n_labels):
        self.n_neural_, self.n_labels_ = n_neural, n_labels
        self.n_latents_ = self.n_latents or n_labels
        self.network_ = M2Network(n_neural, n_labels, self.n_latents_, self.hidden_size,
                                  self.n_layers, self.bidirectional, self.dropout)
        self.device_ = torch_device(self.device)
        self.network_.to(self.device_)

    def _tensors(self, trials):
        return [torch.from_numpy(t).to(self.device_) for t in trials]

    def fit(self, X, U, X_val=None, U_val=None):
        X, U = check_pairs(X, U)
        if X_val is not None:
            X_val, U_val = check_pairs(X_val, U_val, "X_val", "U_val")
        rng = np.random.default_rng(self.seed)
        labelled = rng.permutation(len(X)) >= round(self.unlabelled_fraction * len(X))
        with seeded(self.seed):
            self._build(X[0].shape[1], U[0].shape[1])
            xs, us = self._tensors(X), self._tensors(U)
            flags = torch.as_tensor(labelled, device=self.device_)

            def batch_loss(idx):
                x, u = torch.stack([xs[i] for i in idx]), torch.stack([us[i] for i in idx])
                return self.network_.loss(x, u, flags[idx], self.label_weight, self.x_weight)

            def epoch_batches(_epoch):
                return trial_batches([len(x) for x in X], self.batch_size, rng)

            self.history_ = fit_loop(
                self.network_, batch_loss, epoch_batches,
                self._val_loss(X_val, U_val), epochs=self.epochs, lr=self.learning_rate,
                patience=self.patience, min_delta=self.min_delta, progress=self.progress,
                desc="SSL (M2)", samplers={"batch_rng": rng},
                **self._checkpointing(X, U, X_val, U_val))
        return self

    def _val_loss(self, X_val, U_val):
        if X_val is None:
            return None
        X_val, U_val = check_pairs(X_val, U_val, "X_val", "U_val")
        xs, us = self._tensors(X_val), self._tensors(U_val)
        batches = trial_batches([len(x) for x in X_val], self.batch_size,
                                np.random.default_rng(0))

        def loss():
            total = 0.0
            for idx in batches:
                x, u = torch.stack([xs[i] for i in idx]), torch.stack([us[i] for i in idx])
                flags = torch.ones(len(idx), dtype=torch.bool, device=self.device_)
                batch = self.network_.loss(x, u, flags, self.label_weight, self.x_weight,
                                             sample=False)
                total += batch.item() * len(idx) * x.shape[1]
            return total / sum(len(x) for x in X_val)

        return loss

    @torch.no_grad()
    def _encode(self, X):
        self._check_fitted()
        X = check_trials(X, "X", self.n_neural_)
        self.network_.eval()
        return [self.network_.encode(x[None]) for x in self._tensors(X)]

    def transform(self, X):
        return [torch.cat([u, z], -1)[0].cpu().numpy() for u, z in self._encode(X)]

    @torch.no_grad()
    def reconstruct(self, X):
        return [self.network_.decode(z, u)[0].cpu().numpy() for u, z in self._encode(X)]

    def predict_labels(self, X):
        """Label-free behaviour prediction E q(u | x), per trial (L, B)."""
        return [u[0].cpu().numpy() for u, _ in self._encode(X)]


