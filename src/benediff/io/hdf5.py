"""Opening an input HDF5 file with one clear error for each way it can be unusable."""

from pathlib import Path

import h5py


def open_input(path, error, where: str, missing_fix: str, unreadable_fix: str = ""):
    """``h5py.File(path, "r")``, or ``error`` naming ``where`` and the fix when the file is
    missing or not readable HDF5."""
    if not Path(path).exists():
        raise error(f"{where}: file does not exist; {missing_fix}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        fix = f"; {unreadable_fix}" if unreadable_fix else ""
        raise error(f"{where}: not a readable HDF5 file ({exc}){fix}") from exc


def open_rule_output(path, error, rule: str, keys=()):
    """An HDF5 file written by rule ``rule``, opened for reading, with the datasets ``keys``
    checked; ``error`` names the file, what is missing and to rerun the rule."""
    f = open_input(path, error, str(path), f"run the {rule} job first",
                   f"an interrupted {rule} job? rerun it")
    missing = [k for k in keys if k not in f]
    if missing:
        f.close()
        raise error(f"{path}: no {', '.join(missing)} in this file; is it the output of {rule}? "
                    f"rerun {rule} (snakemake --forcerun {rule})")
    return f
