"""The one-line progress of long steps (benediff.jobs.Progress), on a clock the test drives."""

import pytest

from benediff import jobs
from benediff.jobs import Progress


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """No line written yet in this process."""
    monkeypatch.setitem(jobs.PROGRESS, "last", None)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lines_at_most_every_interval(capsys):
    clock = Clock()
    progress = Progress("diffusion training", 12, every_s=30, clock=clock)
    lines = {}
    for step in range(1, 13):
        clock.now += 10.0  # 10 s per step
        lines[step] = progress.update(step, loss=1.0 / step)
    assert [s for s, line in lines.items() if line] == [3, 6, 9, 12]
    assert lines[3] == "diffusion training: step 3/12 loss 0.3333 ETA 1m30s"
    assert lines[12] == "diffusion training: step 12/12 loss 0.08333 done in 2m00s"
    err = capsys.readouterr().err.splitlines()  # stderr: the job's log
    assert err == [lines[s] for s in (3, 6, 9, 12)]


def test_the_interval_holds_across_short_runs():
    """Many short samplings in one job: one line every interval, not one per sampling."""
    clock = Clock()
    written = []
    for video in range(6):
        progress = Progress(f"ddim sampling {video}", 4, every_s=30, clock=clock)
        for step in range(1, 5):
            clock.now += 2.5  # 10 s per sampling
            written.append(progress.update(step))
    assert [w for w in written if w] == ["ddim sampling 2: step 4/4 done in 10s",
                                         "ddim sampling 5: step 4/4 done in 10s"]


def test_resumed_run_counts_only_its_own_rate_and_notes():
    clock = Clock()
    progress = Progress("lvm fit (epochs)", 100, start=50, every_s=5, clock=clock)
    clock.now = 100.0  # 10 epochs in 100 s: 40 left at 10 s each
    assert progress.update(60, 2.5, "validation") == (
        "lvm fit (epochs): step 60/100 loss 2.5 (validation) ETA 6m40s")
    clock.now = 101.0
    assert progress.update(61) is None  # within the interval


def test_unconfigured_writes_nothing_and_console_copies_to_stdout(capsys, monkeypatch):
    clock = Clock()
    monkeypatch.setitem(jobs.PROGRESS, "every_s", None)
    assert Progress("x", 2, clock=clock).update(2) is None
    monkeypatch.setitem(jobs.PROGRESS, "every_s", 1)
    monkeypatch.setitem(jobs.PROGRESS, "console", True)
    progress = Progress("LocaNMF rank round 1 (λ rounds)", 4, clock=clock)
    clock.now = 3.0
    line = progress.update(2, note="7 components")
    assert line == "LocaNMF rank round 1 (λ rounds): step 2/4 (7 components) ETA 3s"
    out = capsys.readouterr()
    assert out.err.strip() == line and out.out.strip() == line


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (59, "59s"), (61, "1m01s"),
                                           (3600 + 120, "1h02m")])
def test_duration(seconds, text):
    assert jobs._duration(seconds) == text
