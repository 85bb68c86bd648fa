"""CEBRA-Behavior baseline (cebra 0.6.1, ``conditional="time_delta"``) with neural read-outs.

CEBRA has no decoder, so reconstruction goes through regressors from the embedding to X fitted
on the training trials (docs/PEERS.md §1): a Ridge (linear) and an MLP, both reported because the
paper does not say which it used. Trials are concatenated for fitting (CEBRA has no trial
boundaries) but embedded one trial at a time, so the receptive field never crosses trials.

CEBRA's samplers seed themselves from the OS (``torch.Generator.seed()``), so ``fit`` re-seeds
them from ``seed`` to make runs repeatable on CPU.

Positive pairs (``time_delta``) are the nearest training sample, in label space, to a reference
label plus a random label change. CEBRA finds it by brute force (all N distances per query in
float32, about 97% of the fit time at N = 83k samples); ``neighbour_search="kdtree"`` finds the
same exact Euclidean nearest neighbour with a KD-tree in float64 (the same sample up to exact
ties and float32 rounding of near-ties), tens of times faster. ``"brute"`` keeps CEBRA's own.
"""

import io
import time

import cebra
import numpy as np
import torch
from scipy.spatial import cKDTree
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor

from benediff.device import torch_device

from ._common import (
    BaselineInputError,
    Baseline,
    check_pairs,
    check_trials,
    load_checkpoint,
    save_checkpoint,
    seeded,
)

DECODERS = ("ridge", "mlp")
NEIGHBOUR_SEARCHES = ("kdtree", "brute")


class _KDTreeIndex:
    """cebra's ContinuousIndex (exact Euclidean nearest neighbour of each query) on a KD-tree."""

    def __init__(self, samples: torch.Tensor):
        self.device = samples.device
        self.tree = cKDTree(samples.detach().cpu().numpy().astype(np.float64))

    def search(self, query: torch.Tensor) -> torch.Tensor:
        _, idx = self.tree.query(query.detach().cpu().numpy().astype(np.float64), k=1)
        return torch.as_tensor(idx, dtype=torch.long, device=self.device)


class _SeededCEBRA(cebra.CEBRA):
    """cebra.CEBRA whose positive/negative samplers draw from a seeded generator."""

    sampling_seed = 0
    neighbour_search = "kdtree"

    def _prepare_loader(self, dataset, max_iterations, is_multisession):
        loader, solver_name = super()._prepare_loader(dataset, max_iterations, is_multisession)
        distribution = loader.distribution
        index = getattr(distribution, "index", None)
        if self.neighbour_search == "kdtree" and isinstance(index, cebra.distributions.ContinuousIndex):
            distribution.index = _KDTreeIndex(index.dist_matrix.index)
        for offset, part in enumerate((distribution, getattr(distribution, "prior", None))):
            if isinstance(part, cebra.distributions.base.HasGenerator):
                part._generator = torch.Generator(device=part.device)
                part._generator.manual_seed(self.sampling_seed + offset)
        return loader, solver_name


