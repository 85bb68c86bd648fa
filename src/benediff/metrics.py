"""Evaluation metrics for neural latent models (docs/METHOD.md §8, docs/PEERS.md §3).

- MIG (Chen et al. 2018) with disentanglement_lib's plug-in estimator: each code and each
  (continuous) behaviour discretised into 20 bins, plug-in mutual information in nats, gap of
  the top two codes divided by the behaviour's entropy, averaged over behaviours. Bins are
  ``quantile`` (equal-count, the default: one outlier frame moves one frame's bin, and every
  continuous behaviour has the same entropy, so per-behaviour gaps are comparable) or
  ``equal_width`` (disentanglement_lib's ``histogram_discretize``, kept for parity).
- MIG's scale (:func:`mig_scale`): its *floor* (the same codes against other trials' labels),
  its *ceiling* (the labels themselves used as the code, on the same frames) and the
  *calibrated* score (MIG − floor) / (ceiling − floor): 0 at chance, 1 for a code as
  disentangled as the labels are from each other.
- The relative gap (I₁ − I₂) / I₁ (:func:`relative_gap`): *not* Chen et al.'s MIG; it is
  reported only to compare scale with the paper's Tables 1–3 (docs/METHOD.md §8).
- Reconstruction R² (%) (uniform average and per dim) and RMSE. On z-scored data the RMSE is
  reported x100 (units: percent of one training standard deviation).
- Per-factor decoding: a D x B matrix of test R² (%) of 1-D linear regressions from each single
  latent to each behaviour, fitted on training trials.
"""

import numpy as np


class MetricError(ValueError):
    """Inputs a metric cannot be computed from; the message names the problem."""


BINNINGS = ("quantile", "equal_width")


