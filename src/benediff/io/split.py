"""Train / val / test split of trials in BehaveNet-style permuted blocks."""

import json

import numpy as np

from benediff.io.atomic import atomic_output


class SplitError(ValueError):
    pass


def make_split(n_trials: int, blocks=(8, 1, 1), seed: int = 0) -> dict[str, np.ndarray]:
    """Assign trials to splits in consecutive blocks of ``sum(blocks)`` trials.

    Within every block of ``sum(blocks)`` consecutive trials, a seeded permutation of the block
    labels decides which trials go to train, val and test, so every split spans the whole
    session (slow drifts do not end up in one split).
    """
    blocks = tuple(int(b) for b in blocks)
    names = ("train", "val", "test")
    needed = sum(1 for b in blocks if b > 0)
    if n_trials < max(sum(blocks), needed):
        raise SplitError(f"{n_trials} trials are too few for split blocks {list(blocks)}: "
                         f"need at least {sum(blocks)}; lower the blocks or add trials")
    rng = np.random.default_rng(seed)
    pattern = np.repeat(np.arange(3), blocks)
    labels = np.concatenate([rng.permutation(pattern)
                             for _ in range(int(np.ceil(n_trials / len(pattern))))])[:n_trials]
    split = {name: np.flatnonzero(labels == k) for k, name in enumerate(names)}
    for name, b in zip(names, blocks):
        if b > 0 and split[name].size == 0:
            raise SplitError(f"split {name!r} would be empty with {n_trials} trials")
    return split


def write_split(path, split: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({k: v.tolist() for k, v in split.items()}, indent=1))


def read_split(path) -> dict[str, np.ndarray]:
    with open(path) as fh:
        return {k: np.asarray(v, dtype=np.int64) for k, v in json.load(fh).items()}