class CebraBaseline(Baseline):
    """CEBRA-Behavior embedding + Ridge/MLP decoders from the embedding back to neural data."""

    kind = "cebra"

    def __init__(self, n_latents=None, model_architecture="offset10-model", batch_size=512,
                 learning_rate=3e-4, temperature=1.0, max_iterations=2000, distance="cosine",
                 time_offsets=10, num_hidden_units=32, ridge_alpha=1e-3,
                 mlp_hidden=(64, 64), mlp_max_iter=200, decoder="ridge",
                 neighbour_search="kdtree", seed=0, device="cpu", progress=False):
        if decoder not in DECODERS:
            raise BaselineInputError(f"cebra.decoder = {decoder!r}: choose one of {DECODERS}")
        if neighbour_search not in NEIGHBOUR_SEARCHES:
            raise BaselineInputError(f"cebra.neighbour_search = {neighbour_search!r}: choose one "
                                     f"of {NEIGHBOUR_SEARCHES}")
        self.n_latents = n_latents
        self.model_architecture = model_architecture
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.temperature = temperature
        self.max_iterations = max_iterations
        self.distance = distance
        self.time_offsets = time_offsets
        self.num_hidden_units = num_hidden_units
        self.ridge_alpha = ridge_alpha
        self.mlp_hidden = tuple(mlp_hidden)
        self.mlp_max_iter = mlp_max_iter
        self.decoder = decoder
        self.neighbour_search = neighbour_search
        self.seed = seed
        self.device = device
        self.progress = progress

    def _new_cebra(self, n_labels):
        model = _SeededCEBRA(
            model_architecture=self.model_architecture, batch_size=self.batch_size,
            learning_rate=self.learning_rate, temperature=self.temperature,
            output_dimension=self.n_latents or n_labels, max_iterations=self.max_iterations,
            distance=self.distance, conditional="time_delta", time_offsets=self.time_offsets,
            num_hidden_units=self.num_hidden_units, device=str(torch_device(self.device)),
            verbose=self.progress)
        model.sampling_seed = self.seed
        model.neighbour_search = self.neighbour_search
        return model

    def fit(self, X, U, X_val=None, U_val=None):
        """Fit CEBRA on the concatenated training trials, then the two decoders.

        ``X_val``/``U_val`` are accepted for the common API but unused: CEBRA runs a fixed
        number of iterations (``max_iterations``).
        """
        X, U = check_pairs(X, U)
        start = time.perf_counter(), time.process_time()
        with seeded(self.seed):
            self.cebra_ = self._new_cebra(U[0].shape[1])
            self.cebra_.fit(np.concatenate(X), np.concatenate(U))
        self.n_neural_ = X[0].shape[1]
        middle = time.perf_counter(), time.process_time()
        self._fit_decoders(np.concatenate(self.transform(X)), np.concatenate(X))
        end = time.perf_counter(), time.process_time()
        self.timings_ = {"embedding_s": middle[0] - start[0], "decoders_s": end[0] - middle[0],
                         "embedding_cpu_s": middle[1] - start[1], "decoders_cpu_s": end[1] - middle[1]}
        return self

    def _fit_decoders(self, E, X):
        ridge = Ridge(alpha=self.ridge_alpha).fit(E, X)
        mlp = MLPRegressor(hidden_layer_sizes=self.mlp_hidden, max_iter=self.mlp_max_iter,
                           early_stopping=True, random_state=self.seed).fit(E, X)
        # Stored as plain arrays so checkpoints load with torch's safe (weights-only) loader.
        self.ridge_ = [ridge.coef_.T, ridge.intercept_]
        self.mlp_ = [w for layer in zip(mlp.coefs_, mlp.intercepts_) for w in layer]

    def transform(self, X):
        self._check_fitted()
        X = check_trials(X, "X", getattr(self, "n_neural_", None))
        return [self.cebra_.transform(x).astype(np.float32) for x in X]

    def reconstruct(self, X, decoder=None):
        """Per-trial X̂ from the embedding through the ``decoder`` read-out (ridge or mlp)."""
        decoder = decoder or self.decoder
        if decoder not in DECODERS:
            raise BaselineInputError(f"decoder = {decoder!r}: choose one of {DECODERS}")
        return [self._decode(e, decoder) for e in self.transform(X)]

    def _decode(self, E, decoder):
        if decoder == "ridge":
            weight, bias = self.ridge_
            return (E @ weight + bias).astype(np.float32)
        h = E
        layers = list(zip(self.mlp_[::2], self.mlp_[1::2]))
        for weight, bias in layers[:-1]:
            h = np.maximum(h @ weight + bias, 0.0)
        weight, bias = layers[-1]
        return (h @ weight + bias).astype(np.float32)

    def _check_fitted(self):
        if not hasattr(self, "cebra_"):
            raise BaselineInputError("CebraBaseline is not fitted: call fit() or load() first")

    def save(self, path):
        self._check_fitted()
        buffer = io.BytesIO()
        self.cebra_.save(buffer)
        save_checkpoint({"kind": self.kind, "params": self.get_params(),
                         "n_neural": self.n_neural_, "cebra": buffer.getvalue(),
                         "ridge": [torch.from_numpy(np.asarray(a)) for a in self.ridge_],
                         "mlp": [torch.from_numpy(np.asarray(a)) for a in self.mlp_]}, path)

    @classmethod
    def load(cls, path):
        ckpt = load_checkpoint(path, cls.kind)
        model = cls(**ckpt["params"])
        model.cebra_ = cebra.CEBRA.load(io.BytesIO(ckpt["cebra"]))
        model.n_neural_ = ckpt["n_neural"]
        model.ridge_ = [a.numpy() for a in ckpt["ridge"]]
        model.mlp_ = [a.numpy() for a in ckpt["mlp"]]
        return model

