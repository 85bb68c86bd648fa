"""One pipeline run at a time per working directory.

Snakemake refuses a second run whose outputs overlap a live one, but (9.27) every run removes
all locks of the directory when it exits, so a third run could then start the same fit twice
at once. This lock is our own: the first run to start jobs writes ``.snakemake/benediff-run.lock``
(pid, host, start time, command) and removes it when it ends; a run that finds the lock of a
live process stops before any job with one message. A lock left by a killed run (its pid no
longer alive on this host) is taken over.

A run killed with ``kill -9`` also leaves Snakemake's own locks (``.snakemake/locks/``), which
stop the next run at "Directory cannot be locked ... --unlock". :func:`recover` (called while the
workflow is parsed) clears both when our lock's holder is dead, with one console line; while
the holder lives, Snakemake's lock message is replaced by ours naming its pid, host and start.
"""

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

LOCK = Path(".snakemake") / "benediff-run.lock"


SNAKEMAKE_LOCKS = Path(".snakemake") / "locks"


class RunLockError(RuntimeError):
    """Another run works in this directory."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def describe(holder: dict, workdir=".") -> str:
    """The message naming a live run that holds ``workdir``."""
    return (f"another benediff run works in {Path(workdir).resolve()}: pid "
            f"{holder.get('pid')} on {holder.get('host')}, started {holder.get('started')} "
            f"({holder.get('command', '?')}); wait for it to finish, or, if no run is "
            f"active, delete {Path(workdir) / LOCK}")


def live_holder(workdir=".") -> dict | None:
    """The holder of ``workdir``'s run lock if it is alive (or on another host), else None."""
    holder = _holder(Path(workdir) / LOCK)
    if not holder:
        return None
    host = socket.gethostname()
    if holder.get("host") not in (None, host):
        return holder
    return holder if holder.get("pid") and _alive(int(holder["pid"])) else None


def recover(workdir=".") -> str | None:
    """After a killed run (its pid no longer alive on this host): remove its run lock and
    Snakemake's locks (``.snakemake/locks/``, which Snakemake would otherwise refuse to run
    past until ``--unlock``). Returns the one console line saying so, or None (nothing to do,
    or the holder is alive: then nothing is touched)."""
    path = Path(workdir) / LOCK
    holder = _holder(path)
    if path.exists() and holder is None:
        try:  # unreadable (cut while written): older than a second = left by a dead run
            stale = time.time() - path.stat().st_mtime > 1
        except OSError:
            return None
        if not stale:
            return None
        holder = {}
    if holder is None or live_holder(workdir) is not None:
        return None
    locks = Path(workdir) / SNAKEMAKE_LOCKS
    cleared = [p for p in (locks.glob("*.lock") if locks.is_dir() else ())]
    for p in cleared:
        p.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return (f"benediff: the run of pid {holder.get('pid', '?')} (started "
            f"{holder.get('started', '?')}) is no longer alive; cleared its locks ({LOCK}"
            + (f" and {len(cleared)} in {SNAKEMAKE_LOCKS}/" if cleared else "") + ")")


def acquire(workdir=".", pid: int | None = None) -> Path:
    """Take the run lock of ``workdir``; raise :class:`RunLockError` if a live run holds it."""
    path = Path(workdir) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": pid or os.getpid(), "host": socket.gethostname(),
          "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
          "command": " ".join(sys.argv)}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path) or {}
            other_host = holder.get("host") not in (None, me["host"])
            if other_host or (holder.get("pid") and _alive(int(holder["pid"]))):
                raise RunLockError(describe(holder, workdir)) from None
            path.unlink(missing_ok=True)  # left by a run that was killed: take it over
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return path
    raise RunLockError(f"could not take the run lock {path}; delete it if no run is active")


def release(workdir=".", pid: int | None = None) -> None:
    """Remove the run lock if this process (``pid``) holds it."""
    path = Path(workdir) / LOCK
    holder = _holder(path)
    if holder and holder.get("pid") == (pid or os.getpid()):
        path.unlink(missing_ok=True)


def name_holder_in_lock_error(exception_class, error_class, message: str) -> bool:
    """Make Snakemake's own "directory cannot be locked" error say who holds the lock.

    Snakemake 9 raises ``LockException()`` with no arguments before our onstart runs; its text
    is generic. When the class still has that no-argument ``__init__`` (checked, not assumed:
    another Snakemake version may change it), it is replaced by one that builds ``error_class``
    with ``message``. Returns whether it was patched; otherwise Snakemake's message stands and
    our own check in ``onstart`` still names the holder.
    """
    import inspect

    try:
        params = list(inspect.signature(exception_class.__init__).parameters)
    except (TypeError, ValueError):
        return False
    if params != ["self"] or not issubclass(exception_class, error_class):
        return False
    exception_class.__init__ = lambda self: error_class.__init__(self, message)
    return True
