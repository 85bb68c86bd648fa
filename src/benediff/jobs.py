"""What every rule script does first: log to the rule's log, and fail with one readable line.

``start(snakemake)`` sends stderr and logging to ``snakemake.log[0]`` and installs an exception
hook: an error the user can fix (a benediff input error, a full disk, a read-only or forbidden
path) prints one line on the console (the job's stdout) naming the rule, the file and the cause;
the full traceback still goes to the log. Other errors keep Python's usual report.
:class:`Progress` writes the one-line progress of a long step (training, LocaNMF, sampling) to
the log and the console at most every ``progress_every_s`` seconds.
"""

import atexit
import errno
import logging
import os
import re
import resource
import sys
import time
import traceback

USAGE = "benediff job usage:"  # the line start() appends to a job's log when it ends

FIXES = {
    errno.ENOSPC: "free space on that disk or move results/ to a larger one",
    errno.EDQUOT: "free space within your quota or move results/ elsewhere",
    errno.EROFS: "the file system is read-only; run in a writable directory",
    errno.EACCES: "you may not write there; fix its permissions or run elsewhere",
    errno.EPERM: "you may not write there; fix its permissions or run elsewhere",
}


def _errno(exc: BaseException) -> int | None:
    """The OS error number of ``exc``, also when a library only put it in the message
    (h5py: "errno = 28"; torch: "No space left on device")."""
    if isinstance(exc, OSError) and exc.errno in FIXES:
        return exc.errno
    text = str(exc)
    match = re.search(r"errno = (\d+)", text)
    if match and int(match.group(1)) in FIXES:
        return int(match.group(1))
    for code in FIXES:
        if os.strerror(code) in text:
            return code
    return None


def fault_line(exc: BaseException) -> str | None:
    """One readable line for a fault the user can fix, or None for anything else."""
    seen = exc
    while seen is not None:  # the error or what it wraps (h5py, torch, ...)
        code = _errno(seen)
        if code is not None:
            where = getattr(seen, "filename", None) or _name_in(str(seen)) or "an output file"
            where = re.sub(r"\.([^/]+)\.partial-\d+", r"\1", str(where))  # atomic_output's temp
            return f"cannot write {where}: {os.strerror(code)}; {FIXES[code]}"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, (ValueError, RuntimeError, KeyError, OSError)):
        if type(exc).__module__.startswith("benediff"):
            return str(exc)
    return None


def _name_in(text: str) -> str | None:
    match = re.search(r"name = '([^']+)'", text)  # h5py's message names the file this way
    return match.group(1) if match else None


def start(snakemake) -> None:
    """Log to the rule's log file; report user-fixable errors in one line."""
    sys.stderr = open(snakemake.log[0], "w")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    rule = getattr(snakemake, "rule", "job")

    def hook(kind, exc, tb):
        traceback.print_exception(kind, exc, tb, file=sys.stderr)
        sys.stderr.flush()
        line = fault_line(exc)
        if line is None:
            return  # the traceback is in the log, as for any failed job
        print(f"Error in rule {rule}: {line} (log: {snakemake.log[0]})", flush=True)

    sys.excepthook = hook
    record_usage(rule)
    # presentation only, so not in any rule's params: changing it reruns no job
    config = getattr(snakemake, "config", None) or {}
    configure_progress(config.get("progress_every_s"), console=True)


def record_usage(rule: str) -> None:
    """At exit, append the job's usage line to stderr (the rule's log); see :func:`_log_usage`."""
    atexit.register(_log_usage, rule, time.time())


def _log_usage(rule: str, began: float) -> None:
    """Append the job's wall time, CPU time (this process, its threads and children) and peak
    memory to its log: the measured cost per stage of the results ledger."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                           resource.RUSAGE_CHILDREN))
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    peak_mb = max(own.ru_maxrss, children.ru_maxrss) / 1024  # kB on Linux
    try:
        print(f"{USAGE} rule={rule} wall_s={time.time() - began:.1f} cpu_s={cpu:.1f} "
              f"peak_rss_mb={peak_mb:.0f}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # the log is gone or closed: the cost is only missing from the ledger


def parse_usage(text: str) -> dict | None:
    """The usage line of a job log (see :func:`_log_usage`), or None."""
    match = None
    for match in re.finditer(rf"^{USAGE} rule=(\S+) wall_s=([\d.]+) cpu_s=([\d.]+) "
                             r"peak_rss_mb=(\d+)$", text, flags=re.M):
        pass
    if match is None:
        return None
    return {"rule": match.group(1), "wall_s": float(match.group(2)),
            "cpu_s": float(match.group(3)), "peak_rss_mb": float(match.group(4))}


# --- progress lines of long steps ---

# every_s and console are set per job by start(); last: when the process last wrote a line
# (or began its first long step)
PROGRESS = {"every_s": None, "console": False, "last": None}


def configure_progress(every_s, console: bool = False) -> None:
    """Report long steps at most every ``every_s`` seconds (None: no lines); ``console`` copies
    each line to stdout, the console of a Snakemake job whose stderr is its log."""
    PROGRESS.update(every_s=every_s, console=console)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """One line per report, ``<what>: step 120/2000 loss 0.0123 ETA 4m10s``, on stderr (a job's
    log) and, when configured, stdout, whether or not stderr is a terminal: at most one line
    every ``every_s`` seconds per process, counted across instances, so a job sampling many short
    videos reports on the one under way every ``every_s`` seconds instead of once per video.
    ``update(done, loss)`` after each step; ``start`` steps were done before (a resumed fit), so
    the ETA counts only this run's rate."""

    def __init__(self, what: str, total: int, start: int = 0, every_s=None, clock=None):
        self.what, self.total, self.start = what, int(total), int(start)
        self.every_s = PROGRESS["every_s"] if every_s is None else every_s
        self.clock = clock or time.monotonic
        self.began = self.clock()
        if PROGRESS["last"] is None:  # the first long step of the process starts the interval
            PROGRESS["last"] = self.began

    def update(self, done: int, loss=None, note: str = "") -> str | None:
        """Report step ``done`` (1-based) if due; return the line written, else None."""
        if self.every_s is None:
            return None
        now = self.clock()
        if now - PROGRESS["last"] < self.every_s:
            return None
        PROGRESS["last"] = now
        rate = (done - self.start) / (now - self.began) if now > self.began else 0.0
        eta = _duration((self.total - done) / rate) if rate > 0 else "?"
        line = f"{self.what}: step {done}/{self.total}"
        if loss is not None:
            line += f" loss {float(loss):.4g}"
        if note:
            line += f" ({note})"
        line += f" ETA {eta}" if done < self.total else f" done in {_duration(now - self.began)}"
        print(line, file=sys.stderr, flush=True)
        if PROGRESS["console"] and sys.stdout is not sys.stderr:
            print(line, flush=True)
        return line
