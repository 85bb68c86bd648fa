"""Kill-and-resume: an interrupted fit restarted from its checkpoint ends with identical weights."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from benediff.lvm.data import region_data
from benediff.lvm.model import BehaviorVAE
from benediff.lvm.train import CheckpointError
from benediff.testing.lvm import planted_dataset

PARAMS = dict(max_epochs=4, warmup_epochs=2, patience=10, batch_size=4, n_unsupervised=1,
              beta=2.0, tc_estimator="mss", tc_max_samples=32, checkpoint_every=1, seed=7)

CHILD = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    import benediff.lvm.train as train
    from benediff.lvm.data import region_data
    from benediff.lvm.model import BehaviorVAE
    from benediff.testing.lvm import planted_dataset

    ckpt, out, kill_at, sig = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    calls = {"n": 0}
    original = train.total_loss

    def counting_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == kill_at:
            os.kill(os.getpid(), getattr(signal, sig))
        return original(*args, **kwargs)

    train.total_loss = counting_loss
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6,), seed=2)
    rd = region_data(ds, "R0_L")
    model = BehaviorVAE(checkpoint_dir=ckpt, **PARAMS)
    model.fit(*rd.part("train"), *rd.part("val"))
    torch.save(model.net_.state_dict(), out)
""")


def _data():
    ds, _ = planted_dataset(n_trials=20, n_frames=16, region_dims=(6,), seed=2)
    return region_data(ds, "R0_L")


def _run_child(tmp_path, ckpt, out, kill_at=0, sig="SIGTERM"):
    script = tmp_path / "child.py"
    script.write_text(f"PARAMS = {PARAMS!r}\n" + CHILD)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(script), str(ckpt), str(out), str(kill_at), sig],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def reference():
    torch.set_num_threads(1)
    rd = _data()
    return BehaviorVAE(**PARAMS).fit(*rd.part("train"), *rd.part("val")).net_.state_dict()


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("sig,kill_at", [("SIGTERM", 7), ("SIGKILL", 12)])
def test_killed_fit_resumes_to_identical_weights(tmp_path, reference, sig, kill_at):
    # 16 training trials / batch 4: an epoch calls the loss 4 times plus once for validation,
    # so call 7 is batch 2 of epoch 1 and call 12 batch 2 of epoch 2
    ckpt, out = tmp_path / "ckpt", tmp_path / "final.pt"
    first = _run_child(tmp_path, ckpt, out, kill_at, sig)
    assert first.returncode != 0 and not out.exists()
    if sig == "SIGTERM":
        assert "TrainingInterrupted" in first.stderr
        state = torch.load(ckpt / "checkpoint.pt", weights_only=False)["loop"]
        assert (state["done"], state["batch"]) == (1, 2)
    second = _run_child(tmp_path, ckpt, out)
    assert second.returncode == 0, second.stderr
    _assert_same(torch.load(out), reference)


def test_checkpoint_from_other_config_is_refused(tmp_path):
    rd = _data()
    X, U = rd.part("train")
    short = PARAMS | {"max_epochs": 1}
    BehaviorVAE(checkpoint_dir=str(tmp_path), **short).fit(X, U)
    with pytest.raises(CheckpointError, match=r"beta: 2\.0 -> 3\.0") as info:
        BehaviorVAE(checkpoint_dir=str(tmp_path), **(short | {"beta": 3.0})).fit(X, U)
    assert "delete" in str(info.value)