def histogram_discretize(values: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Equal-width bins per row over that row's [min, max]; labels 1..n_bins (max in the last)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(values.shape, dtype=np.int64)
    for i, row in enumerate(values):
        edges = np.histogram(row, n_bins)[1][:-1]
        out[i] = np.digitize(row, edges)
    return out


def quantile_discretize(values: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Equal-count bins per row: edges at the row's 1/n_bins … (n_bins−1)/n_bins quantiles
    (repeated edges merged, so a value shared by many frames stays in one bin); labels 0..k−1.

    A single extreme value lands in the top bin and moves no edge by more than one rank.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(values.shape, dtype=np.int64)
    levels = np.arange(1, n_bins) / n_bins
    for i, row in enumerate(values):
        edges = np.unique(np.quantile(row, levels))
        out[i] = np.searchsorted(edges, row, side="right")
    return out


def discretize(values: np.ndarray, n_bins: int = 20, binning: str = "quantile") -> np.ndarray:
    """Per-row bins of ``values`` by ``binning`` (:data:`BINNINGS`)."""
    if binning == "quantile":
        return quantile_discretize(values, n_bins)
    if binning == "equal_width":
        return histogram_discretize(values, n_bins)
    raise MetricError(f"MIG binning {binning!r} is not one of {list(BINNINGS)}")


def _mutual_info_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    from sklearn.metrics import mutual_info_score  # here: fit jobs import this module, not sklearn

    return np.array([[mutual_info_score(f, c) for f in factors] for c in codes])


def _check(codes, factors, factor_names=None):
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    if codes.ndim != 2 or factors.ndim != 2 or codes.shape[1] != factors.shape[1]:
        raise MetricError(f"MIG needs codes (n_codes, n) and factors (n_factors, n) with the same n; "
                          f"got {codes.shape} and {factors.shape}")
    if codes.shape[0] < 2:
        raise MetricError(f"MIG needs at least 2 codes, got {codes.shape[0]}")
    names = factor_names or [f"factor {k}" for k in range(factors.shape[0])]
    for name, row in zip(names, factors):
        if np.ptp(row) == 0:
            raise MetricError(f"MIG: behaviour factor {name!r} is constant (zero entropy); "
                              "drop it from the labels")
    return codes, factors


def mig(codes: np.ndarray, factors: np.ndarray, code_bins: int = 20, factor_bins: int | None = 20,
        factor_names=None, binning: str = "quantile") -> float:
    """Mutual information gap. ``codes`` is (n_codes, n) and ``factors`` (n_factors, n).

    ``factor_bins=None`` keeps factor values as classes (disentanglement_lib's raw behaviour).
    """
    codes, factors = _check(codes, factors, factor_names)
    return float(np.mean(mig_gaps(codes, factors, code_bins, factor_bins, binning)[0]))


def mig_gaps(codes, factors, code_bins: int = 20, factor_bins: int | None = 20,
             binning: str = "quantile"):
    """What :func:`mig` averages, per factor: ``(gaps, normalised)`` with ``normalised[i, k]`` =
    I(code i; factor k) / H(factor k) and ``gaps[k]`` the top-two difference of column k."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    d_codes = discretize(codes, code_bins, binning)
    if factor_bins is None:  # every distinct value is its own class
        d_factors = np.array([np.unique(row, return_inverse=True)[1] for row in factors])
    else:
        d_factors = discretize(factors, factor_bins, binning)
    m = _mutual_info_matrix(d_codes, d_factors)
    from sklearn.metrics import mutual_info_score

    entropy = np.array([mutual_info_score(f, f) for f in d_factors])
    normalised = m / entropy
    top = np.sort(normalised, axis=0)[::-1]
    return top[0] - top[1], normalised


def relative_gap(codes, factors, binning: str = "quantile", factor_names=None) -> float:
    """(I₁ − I₂) / I₁ averaged over factors, I₁ ≥ I₂ the top two codes' mutual information with
    the factor. NOT Chen et al.'s MIG (no division by the factor's entropy): a code that carries
    little of a behaviour but carries it in one latent scores high. Reported only to compare
    scale with the paper's tables, whose MIGs Chen's normalisation does not reach (METHOD.md §8).
    """
    codes, factors = _check(codes, factors, factor_names)
    return _relative(mig_gaps(codes, factors, binning=binning)[1])


def _relative(normalised: np.ndarray) -> float:
    """:func:`relative_gap` from :func:`mig_gaps`' normalised matrix (the entropy cancels)."""
    top = np.sort(normalised, axis=0)[::-1]
    return float(np.mean(np.divide(top[0] - top[1], top[0], out=np.zeros(top.shape[1]),
                                   where=top[0] > 0)))


def calibrated(value: float, floor: float, ceiling: float) -> float:
    """(value − floor) / (ceiling − floor): 0 at the floor, 1 at the ceiling; NaN when the
    ceiling is not above the floor (nothing to calibrate against)."""
    span = ceiling - floor
    return float((value - floor) / span) if np.isfinite(span) and span > 1e-9 else float("nan")


def mig_scale(code_trials, factor_trials, n_shuffles: int = 10, seed: int = 0,
              factor_names=None, binning: str = "quantile") -> dict:
    """MIG of per-trial codes (L, n_codes) against per-trial labels (L, B) with its scale:
    ``mig``, ``floor`` (:func:`mig_floor`), ``ceiling`` (the MIG of the labels used as the
    code, on the same frames: what a code that is exactly the behaviours scores, which is below
    1 when behaviours share information), ``calibrated`` ((mig − floor) / (ceiling − floor))
    and ``relative_gap``, each a fraction; per factor: ``per_factor``, ``ceiling_per_factor``."""
    codes, labels = _check(np.concatenate(code_trials).T, np.concatenate(factor_trials).T,
                           factor_names)
    gaps, normalised = mig_gaps(codes, labels, binning=binning)
    ceiling_gaps = mig_gaps(labels, labels, binning=binning)[0]
    value, ceiling = float(np.mean(gaps)), float(np.mean(ceiling_gaps))
    floor = (mig_floor(code_trials, factor_trials, n_shuffles, seed, factor_names, binning)
             if len(code_trials) > 1 else float("nan"))  # one trial: nothing to shuffle
    return {"mig": value, "floor": floor, "ceiling": ceiling,
            "calibrated": calibrated(value, floor, ceiling),
            "relative_gap": _relative(normalised), "per_factor": gaps,
            "ceiling_per_factor": ceiling_gaps}


def mig_floor(code_trials, factor_trials, n_shuffles: int = 10, seed: int = 0,
              factor_names=None, binning: str = "quantile") -> float:
    """Chance level of :func:`mig` for these data: the mean MIG of the same per-trial codes
    (L, n_codes) against the factors (L, n_factors) of other trials (trials of equal length
    shuffled against each other). A MIG is meaningful only well above it."""
    if len(code_trials) != len(factor_trials) or len(code_trials) < 2:
        raise MetricError(f"MIG floor needs the same number (>= 2) of code and factor trials; "
                          f"got {len(code_trials)} and {len(factor_trials)}")
    rng = np.random.default_rng(seed)
    lengths = np.array([len(t) for t in code_trials])
    codes = np.concatenate(code_trials).T
    values = []
    for _ in range(n_shuffles):
        order = np.arange(len(code_trials))
        for length in np.unique(lengths):
            same = np.flatnonzero(lengths == length)
            order[same] = same[_derangement(len(same), rng)]
        factors = np.concatenate([factor_trials[i] for i in order]).T
        values.append(mig(codes, factors, factor_names=factor_names, binning=binning))
    return float(np.mean(values))


def _derangement(n: int, rng) -> np.ndarray:
    """A permutation of range(n) with no fixed point (n >= 2), else the identity."""
    if n < 2:
        return np.arange(n)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def r2_scores(x_true: np.ndarray, x_pred: np.ndarray) -> tuple[float, np.ndarray]:
    """R² (%) per column of (n, N) arrays and their uniform average."""
    x_true = np.asarray(x_true, dtype=np.float64)
    x_pred = np.asarray(x_pred, dtype=np.float64)
    ss_res = ((x_true - x_pred) ** 2).sum(0)
    ss_tot = ((x_true - x_true.mean(0)) ** 2).sum(0)
    if np.any(ss_tot == 0):
        raise MetricError("R²: a target column is constant on the evaluation trials")
    per_dim = 100.0 * (1.0 - ss_res / ss_tot)
    return float(per_dim.mean()), per_dim


def rmse(x_true: np.ndarray, x_pred: np.ndarray, scale: float = 100.0) -> float:
    """Root mean squared error over all entries, times ``scale`` (x100 on z-scored data)."""
    diff = np.asarray(x_true, dtype=np.float64) - np.asarray(x_pred, dtype=np.float64)
    return float(scale * np.sqrt(np.mean(diff ** 2)))


def reconstruction_metrics(x_true: list[np.ndarray], x_pred: list[np.ndarray]) -> dict:
    """R² (%) uniform and per dim, RMSE x100, over concatenated trials."""
    xt, xp = np.concatenate(x_true), np.concatenate(x_pred)
    r2, per_dim = r2_scores(xt, xp)
    return {"r2": r2, "r2_per_dim": per_dim.tolist(), "rmse": rmse(xt, xp)}


def single_latent_decoding(z_train, u_train, z_test, u_test) -> np.ndarray:
    """(D, B) test R² (%) of u_b ≈ a z_d + c fitted by least squares on the training rows."""
    z_train, u_train = np.asarray(z_train, np.float64), np.asarray(u_train, np.float64)
    z_test, u_test = np.asarray(z_test, np.float64), np.asarray(u_test, np.float64)
    zc = z_train - z_train.mean(0)
    uc = u_train - u_train.mean(0)
    var_z = (zc ** 2).sum(0)
    slope = np.divide(zc.T @ uc, var_z[:, None], out=np.zeros((zc.shape[1], uc.shape[1])),
                      where=var_z[:, None] > 0)
    intercept = u_train.mean(0)[None, :] - slope * z_train.mean(0)[:, None]
    pred = z_test.T[:, :, None] * slope[:, None, :] + intercept[:, None, :]
    ss_res = ((u_test[None] - pred) ** 2).sum(1)
    ss_tot = ((u_test - u_test.mean(0)) ** 2).sum(0)
    if np.any(ss_tot == 0):
        raise MetricError("decoding R²: a behaviour is constant on the test trials")
    return 100.0 * (1.0 - ss_res / ss_tot[None])


def lagged_design(labels: np.ndarray, lags) -> np.ndarray:
    """(L, B · n_lags) copies of ``labels`` (L, B) shifted by each lag in frames (+ = the
    neural response follows the behaviour), edges padded with the first / last frame."""
    idx = np.clip(np.arange(len(labels))[None, :] - np.asarray(list(lags))[:, None], 0,
                  len(labels) - 1)
    return np.concatenate([labels[i] for i in idx], axis=1)


def behavior_share(neural_trials, label_trials, lags=range(-5, 6), n_folds: int = 5,
                   alphas=np.logspace(-2, 4, 13)) -> float:
    """Cross-validated share of neural variance that behaviour explains linearly (0..1).

    Ridge regression (penalty chosen by leave-one-out within the training folds, sklearn
    ``RidgeCV``) from the labels at every lag in ``lags`` to all neural dims; trials are split
    into ``n_folds`` contiguous folds, so no trial is in its own training set. The share is
    1 − Σ SSE / Σ SS around the training mean, pooled over dims and folds (variance-weighted,
    as a cvR² of a region's components; Musall et al. 2019 report the same for widefield).
    """
    trials = np.arange(len(neural_trials))
    if len(trials) < n_folds:
        raise ValueError(f"behavior_share: {len(trials)} trials are fewer than n_folds={n_folds}")
    design = [lagged_design(np.asarray(u, float), lags) for u in label_trials]
    sse = sst = 0.0
    for test in np.array_split(trials, n_folds):
        train = np.setdiff1d(trials, test)
        y = np.concatenate([neural_trials[i] for i in train]).astype(float)
        y_test = np.concatenate([neural_trials[i] for i in test]).astype(float)
        predicted = ridge_predict([design[i] for i in train], y, [design[i] for i in test], alphas)
        sse += float(((y_test - predicted) ** 2).sum())
        sst += float(((y_test - y.mean(0)) ** 2).sum())
    return 1.0 - sse / sst


def ridge_predict(train_design, y_train, test_design, alphas=np.logspace(-2, 4, 13)):
    """Ridge from per-trial designs to ``y_train`` (penalty by leave-one-out, sklearn
    ``RidgeCV``; design columns standardised and ``y`` centred with training statistics);
    returns the predictions for ``test_design`` with the shape of ``y_train``'s rows."""
    from sklearn.linear_model import RidgeCV

    a = np.concatenate(train_design)
    y = np.asarray(y_train, float)
    a_mean, a_sd, y_mean = a.mean(0), a.std(0) + 1e-12, y.mean(0)
    model = RidgeCV(alphas=alphas).fit((a - a_mean) / a_sd, y - y_mean)
    test = np.concatenate(test_design)
    return model.predict((test - a_mean) / a_sd).reshape(len(test), *y.shape[1:]) + y_mean


def decoder_mig(x_train, u_train, x_test, u_test, lags=range(-15, 16, 3), factor_names=None,
                binning: str = "quantile") -> float:
    """MIG of a supervised linear decoder: the behaviours predicted from the neural data.

    Ridge regression (penalty by leave-one-out, sklearn ``RidgeCV``) from the neural trials at
    every lag in ``lags`` (bins; ±0.5 s at 30 Hz) to the labels, fitted on the training trials;
    the MIG of its test-trial predictions against the test labels. It is a reference a
    behaviour-aligned latent code can be read against: what the data let a decoder that sees the
    labels in training separate, with the same estimator as the models' MIG.
    """
    predicted = decoder_predictions(x_train, u_train, x_test, lags)
    return mig(predicted.T, np.concatenate(u_test).T, factor_names=factor_names, binning=binning)


def decoder_predictions(x_train, u_train, x_test, lags=range(-15, 16, 3)) -> np.ndarray:
    """The test-frame predictions (frames, behaviours) of :func:`decoder_mig`'s decoder."""
    return ridge_predict([lagged_design(np.asarray(x, float), lags) for x in x_train],
                         np.concatenate(u_train),
                         [lagged_design(np.asarray(x, float), lags) for x in x_test])


def label_correlations(label_trials) -> tuple[float, float]:
    """Median and max pairwise |Pearson r| of the label columns over all frames of all trials."""
    u = np.concatenate(label_trials)
    r = np.abs(np.corrcoef(u.T)[np.triu_indices(u.shape[1], 1)])
    return float(np.median(r)), float(r.max())
