"""Total-correlation estimators over flattened (batch x time) posterior samples (docs/METHOD.md §2.1).

Both estimators approximate TC = E_q[log q(z) - sum_d log q(z_d)] of the aggregate posterior
from a minibatch of M samples out of a dataset of N:

- ``mws``: minibatch-weighted sampling with its constants (-log(N M)); a training signal only,
  since its value is offset by about (D-1) log N when posteriors overlap.
- ``mss``: minibatch-stratified sampling with the correct importance matrix: W_ii = 1/N,
  W_{i,(i+1) mod M} = (N-M+1)/(N(M-1)), else 1/(M-1); log W is added once to the joint term.
"""

import math

import torch

ESTIMATORS = ("mws", "mss")
LOG_2PI = math.log(2 * math.pi)


class TCError(ValueError):
    """Invalid arguments to a TC estimator."""


def log_importance_weights(m: int, n: int, dtype=torch.float64) -> torch.Tensor:
    """(M, M) log of the MSS importance matrix; rows sum to 1 and the diagonal is 1/N."""
    if m < 2:
        raise TCError(f"MSS needs a minibatch of at least 2 samples, got M = {m}")
    if n < m:
        raise TCError(f"MSS needs dataset size N >= minibatch size M, got N = {n} < M = {m}")
    w = torch.full((m, m), 1.0 / (m - 1), dtype=dtype)
    idx = torch.arange(m)
    w[idx, (idx + 1) % m] = (n - m + 1) / (n * (m - 1))
    w[idx, idx] = 1.0 / n
    return w.log()


def gaussian_log_density(z, mu, logvar) -> torch.Tensor:
    """log N(z_i,d; mu_j,d, exp(logvar_j,d)) as an (M_i, M_j, D) tensor."""
    const = -0.5 * (LOG_2PI + logvar)  # (M_j, D): the (M, M, D) tensor sees 3 ops, not 6
    diff = z[:, None, :] - mu[None, :, :]
    return torch.addcmul(const[None], diff * diff, torch.exp(-logvar)[None], value=-0.5)


def total_correlation(z, mu, logvar, n_data: int, estimator: str = "mws", chunk: int = 256):
    """Estimate the TC (nats per sample) from samples ``z`` of posteriors N(mu, exp(logvar)).

    ``z``, ``mu``, ``logvar`` are (M, D); ``n_data`` is the dataset size N (trials x bins).
    Rows are processed in chunks of ``chunk`` samples to bound the (chunk, M, D) tensor.
    When M == N the batch is the dataset and both estimators are replaced by the exact
    full-dataset estimate (uniform weights 1/N): the stratified weights are only unbiased over
    random batches, not exact for a single one.
    """
    if estimator not in ESTIMATORS:
        raise TCError(f"unknown TC estimator {estimator!r}; allowed: {list(ESTIMATORS)}")
    m = z.shape[0]
    if m == n_data:
        log_w = None
        const = math.log(n_data)
    elif estimator == "mws":
        log_w = None
        const = math.log(n_data * m)
    else:
        log_w = log_importance_weights(m, n_data, dtype=z.dtype).to(z.device)
        const = 0.0
    terms = []
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        ell = gaussian_log_density(z[start:stop], mu, logvar)
        joint = ell.sum(-1)
        if log_w is not None:
            joint = joint + log_w[start:stop]
            ell = ell + log_w[start:stop, :, None]
        log_qz = torch.logsumexp(joint, dim=1) - const
        log_qz_marg = (torch.logsumexp(ell, dim=1) - const).sum(-1)
        terms.append(log_qz - log_qz_marg)
    return torch.cat(terms).mean()
