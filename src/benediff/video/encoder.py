"""Linear neural encoder (eq. 7): ẑ = W_enc vec(Y) + q, q ~ N(0, Q), the guidance "classifier".

Fitted per region by ridge regression from (compressed) frames to the region's VAE posterior
means on training trials and then frozen. ``torch_forward`` is the differentiable mean map used
by guidance; q does not depend on Y so it never enters the gradient.

``standardise=True`` fits the map to latents divided by their training standard deviation, so
every factor's trajectory variance is in units of that factor's own spread (the VAE prior is
N(0, I); a fitted posterior can have factors of very different scale, and eq. 8's softmax over raw
variances would then always favour the widest factor).
"""

import json

import einops
import h5py
import numpy as np
import torch

from benediff.io.atomic import atomic_output


class EncoderError(ValueError):
    """The encoder's inputs disagree in shape, or it was used before fitting."""


class LinearEncoder:
    """Ridge map from one frame (any shape, flattened to M values) to D latent factors."""

    def __init__(self, alpha: float = 1.0, standardise: bool = True):
        if alpha < 0:
            raise EncoderError(f"video.encoder.alpha must be >= 0, got {alpha}")
        self.alpha, self.standardise = float(alpha), bool(standardise)

    def fit(self, frames, latents):
        """``frames`` (n, *frame_shape) and ``latents`` (n, D): one row per time bin."""
        frames = np.asarray(frames, dtype=np.float64)
        latents = np.asarray(latents, dtype=np.float64)
        if latents.ndim != 2:
            raise EncoderError(f"latents must be (n_bins, D), got shape {latents.shape}")
        if frames.shape[0] != latents.shape[0]:
            raise EncoderError(
                f"encoder input has {frames.shape[0]} frames but the VAE latents have "
                f"{latents.shape[0]} time bins; frames and latents must come from the same "
                "trials and frames_per_trial")
        x = frames.reshape(len(frames), -1)
        self.latent_scale_ = latents.std(0) + 1e-12 if self.standardise else np.ones(latents.shape[1])
        latents = latents / self.latent_scale_
        x_mean, z_mean = x.mean(0), latents.mean(0)
        xc, zc = x - x_mean, latents - z_mean
        gram = xc.T @ xc + self.alpha * np.eye(x.shape[1])
        self.W_enc_ = np.linalg.solve(gram, xc.T @ zc).T  # (D, M)
        self.bias_ = z_mean - self.W_enc_ @ x_mean
        residual = latents - self._mean_map(x)
        self.Q_ = np.atleast_2d(np.cov(residual, rowvar=False, bias=True))
        self.frame_shape_ = tuple(frames.shape[1:])
        return self

    @property
    def n_factors(self) -> int:
        self._check_fitted()
        return self.W_enc_.shape[0]

    def predict(self, frames) -> np.ndarray:
        """Mean map: (n, *frame_shape) → (n, D)."""
        self._check_fitted()
        frames = np.asarray(frames, dtype=np.float64)
        self._check_frame_shape(frames.shape[1:], "predict")
        return self._mean_map(frames.reshape(len(frames), -1))

    def sample(self, frames, rng) -> np.ndarray:
        """Draw ẑ = W_enc vec(Y) + q with q ~ N(0, Q)."""
        mean = self.predict(frames)
        noise = rng.multivariate_normal(np.zeros(self.n_factors), self.Q_, size=len(mean))
        return mean + noise

    def score(self, frames, latents) -> dict:
        """Uniform-average and per-factor R² of the mean map (latents in the fit's units)."""
        pred = self.predict(frames)
        latents = np.asarray(latents, dtype=np.float64) / self.latent_scale_
        from sklearn.metrics import r2_score  # here: generation jobs load the encoder, not sklearn

        return {"r2": float(r2_score(latents, pred)),
                "r2_per_factor": r2_score(latents, pred, multioutput="raw_values").tolist()}

    def torch_forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Differentiable mean map of clips (B, C, F, H, W) in diffusion layout → (B, F, D)."""
        self._check_fitted()
        self._check_frame_shape((clips.shape[1], *clips.shape[3:]), "torch_forward")
        flat = einops.rearrange(clips, "b c f h w -> b f (c h w)")
        w = torch.as_tensor(self.W_enc_, dtype=clips.dtype, device=clips.device)
        b = torch.as_tensor(self.bias_, dtype=clips.dtype, device=clips.device)
        return flat @ w.T + b

    def save(self, path, **metadata) -> None:
        self._check_fitted()
        with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
            f["W_enc"], f["bias"], f["Q"] = self.W_enc_, self.bias_, self.Q_
            f["latent_scale"] = self.latent_scale_
            f.attrs["alpha"], f.attrs["standardise"] = self.alpha, self.standardise
            f.attrs["frame_shape"] = json.dumps(list(self.frame_shape_))
            f.attrs["metadata"] = json.dumps(metadata, default=str)

    @classmethod
    def load(cls, path) -> "LinearEncoder":
        with h5py.File(path, "r") as f:
            enc = cls(alpha=float(f.attrs["alpha"]),
                      standardise=bool(f.attrs.get("standardise", False)))
            enc.W_enc_, enc.bias_, enc.Q_ = f["W_enc"][()], f["bias"][()], f["Q"][()]
            scale = f["latent_scale"][()] if "latent_scale" in f else np.ones(len(enc.bias_))
            enc.latent_scale_ = scale
            enc.frame_shape_ = tuple(json.loads(f.attrs["frame_shape"]))
            enc.metadata_ = json.loads(f.attrs["metadata"])
        return enc

    def _mean_map(self, x):
        return x @ self.W_enc_.T + self.bias_

    def _check_fitted(self):
        if not hasattr(self, "W_enc_"):
            raise EncoderError("LinearEncoder is not fitted; call fit(frames, latents) first")

    def _check_frame_shape(self, shape, where):
        if tuple(shape) != self.frame_shape_:
            raise EncoderError(
                f"LinearEncoder.{where}: frames have shape {tuple(shape)} but the encoder was "
                f"fitted on frames of shape {self.frame_shape_} (M = {int(np.prod(self.frame_shape_))}); "
                "refit the encoder on the same autoencoder latents the diffusion model uses")
