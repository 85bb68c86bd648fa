"""The fast SVD path (issue #27): mapped .dat chunks, F0 from bin sums, bfloat16 projection."""

import numpy as np
import torch

from benediff.widefield.readers import ArrayReader, open_movie, write_dat
from benediff.widefield.svd import (
    compress,
    fast_dtype,
    fit_basis,
    frame_statistics,
    project,
)


def uint16_movie(seed=0, n_t=300, shape=(20, 24), rank=5):
    """Interleaved blue/violet uint16 frames: baseline × (1 + planted low-rank ΔF/F) + noise."""
    rng = np.random.default_rng(seed)
    p = shape[0] * shape[1]
    f0 = rng.uniform(1500, 2500, p)
    maps = rng.random((2, rank, p)) * 0.03
    traces = rng.normal(size=(2, rank, n_t))
    raw = np.empty((2 * n_t, *shape), np.uint16)
    for c in range(2):
        dff = traces[c].T @ maps[c]
        frames = f0 * (1 + dff) + rng.normal(0, 5, (n_t, p))
        raw[c::2] = np.clip(np.rint(frames), 0, 65535).reshape(n_t, *shape)
    return raw


def test_mapped_dat_chunks_equal_the_in_memory_reader(tmp_path):
    raw = uint16_movie()
    path = write_dat(tmp_path, "m", raw, 2)
    a = compress(open_movie(path), 2, [0, 1], k=12, bin_size=5, chunk=40)
    b = compress(ArrayReader(raw), 2, [0, 1], k=12, bin_size=5, chunk=40)
    np.testing.assert_array_equal(a.F0, b.F0)
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_array_equal(a.SVT, b.SVT)


def test_baseline_from_bin_sums_is_the_exact_mean(tmp_path):
    raw = uint16_movie(n_t=303)  # 303 = 60 whole bins of 5 + 3 frames outside any bin
    path = write_dat(tmp_path, "m", raw, 2)
    bins, F0, _ = frame_statistics(open_movie(path), 2, [0, 1], bin_size=5, chunk=40)
    flat = raw.reshape(303, 2, -1)
    np.testing.assert_array_equal(F0, flat.sum(0, dtype=np.float64) / 303)
    means = flat[:300].reshape(60, 5, 2, -1).mean(1, dtype=np.float64).transpose(1, 0, 2)
    np.testing.assert_allclose(bins, means, rtol=1e-6)


def test_projection_equals_float64_reference():
    raw = uint16_movie(seed=1)
    reader = ArrayReader(raw)
    bins, F0, _ = frame_statistics(reader, 2, [0, 1], bin_size=5, chunk=40)
    mask = np.ones((20, 24), bool)
    mask[:2] = False
    U, _ = fit_basis(bins, F0, mask, 10)
    flat = raw.reshape(300, 2, -1).astype(np.float64)
    f0 = np.where(mask.ravel(), F0, 1.0)
    Ud = U.double().numpy()
    for dtype in (torch.float32, torch.bfloat16, fast_dtype("cpu")):
        svt = project(reader, 2, [0, 1], U, F0, mask, chunk=40, dtype=dtype)
        for c in range(2):
            ref = Ud @ (flat[:, c] / f0[c] - 1).T  # (k, T), independent of the streamed code
            got = svt[:, c::2]
            r = np.corrcoef(got.ravel(), ref.ravel())[0, 1]
            err = np.abs(got - ref).max() / np.abs(ref).max()
            assert r > 0.99999 and err < (1e-5 if dtype == torch.float32 else 1e-2), (dtype, r, err)


def test_fast_svd_reconstructs_the_movie_and_its_subspace():
    raw = uint16_movie(seed=2, rank=4)
    res = compress(ArrayReader(raw), 2, [0, 1], k=8, bin_size=5, chunk=40)
    flat = raw.reshape(300, 2, -1).astype(np.float64)
    dff = flat / flat.mean(0) - 1
    U = res.U.reshape(-1, 8)
    np.testing.assert_allclose(U.T @ U, np.eye(8), atol=1e-4)
    for c in range(2):
        recon = (U @ res.SVT[:, c::2]).T
        exact = (U @ (U.T @ dff[:, c].T)).T  # the orthogonal projection onto span(U)
        assert np.corrcoef(recon.ravel(), exact.ravel())[0, 1] > 0.9999
        # the planted rank-4 ΔF/F of each channel lies in span(U): top-4 principal angles small
        u, _, _ = np.linalg.svd(dff[:, c].T - dff[:, c].T.mean(1, keepdims=True),
                                full_matrices=False)
        cos = np.linalg.svd(u[:, :4].T @ np.linalg.qr(U)[0], compute_uv=False)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 5
