"""Benchmark: streaming approximate SVD and haemodynamic correction (docs/WIDEFIELD.md §8.10 anchors).

Standard case: 3000 frames × 2 channels × 540×640 uint16 on disk (wfield binary), k = 200.
wfield needs ≈96 s (SVD) and ≈121 s (hemo) on 2 cores; targets ≤ 30 s each, peak RSS ≤ 6 GB.
The movie is a planted low-rank ΔF/F plus noise, written in chunks (never held in memory).

    python benchmarks/bench_svd_hemo.py [--small] [--threads N] [--keep DIR]

Side by side with wfield 0.6.0's ``approximate_svd`` (issue #27: ≥ 3× wfield, same subspace):

    pip install --target /tmp/wfieldlib wfield==0.6.0 --no-deps
    python benchmarks/bench_svd_hemo.py --wfield /tmp/wfieldlib [--repeats 3] [--keep DIR]

runs wfield and ours alternately, each in a fresh process on the same movie file (so both see
the same page cache and the same load), and prints per run wall and CPU time and peak RSS, the
ratio of each interleaved pair, and the agreement of the two results: the principal angles of
the top-40 spatial components and the correlation of the two reconstructions U·SVT on 100
sampled frames. wfield gets its ``frames_average`` (the mean frame, which ours computes inside
its first pass) before its clock starts; wfield's own imports are outside the clock too.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
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


def run_ours(path, rank, save):
    reader = open_movie(path)
    t0, c0 = time.perf_counter(), time.process_time()
    res = compress(reader, 2, [0, 1], k=rank, chunk=256)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    U = res.U.reshape(-1, res.U.shape[-1]).T
    return wall, cpu, U, res.SVT


def run_wfield(path, rank, save, wfield_dir):
    sys.path.insert(0, str(wfield_dir))
    from wfield.decomposition import approximate_svd  # the optional oracle

    h, w = (int(x) for x in Path(path).stem.split("_")[2:4])
    dat = np.memmap(path, np.uint16, "r").reshape(-1, 2, h, w)
    average = np.zeros((2, h, w))
    for t in range(0, len(dat), 250):
        average += dat[t:t + 250].sum(0, dtype=np.float64)
    average = (average / len(dat)).astype(np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    U, SVT = approximate_svd(dat, average, k=rank)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, U.reshape(-1, U.shape[-1]).T, SVT


def worker(args):
    torch.set_num_threads(args.threads)
    if args.worker == "ours":
        wall, cpu, U, SVT = run_ours(args.movie, args.rank, args.save)
    else:
        wall, cpu, U, SVT = run_wfield(args.movie, args.rank, args.save, args.wfield)
    rss = peak_rss_gb()  # before the comparison's own arrays
    np.save(f"{args.save}_U.npy", np.ascontiguousarray(U[:40]))
    np.save(f"{args.save}_rec.npy", reconstruction(U, SVT))
    print("RESULT " + json.dumps({"wall": wall, "cpu": cpu, "rss_gb": rss}))


def reconstruction(U, SVT, n=100, seed=0):
    """U·SVT (P, n) of n frame columns sampled with a fixed seed (wfield skips the last frame)."""
    cols = np.sort(np.random.default_rng(seed).choice(SVT.shape[1] - 2, n, replace=False))
    return (U.T @ SVT[:, cols]).astype(np.float32)


def agreement(a, b):
    """Max top-40 principal angle (degrees) and reconstruction r between two saved results."""
    qa, _ = np.linalg.qr(np.load(f"{a}_U.npy").T.astype(np.float64))
    qb, _ = np.linalg.qr(np.load(f"{b}_U.npy").T.astype(np.float64))
    cos = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1)
    ra, rb = np.load(f"{a}_rec.npy").ravel(), np.load(f"{b}_rec.npy").ravel()
    return float(np.degrees(np.arccos(cos)).max()), float(np.corrcoef(ra, rb)[0, 1])


def side_by_side(args, path, directory):
    base = [sys.executable, __file__, "--movie", str(path), "--rank", str(args.rank),
            "--threads", str(args.threads), "--wfield", str(args.wfield)]
    runs = {"wfield": [], "ours": []}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "MKL_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads)}
    for rep in range(args.repeats):
        order = ("wfield", "ours") if rep % 2 == 0 else ("ours", "wfield")
        for who in order:
            save = directory / f"{who}{rep}"
            out = subprocess.run([*base, "--worker", who, "--save", str(save)], env=env,
                                 capture_output=True, text=True, check=False)
            if out.returncode:
                sys.exit(f"{who} failed:\n{out.stderr[-3000:]}")
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
            runs[who].append(json.loads(line[len("RESULT "):]))
            r = runs[who][-1]
            print(f"run {rep} {who:6s}: {r['wall']:6.1f} s wall  {r['cpu']:6.1f} s CPU  "
                  f"peak RSS {r['rss_gb']:.2f} GB   load {os.getloadavg()[0]:.1f}", flush=True)
    ratios = [w["wall"] / o["wall"] for w, o in zip(runs["wfield"], runs["ours"])]
    cpu_ratios = [w["cpu"] / o["cpu"] for w, o in zip(runs["wfield"], runs["ours"])]
    print(f"\nSVD k={args.rank}, wfield 0.6.0 approximate_svd vs ours (compress), "
          f"{args.repeats} interleaved pairs, {args.threads} threads")
    print("| | wfield | ours | wfield / ours |\n|---|---|---|---|")
    for key, unit in (("wall", "s"), ("cpu", "s"), ("rss_gb", "GB")):
        w = [r[key] for r in runs["wfield"]]
        o = [r[key] for r in runs["ours"]]
        print(f"| {key} ({unit}) | {min(w):.1f}-{max(w):.1f} | {min(o):.1f}-{max(o):.1f} | "
              f"{np.median(w) / np.median(o):.2f} (medians) |")
    print(f"pairwise wall ratios {[round(x, 2) for x in ratios]} (median "
          f"{np.median(ratios):.2f}); CPU ratios {[round(x, 2) for x in cpu_ratios]}")
    angle, r = agreement(directory / "wfield0", directory / "ours0")
    print(f"ours vs wfield: top-40 principal angles max {angle:.3f} deg, reconstruction "
          f"r {r:.6f} [target >= 0.9999]")
    if args.repeats > 1:
        angle, r = agreement(directory / "ours0", directory / "ours1")
        print(f"ours run 0 vs run 1: max angle {angle:.4f} deg, r {r:.7f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="600 frames × 2 × 270×320 quick run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the movie here")
    parser.add_argument("--wfield", type=Path, default=None,
                        help="folder holding wfield 0.6.0 (pip install --target DIR --no-deps): "
                             "run it side by side with ours")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved pairs (--wfield)")
    parser.add_argument("--worker", choices=("ours", "wfield"), help=argparse.SUPPRESS)
    parser.add_argument("--movie", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
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
        if args.wfield:
            return side_by_side(args, path, Path(tmp))
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
