"""Benchmark: streaming approximate SVD and haemodynamic correction (docs/WIDEFIELD.md §8.10 anchors).

Standard case: 3000 frames × 2 channels × 540×640 uint16 on disk (wfield binary), k = 200.
wfield needs ≈96 s (SVD) and ≈121 s (hemo) on 2 cores; targets ≤ 30 s each, peak RSS ≤ 6 GB.
The movie is a planted low-rank ΔF/F plus noise, written in chunks (never held in memory).

    python benchmarks/bench_svd_hemo.py [--small] [--threads N] [--keep DIR]
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benediff.widefield.hemo import hemo_correct, interpolate_violet
from benediff.widefield.readers import open_movie
from benediff.widefield.svd import compress


def write_movie(directory, n_frames, shape, rank=20, seed=0, chunk=100):
    """Interleaved blue/violet uint16 movie with planted maps·traces ΔF/F, streamed to disk."""
    rng = np.random.default_rng(seed)
    h, w = shape
    n_pix = h * w
    maps = (rng.random((2, rank, n_pix), dtype=np.float32) * 0.02)
    traces = rng.normal(size=(2, rank, n_frames)).astype(np.float32)
    f0 = rng.uniform(1500, 2500, n_pix).astype(np.float32)
    path = Path(directory) / f"bench_2_{h}_{w}_uint16.dat"
    with open(path, "wb") as fh:
        for t in range(0, n_frames, chunk):
            t1 = min(t + chunk, n_frames)
            block = np.empty((t1 - t, 2, n_pix), np.float32)
            for c in range(2):
                dff = traces[c, :, t:t1].T @ maps[c]
                block[:, c] = f0 * (1 + dff) + rng.normal(0, 5, (t1 - t, n_pix)).astype(np.float32)
            np.clip(block, 0, 65535).astype(np.uint16).tofile(fh)
    return path


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="600 frames × 2 × 270×320 quick run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the movie here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_frames, shape = (600, (270, 320)) if args.small else (3000, (540, 640))
    print(f"load before: {os.getloadavg()}  threads: {args.threads}")
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"bench_2_{shape[0]}_{shape[1]}_uint16.dat"
        t0 = time.perf_counter()
        if not path.exists():
            write_movie(directory, n_frames, shape)
        print(f"movie: {n_frames} frames × 2 ch × {shape[0]}×{shape[1]} uint16, "
              f"{path.stat().st_size / 1e9:.2f} GB on disk (written in {time.perf_counter() - t0:.1f} s)")
        reader = open_movie(path)
        t0, c0 = time.perf_counter(), time.process_time()
        res = compress(reader, 2, [0, 1], k=args.rank, chunk=256)
        t_svd, c_svd = time.perf_counter() - t0, time.process_time() - c0
        print(f"SVD (ΔF/F + binned subspace + projection, k={args.rank}): {t_svd:.1f} s wall, "
              f"{c_svd:.1f} s CPU [wfield ≈95.6 s, target ≤ 30 s]  peak RSS so far {peak_rss_gb():.2f} GB")
        U = res.U.reshape(-1, res.U.shape[-1])
        t0, c0 = time.perf_counter(), time.process_time()
        violet = interpolate_violet(res.SVT[:, 1::2])
        hemo_correct(U, res.SVT[:, 0::2], violet, fs=30.0)
        t_hemo, c_hemo = time.perf_counter() - t0, time.process_time() - c0
        print(f"hemo correction ({U.shape[0]} px): {t_hemo:.1f} s wall, {c_hemo:.1f} s CPU "
              f"[wfield ≈121 s, target ≤ 30 s]")
        print(f"peak RSS: {peak_rss_gb():.2f} GB [target ≤ 6 GB]   load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
