"""pi-VAE baseline (Zhou & Wei 2020) via ``pi-vae-pytorch`` 1.1.0, with a short training loop.

pi-VAE has no dynamics: every (trial, time bin) is one sample. The loss is
``ELBOLoss(version=2, alpha=0.0)``, which equals the original zhd96 loss: the mean over samples
of the Gaussian observation NLL plus KL(q(z|x,u) || p(z|u)) (docs/PEERS.md §2). The observation
model is Gaussian (z-scored widefield data; Poisson is invalid).

Reported path (label-free, the fair one): latents = encoder mean E q(z|x) and reconstruction =
decoder(encoder mean). The label-using path decoder(posterior mean) is available through
``reconstruct(X, U=U)`` for reference only.

The decoder is a volume-preserving GIN flow from z to x, so it needs more neural dims than
latents (``x_dim > z_dim``).
"""

import numpy as np
import torch
from pi_vae_pytorch import ELBOLoss, PiVAE

from benediff.device import torch_device

from ._common import (
    BaselineInputError,
    TorchBaseline,
    check_pairs,
    check_trials,
    seeded,
    split_like,
)
from ._training import fit_loop


def original_loss(model: PiVAE, x: torch.Tensor, out: dict) -> torch.Tensor:
    """The original pi-VAE loss for one forward pass ``out = model(x, u)``."""
    loss_fn = ELBOLoss(version=2, alpha=0.0, observation_model="gaussian", device=x.device)
    return loss_fn(x, out["posterior_firing_rate"], out["posterior_mean"],
                   out["posterior_log_variance"], out["label_mean"], out["label_log_variance"],
                   out["encoder_mean"], out["encoder_log_variance"],
                   observation_noise_model=model.observation_noise_model)


class PiVAEBaseline(TorchBaseline):
    """pi-VAE with continuous labels and a Gaussian observation model."""

    kind = "pivae"

    def __init__(self, n_latents=None, epochs=30, batch_size=200, learning_rate=5e-4,
                 patience=10, min_delta=0.01, encoder_hidden=128, encoder_layers=2,
                 label_prior_hidden=32, decoder_hidden=30, n_gin_blocks=2, gin_block_depth=2,
                 seed=0, device="cpu", progress=False, checkpoint_dir=None, checkpoint_every=1):
        self.n_latents = n_latents
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.min_delta = min_delta
        self.encoder_hidden = encoder_hidden
        self.encoder_layers = encoder_layers
        self.label_prior_hidden = label_prior_hidden
        self.decoder_hidden = decoder_hidden
        self.n_gin_blocks = n_gin_blocks
        self.gin_block_depth = gin_block_depth
        self.seed = seed
        self.device = device
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    def _check_dims(self, n_neural, n_labels):
        n_latents = self.n_latents or n_labels
        if n_neural <= n_latents:
            raise BaselineInputError(
                f"pi-VAE: the region has {n_neural} neural dims but n_latents = {n_latents}; "
                "its GIN flow decoder needs more neural dims than latents, so this region is "
                "too small: lower pivae.n_latents below the region's dims or skip pi-VAE here"
            )
        return n_latents

    def _build(self, n_neural, n_labels):
        n_latents = self._check_dims(n_neural, n_labels)
        self.n_neural_, self.n_labels_, self.n_latents_ = n_neural, n_labels, n_latents
        self.device_ = torch_device(self.device)
        self.network_ = PiVAE(
            x_dim=n_neural, u_dim=n_labels, z_dim=n_latents, discrete_labels=False,
            encoder_n_hidden_layers=self.encoder_layers,
            encoder_hidden_layer_dim=self.encoder_hidden,
            decoder_n_gin_blocks=self.n_gin_blocks, decoder_gin_block_depth=self.gin_block_depth,
            decoder_affine_hidden_layer_dim=self.decoder_hidden,
            decoder_nflow_hidden_layer_dim=self.decoder_hidden,
            decoder_observation_model="gaussian",
            label_prior_hidden_layer_dim=self.label_prior_hidden,
        ).to(self.device_)

    def fit(self, X, U, X_val=None, U_val=None):
        X, U = check_pairs(X, U)
        if X_val is not None:
            X_val, U_val = check_pairs(X_val, U_val, "X_val", "U_val")
        self._check_dims(X[0].shape[1], U[0].shape[1])
        generator = torch.Generator().manual_seed(self.seed)
        with seeded(self.seed):
            self._build(X[0].shape[1], U[0].shape[1])
            x, u = self._flat(X), self._flat(U)

            def epoch_batches(_epoch):
                order = torch.randperm(len(x), generator=generator).to(self.device_)
                return order.split(self.batch_size)

            def batch_loss(idx):
                return original_loss(self.network_, x[idx], self.network_(x[idx], u[idx]))

            self.history_ = fit_loop(
                self.network_, batch_loss, epoch_batches, self._val_loss(X_val, U_val),
                epochs=self.epochs, lr=self.learning_rate, patience=self.patience,
                min_delta=self.min_delta, progress=self.progress, desc="pi-VAE",
                samplers={"batch_generator": generator},
                **self._checkpointing(X, U, X_val, U_val))
        return self

    def _flat(self, trials):
        return torch.from_numpy(np.concatenate(trials)).to(self.device_)

    def _val_loss(self, X_val, U_val):
        if X_val is None:
            return None
        X_val, U_val = check_pairs(X_val, U_val, "X_val", "U_val")
        x, u = self._flat(X_val), self._flat(U_val)
        # The loss samples z; a fixed generator state keeps the validation score repeatable.
        def loss():
            with seeded(self.seed + 1):
                return original_loss(self.network_, x, self.network_(x, u)).item()

        return loss

    def _encoder_mean(self, X):
        self._check_fitted()
        X = check_trials(X, "X", self.n_neural_)
        with torch.no_grad():
            mean, _ = self.network_.encoder(self._flat(X))
        return X, mean

    def transform(self, X):
        X, mean = self._encoder_mean(X)
        return split_like(mean.cpu().numpy(), X)

    def reconstruct(self, X, U=None):
        """decoder(encoder mean), label-free; with ``U``, decoder(posterior mean) instead."""
        X, mean = self._encoder_mean(X)
        if U is not None:
            _, U = check_pairs(X, U)
            with torch.no_grad():
                _, enc_logvar = self.network_.encoder(self._flat(X))
                lab_mean, lab_logvar = self.network_.label_prior(self._flat(U))
                mean, _ = self.network_.compute_posterior(mean, enc_logvar, lab_mean, lab_logvar)
        return split_like(self.network_.decode(mean).cpu().numpy(), X)


