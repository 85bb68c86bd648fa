"""Specificity score (beyond the paper): how much of a generated video's behaviour is the target.

A frame → behaviour ridge regressor is trained on real frames and their labels (train split),
then read out on generated videos. For each behaviour b the temporal variance of its readout,
in units of that behaviour's variance in real data, is v_b; the specificity of a video generated
for behaviour d is v_d / Σ_b v_b (1 = only the target moves, 1/B = no preference).
"""

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score


class SpecificityError(ValueError):
    """Inputs of the specificity score disagree in shape or names."""


def _pixels(frames, pool: int) -> np.ndarray:
    """(n, C, S, S) uint8/float frames → (n, C·(S/pool)²) features in [0, 1]."""
    x = torch.as_tensor(np.asarray(frames, dtype=np.float32))
    if x.ndim != 4:
        raise SpecificityError(f"frames must be (n, C, S, S), got shape {tuple(x.shape)}")
    if x.max() > 1.5:
        x = x / 255.0
    if pool > 1:
        x = torch.nn.functional.avg_pool2d(x, pool)
    return x.flatten(1).numpy()


class BehaviorRegressor:
    """Ridge from average-pooled pixels of one frame to the B behaviour labels of that frame."""

    def __init__(self, alpha: float = 10.0, pool: int = 2):
        self.alpha, self.pool = float(alpha), int(pool)

    def fit(self, frames, labels, names):
        labels = np.asarray(labels, dtype=np.float64)
        if labels.shape != (len(frames), len(names)):
            raise SpecificityError(f"labels have shape {labels.shape}, expected "
                                   f"({len(frames)}, {len(names)}) for behaviours {list(names)}")
        self.ridge_ = Ridge(alpha=self.alpha).fit(_pixels(frames, self.pool), labels)
        self.names_ = list(names)
        self.label_var_ = labels.var(axis=0) + 1e-12
        return self

    def predict(self, frames) -> np.ndarray:
        return self.ridge_.predict(_pixels(frames, self.pool))

    def score(self, frames, labels) -> list[float]:
        """Per-behaviour R² on held-out frames."""
        return r2_score(labels, self.predict(frames), multioutput="raw_values").tolist()


def behaviour_shares(readout: np.ndarray, label_var: np.ndarray) -> np.ndarray:
    """Shares of normalised temporal variance per behaviour, (F, B) → (B,) summing to 1."""
    v = readout.var(axis=0) / label_var
    return v / v.sum()


def specificity_table(regressor: BehaviorRegressor, videos: dict) -> pd.DataFrame:
    """``videos[(region, method, behaviour)]`` = decoded frames (n_videos, F, C, S, S).

    One row per (region, method, target): the mean share of the target behaviour and the share
    of every behaviour (columns ``share_<name>``).
    """
    rows = []
    for (region, method, target), clips in sorted(videos.items()):
        if target not in regressor.names_:
            raise SpecificityError(f"target behaviour {target!r} is not among the regressor's "
                                   f"labels {regressor.names_}; check the factor names")
        shares = np.mean([behaviour_shares(regressor.predict(clip), regressor.label_var_)
                          for clip in clips], axis=0)
        row = {"region": region, "method": method, "target": target,
               "specificity": float(shares[regressor.names_.index(target)])}
        row.update({f"share_{name}": float(s) for name, s in zip(regressor.names_, shares)})
        rows.append(row)
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Target × method mean specificity (over regions)."""
    return table.pivot_table(index="target", columns="method", values="specificity", aggfunc="mean")
