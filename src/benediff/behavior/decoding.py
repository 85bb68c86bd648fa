"""Mixed selectivity (Figure 1B): how well each region's raw signals decode each behaviour.

Per region, a ridge regression maps the region's neural columns at frame t to the behaviour
labels at frame t. K-fold cross-validation runs over whole trials (frames of one trial never
sit on both sides), features are standardised with training-fold statistics, and R² is computed
once per behaviour over all held-out frames pooled.
"""

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benediff.io.dataset import DatasetError


def pooled_r2(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """Per-column R² = 1 - SS_res / SS_tot over all rows (a constant column gives NaN)."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    ss_res = ((y - y_hat) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def cross_validated_r2(x_trials, y_trials, n_folds: int = 5, alpha: float = 1.0,
                       seed: int = 0) -> np.ndarray:
    """(B,) R² of predicting ``y_trials`` (list of (L, B)) from ``x_trials`` (list of (L, N))."""
    n = len(x_trials)
    if n < n_folds:
        raise DatasetError(f"{n} trials are too few for behavior.fig1b.n_folds = {n_folds}; "
                           "lower n_folds")
    predictions = [None] * n
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for train, test in folds.split(np.arange(n)):
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
        model.fit(np.concatenate([x_trials[i] for i in train]),
                  np.concatenate([y_trials[i] for i in train]))
        for i in test:
            predictions[i] = model.predict(x_trials[i])
    return pooled_r2(np.concatenate(y_trials), np.concatenate(predictions))


def mixed_selectivity(ds, regions, n_folds: int = 5, alpha: float = 1.0,
                      seed: int = 0) -> pd.DataFrame:
    """Long table (region, behavior, r2) for every configured region and behaviour label."""
    if ds.neural is None or ds.labels is None:
        raise DatasetError(f"session {ds.session!r}: Figure 1B needs both neural/ and labels/ in "
                           "the dataset; check config.dataset")
    rows = []
    for region in regions:
        r2 = cross_validated_r2(ds.region_neural(region), ds.labels, n_folds, alpha, seed)
        rows += [{"region": region, "behavior": b, "r2": float(v)}
                 for b, v in zip(ds.label_names, r2)]
    return pd.DataFrame(rows, columns=["region", "behavior", "r2"])
