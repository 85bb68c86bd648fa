"""HALS block sweeps for LocaNMF: a device-agnostic torch path and a fused numba CPU path.

Both perform the same sequential (Gauss-Seidel) coordinate update over components,

    a_k <- max(0, a_k + (G_k - S_k . A) / S_kk)      (skipped when S_kk = 0)

Spatial maps are stored pixel-major, ``At`` of shape (P, n), because the spatial update of one
pixel never reads another pixel: the numba path runs the sequential component loop per pixel,
in parallel over pixels, keeping the residual ``G_p - S a_p`` up to date with rank-1 corrections
so that zero entries that stay zero cost one comparison.
"""

import os

import torch

try:
    # idle numba/OpenMP threads must not spin: on shared cores busy-waiting costs up to 14x
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numba
    import numpy as np
except ImportError:  # pragma: no cover - numba is a declared dependency
    numba = None


def use_numba(device):
    """The fused kernel runs on CPU tensors only."""
    return numba is not None and torch.device(device).type == "cpu"


def spatial_sweep(At, Gt, S, fused):
    """One sequential non-negative sweep over the columns of ``At`` in place; returns ||ΔA||².

    ``Gt`` (P, n) is the penalised linear term (C Y^T - lambda/2 d)^T, ``S`` (n, n) = C C^T.
    ``Gt`` is overwritten on the fused path.
    """
    if fused:
        Gt -= At @ S
        threads = torch.get_num_threads()
        if threads > 1 and At.numel() >= _PARALLEL_MIN_SIZE:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            return float(_numba_spatial_parallel(At.numpy(), Gt.numpy(), S.numpy()))
        return float(_numba_spatial_serial(At.numpy(), Gt.numpy(), S.numpy()))
    change = 0.0
    for k in range(At.shape[1]):
        skk = S[k, k]
        if skk <= 0:
            continue
        new = torch.clamp(At[:, k] + (Gt[:, k] - At @ S[:, k]) / skk, min=0)
        change += float(((new - At[:, k]) ** 2).sum())
        At[:, k] = new
    return change


def temporal_sweep(C, G, S, nonneg):
    """One sequential sweep over the rows of ``C`` (n, T') in place; returns ||ΔC||².

    C_k <- C_k + (G - S C)_k / S_kk, clamped at 0 when ``nonneg``.
    """
    before = C.clone()
    resid = G - S @ C
    for k in range(C.shape[0]):
        skk = S[k, k]
        if skk <= 0:
            continue
        new = C[k] + resid[k] / skk
        if nonneg:
            new = torch.clamp(new, min=0)
        delta = new - C[k]
        C[k] = new
        resid -= torch.outer(S[:, k], delta)
    return float(((C - before) ** 2).sum())


# below this many map entries, fork-join overhead outweighs the parallel sweep
_PARALLEL_MIN_SIZE = 200_000

if numba is not None:

    def _spatial_loop(At, R, S):  # pragma: no cover - compiled
        """Per pixel: R[p] already holds G_p - S a_p; sweep k sequentially, update R by rank-1."""
        n_pix, n = At.shape
        total = 0.0
        for p in numba.prange(n_pix):  # a plain range when compiled without parallel
            a = At[p]
            r = R[p]
            local = 0.0
            for k in range(n):
                skk = S[k, k]
                if skk <= 0:
                    continue
                new = a[k] + r[k] / skk
                if new < 0:
                    new = np.float32(0.0)
                delta = new - a[k]
                if delta != 0:
                    a[k] = new
                    local += delta * delta
                    for j in range(n):
                        r[j] -= S[k, j] * delta
            total += local
        return total

    _numba_spatial_parallel = numba.njit(parallel=True, cache=True)(_spatial_loop)
    _numba_spatial_serial = numba.njit(parallel=False, cache=True)(_spatial_loop)
