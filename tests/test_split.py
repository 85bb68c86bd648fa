import numpy as np
import pytest

from benediff.io.split import SplitError, make_split, read_split, write_split


def test_blocks_partition_all_trials():
    split = make_split(25, blocks=(8, 1, 1), seed=0)
    allidx = np.sort(np.concatenate(list(split.values())))
    np.testing.assert_array_equal(allidx, np.arange(25))
    # two full blocks of 10 give exactly 2 val and 2 test trials, the 5 leftover follow the pattern
    assert len(split["val"]) >= 2 and len(split["test"]) >= 2
    for block in range(2):
        members = set(range(10 * block, 10 * block + 10))
        assert len(members & set(split["val"])) == 1
        assert len(members & set(split["test"])) == 1


def test_seeded():
    a, b = make_split(40, seed=1), make_split(40, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], make_split(40, seed=2)[k]) for k in a)


def test_too_few_trials():
    with pytest.raises(SplitError, match="too few"):
        make_split(5, blocks=(8, 1, 1))


def test_round_trip(tmp_path):
    split = make_split(30)
    write_split(tmp_path / "s.json", split)
    back = read_split(tmp_path / "s.json")
    assert all(np.array_equal(split[k], back[k]) for k in split)
