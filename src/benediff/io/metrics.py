"""``metrics.json`` of one LVM fit (rule ``lvm_fit``): its one writer and reader.

A flat JSON object: session, region, model, run_seed, seed, r2, rmse, mig, mig_floor (MIG with
test trials shuffled against the labels), mig_decoder (MIG of a supervised linear decoder of
the labels from the region, a reference), decoding (factors × labels test R²), factor_names,
label_names, split sizes, fit_seconds, epochs and provenance; CEBRA adds r2_mlp / rmse_mlp.
Read by the tables (``lvm/tables.py``) and by Fig 4 (``figures/lvm.py``). Also the one writer
and reader of a fit's ``fit.json`` (:data:`FIT_RECORD_KEYS`), which the evaluation reads.
"""

import json
from pathlib import Path

from benediff.io.atomic import atomic_output

REQUIRED = ("session", "region", "model", "run_seed", "r2", "rmse", "mig")


class MetricsFileError(ValueError):
    """A metrics.json that is unreadable or lacks a required key."""


def write_metrics(path, metrics: dict) -> None:
    missing = [k for k in REQUIRED if k not in metrics]
    if missing:
        raise MetricsFileError(f"{path}: metrics lack {missing}")
    _write(path, metrics)


def read_metrics(path) -> dict:
    return _read(path, REQUIRED, "LVM metrics", "lack", "its lvm_fit job (snakemake --forcerun "
                 "lvm_fit)", "written by an older version? ")


# ``fit.json`` of one fit (rule ``lvm_fit``; read by the evaluation of the same stage): what the
# evaluation cannot recompute from the model file (seed, fit time, epochs, the fit's provenance).
FIT_RECORD_KEYS = ("session", "region", "model", "run_seed", "seed", "fit_seconds",
                   "factor_names", "epochs", "provenance")


def write_fit_record(path, record: dict) -> None:
    _write(path, {k: record[k] for k in FIT_RECORD_KEYS})


def read_fit_record(path) -> dict:
    return _read(path, FIT_RECORD_KEYS, "the fit record", "lacks", "its lvm_fit job (snakemake "
                 "--forcerun lvm_fit)")


def _write(path, record: dict) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1))


def _read(path, keys, what: str, lack: str, job: str, why: str = "") -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MetricsFileError(f"{path}: cannot read {what} ({err}); rerun {job}") from err
    missing = [k for k in keys if k not in record]
    if missing:
        raise MetricsFileError(f"{path}: {what} {lack} {missing}; {why}rerun {job}")
    return record
