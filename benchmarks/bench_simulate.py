"""Time and peak memory of simulating one session (default: the demo preset, one core).

    python benchmarks/bench_simulate.py                  # demo session
    python benchmarks/bench_simulate.py --preset paper --n-trials 5   # paper sizes, 5 trials

Prints wall and CPU time, time per trial, peak memory and the bytes written.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as the rule gets (threads: 1)

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

from benediff.config import validate
from benediff.simulate import params_from_config, simulate_session


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["demo", "paper"])
    parser.add_argument("--n-trials", type=int, default=None)
    args = parser.parse_args()
    config = validate({"sessions": {"bench": {"source": "simulate", "seed": 0}},
                       "simulate": {"preset": args.preset, "overrides": {"n_trials": args.n_trials}}})
    params = params_from_config("bench", config)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        cpu_start = time.process_time()
        start = time.perf_counter()
        simulate_session(tmp, params)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        written = sum(p.stat().st_size for p in Path(tmp).iterdir())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"preset={args.preset} trials={params.n_trials} movie={params.movie_shape} "
          f"views={params.view_size}px components={2 * sum(params.footprints.values())}")
    print(f"wall time      {elapsed:8.2f} s   ({elapsed / params.n_trials:.3f} s/trial)")
    print(f"CPU time       {cpu:8.2f} s   (equals wall time on an idle core)")
    print(f"peak RSS       {peak:8.1f} MB  (after imports: {rss_before:.1f} MB)")
    print(f"peak allocated {traced_peak:8.1f} MB  (tracemalloc, simulation only)")
    print(f"bytes written  {written / 1e6:8.1f} MB")


if __name__ == "__main__":
    main()
