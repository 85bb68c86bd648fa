"""What every rule script does first: log to the rule's log, and fail with one readable line.

``start(snakemake)`` sends stderr and logging to ``snakemake.log[0]`` and installs an exception
hook: an error the user can fix (a benediff input error, a full disk, a read-only or forbidden
path) prints one line on the console (the job's stdout) naming the rule, the file and the cause;
the full traceback still goes to the log. Other errors keep Python's usual report.
"""

import errno
import logging
import os
import re
import sys
import traceback

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
