"""``metrics.json`` of one LVM fit (rule ``lvm_fit``): its one writer and reader.

A flat JSON object: session, region, model, run_seed, seed, r2, rmse, mig, mig_floor (MIG with
test trials shuffled against the labels), mig_decoder (MIG of a supervised linear decoder of
the labels from the region, a reference), decoding (factors × labels test R²), factor_names,
label_names, split sizes, fit_seconds, epochs and provenance; CEBRA adds r2_mlp / rmse_mlp.
Read by the tables (``lvm/tables.py``) and by Fig 4 (``figures/lvm.py``).
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
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(metrics, indent=1))


def read_metrics(path) -> dict:
    try:
        metrics = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MetricsFileError(f"{path}: cannot read LVM metrics ({err}); rerun its lvm_fit job "
                               "(snakemake --forcerun lvm_fit)") from err
    missing = [k for k in REQUIRED if k not in metrics]
    if missing:
        raise MetricsFileError(f"{path}: LVM metrics lack {missing}; written by an older version? "
                               "rerun its lvm_fit job")
    return metrics
