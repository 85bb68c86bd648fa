"""Behaviour read out of frames by a regressor trained on real frames and their labels (the
specificity score's extractor when no pose model is configured), and the real trials it reads.

By default a one-hidden-layer ReLU network on average-pooled pixels (``regressor: mlp``), so the
read-out does not share the linear structure of the guidance encoder (a ridge on pixels,
``regressor: ridge``, can be moved by a pixel pattern along its weight vector that moves no
body part). It is fitted on training trials only (those not held out for the realism floor,
:func:`floor_pool`). Frames are read one trial at a time (:mod:`benediff.video.frames`).
"""

import warnings

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benediff.seeds import derive_seed
from benediff.video.frames import clips, gather, n_frames
from benediff.video.inputs import VideoPipelineError, split_trials
from benediff.video.scores import SpecificityError

POOL_CHUNK = 256  # frames converted to float and pooled at a time


def _pixels(frames, pool: int) -> np.ndarray:
    """(n, C, S, S) uint8/float frames → (n, C·(S/pool)²) float32 features in [0, 1], pooled
    ``POOL_CHUNK`` frames at a time (never the whole array in float)."""
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise SpecificityError(f"frames must be (n, C, S, S), got shape {tuple(frames.shape)}")
    scaled = len(frames) > 0 and float(frames.max()) > 1.5
    parts = []
    for start in range(0, max(len(frames), 1), POOL_CHUNK):
        x = torch.as_tensor(np.asarray(frames[start:start + POOL_CHUNK], dtype=np.float32))
        if scaled:
            x = x / 255.0
        if pool > 1:
            x = torch.nn.functional.avg_pool2d(x, pool)
        parts.append(x.flatten(1).numpy())
    return np.concatenate(parts)


REGRESSORS = ("mlp", "ridge")


class BehaviorRegressor:
    """Frame → behaviour labels from average-pooled pixels of one frame.

    ``regressor="mlp"``: standardised pixels → their first ``components`` principal components
    → one hidden ReLU layer of ``hidden`` units → the B labels (Adam, up to
    ``max_iter`` epochs, seeded); ``"ridge"``: a ridge with penalty ``alpha``.
    """

    def __init__(self, regressor: str = "mlp", alpha: float = 10.0, pool: int = 2,
                 components: int = 128, hidden: int = 64, max_iter: int = 200, seed: int = 0):
        if regressor not in REGRESSORS:
            raise SpecificityError(f"video.specificity.regressor = {regressor!r}; allowed "
                                   f"values: {list(REGRESSORS)}")
        self.regressor, self.alpha, self.pool = regressor, float(alpha), int(pool)
        self.components, self.hidden = int(components), int(hidden)
        self.max_iter, self.seed = int(max_iter), int(seed)

    def fit(self, frames, labels, names):
        labels = np.asarray(labels, dtype=np.float64)
        if labels.shape != (len(frames), len(names)):
            raise SpecificityError(f"labels have shape {labels.shape}, expected "
                                   f"({len(frames)}, {len(names)}) for behaviours {list(names)}")
        if self.regressor == "ridge":
            self.model_ = Ridge(alpha=self.alpha)
        else:
            n_components = min(self.components, len(frames),
                               _pixels(frames[:1], self.pool).shape[1])
            self.model_ = make_pipeline(
                StandardScaler(), PCA(n_components, random_state=self.seed),
                MLPRegressor(hidden_layer_sizes=(self.hidden,), max_iter=self.max_iter,
                             batch_size=min(128, len(frames)), learning_rate_init=1e-3,
                             alpha=1e-3, random_state=self.seed, tol=1e-5, n_iter_no_change=20))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(_pixels(frames, self.pool), labels)
        self.names_ = list(names)
        return self

    def predict(self, frames) -> np.ndarray:
        out = self.model_.predict(_pixels(frames, self.pool))
        return out.reshape(len(frames), len(self.names_))

    def score(self, frames, labels) -> list[float]:
        """Per-behaviour R² on held-out frames."""
        return r2_score(labels, self.predict(frames), multioutput="raw_values").tolist()


def floor_pool(ds, floor_trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool, fit): the realism floor's unscored real trials — every validation trial and
    ``floor_trials`` training trials (at most half of them) drawn with ``seed`` — and the
    training trials left to fit the regressor. Test trials are in neither."""
    train = np.asarray(split_trials(ds, "train"))
    held = np.random.default_rng(derive_seed(seed, "floor_pool")).choice(
        len(train), min(floor_trials, len(train) // 2), replace=False)
    val = np.asarray(ds.split.get("val", []), dtype=int)
    return np.concatenate([val, np.sort(train[held])]).astype(int), np.delete(train, held)


def real_clips(ds, split: str):
    """The real clips (F, C, S, S) uint8 of a split's trials, one at a time (a generator)."""
    return clips(ds.images, split_trials(ds, split))


def fit_regressor(ds, cfg: dict, rng, trials=None, seed: int = 0) -> BehaviorRegressor:
    """The frame → behaviour regressor (``video.specificity`` settings ``cfg``) on up to
    ``max_train_frames`` frames of ``trials`` (default: the training split) drawn with ``rng``."""
    trials = split_trials(ds, "train") if trials is None else trials
    frames, labels = _frames_and_labels(ds, trials, cfg["max_train_frames"], rng)
    return BehaviorRegressor(regressor=cfg["regressor"], alpha=cfg["alpha"], pool=cfg["pool"],
                             components=cfg["components"], hidden=cfg["hidden"],
                             max_iter=cfg["max_iter"], seed=seed).fit(
        frames, labels, ds.label_names)


def frames_and_labels(ds, split, limit, rng):
    """Up to ``limit`` (seeded) frames of a split's trials and their label rows."""
    return _frames_and_labels(ds, split_trials(ds, split), limit, rng)


def _frames_and_labels(ds, trials, limit, rng):
    n = n_frames(ds.images, trials)
    labels = np.concatenate([ds.labels[i] for i in trials])
    if n != len(labels):
        raise VideoPipelineError(f"session {ds.session!r}: {n} frames but {len(labels)} "
                                 "label rows in the same trials")
    keep = np.sort(rng.choice(n, min(limit, n), replace=False))
    return gather(ds.images, trials, keep), labels[keep]
