import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from benediff.lvm.tc import TCError, log_importance_weights, total_correlation


def test_importance_matrix_m5_n100():
    w = log_importance_weights(5, 100).exp().numpy()
    row = np.array([0.010, 0.240, 0.250, 0.250, 0.250])
    for i in range(5):
        assert w[i] == pytest.approx(np.roll(row, i), abs=1e-12)


@pytest.mark.parametrize("m,n", [(2, 2), (7, 50), (64, 1000)])
def test_importance_rows_sum_to_one(m, n):
    w = log_importance_weights(m, n).exp()
    assert torch.allclose(w.sum(1), torch.ones(m, dtype=w.dtype), atol=1e-12)
    assert torch.allclose(torch.diagonal(w), torch.full((m,), 1 / n, dtype=w.dtype))


def test_importance_invalid_sizes():
    with pytest.raises(TCError, match="at least 2"):
        log_importance_weights(1, 10)
    with pytest.raises(TCError, match="N >= minibatch"):
        log_importance_weights(10, 5)


def _toy(n, d, sigma, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.full_like(mu, 2 * math.log(sigma))
    z = mu + sigma * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z, mu, logvar


def _reference_tc(z, mu, logvar):
    """Full-dataset TC: q(z) = mean_n N(z; mu_n, sd_n²) evaluated with scipy, independently."""
    z, mu, sd = z.numpy(), mu.numpy(), np.exp(0.5 * logvar.numpy())
    n = z.shape[0]
    ell = norm.logpdf(z[:, None, :], loc=mu[None], scale=sd[None])
    log_qz = logsumexp(ell.sum(-1), axis=1) - math.log(n)
    log_marg = (logsumexp(ell, axis=1) - math.log(n)).sum(-1)
    return float((log_qz - log_marg).mean())


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_whole_dataset_batch_is_exact(estimator):
    z, mu, logvar = _toy(60, 4, 0.3)
    tc = total_correlation(z, mu, logvar, n_data=60, estimator=estimator, chunk=7)
    assert float(tc) == pytest.approx(_reference_tc(z, mu, logvar), abs=1e-10)


def test_hand_computed_two_samples_one_dim_has_zero_tc():
    # with D = 1 the joint equals the single marginal: TC is exactly 0 for every estimator
    z, mu, logvar = _toy(2, 1, 1.0)
    for est in ("mss", "mws"):
        assert float(total_correlation(z, mu, logvar, n_data=10, estimator=est)) == pytest.approx(0, abs=1e-12)


def test_mss_close_to_reference_and_mws_offset():
    n, d, m = 500, 6, 100
    z, mu, logvar = _toy(n, d, 1.0, seed=1)
    ref = _reference_tc(z, mu, logvar)
    g = torch.Generator().manual_seed(2)
    mss, mws = [], []
    for _ in range(5):
        idx = torch.randperm(n, generator=g)[:m]
        mss.append(float(total_correlation(z[idx], mu[idx], logvar[idx], n, "mss")))
        mws.append(float(total_correlation(z[idx], mu[idx], logvar[idx], n, "mws")))
    assert abs(np.mean(mss) - ref) < 0.6
    assert np.mean(mws) - ref == pytest.approx((d - 1) * math.log(n), rel=0.1)


def test_chunking_does_not_change_value():
    z, mu, logvar = _toy(50, 3, 0.5)
    a = total_correlation(z, mu, logvar, 500, "mss", chunk=50)
    b = total_correlation(z, mu, logvar, 500, "mss", chunk=8)
    assert torch.allclose(a, b, atol=1e-12)


def test_unknown_estimator():
    z, mu, logvar = _toy(4, 2, 1.0)
    with pytest.raises(TCError, match="allowed"):
        total_correlation(z, mu, logvar, 10, "bogus")
