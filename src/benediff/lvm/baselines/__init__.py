"""LVM baselines under the common LatentModel API: SSL (M2), CEBRA-Behavior and pi-VAE.

``get_baseline(name, **params)`` builds one from its config section's hyper-parameters.
"""

import inspect

from benediff.lvm.names import BASELINES

from ._common import BaselineInputError
from .cebra_baseline import CebraBaseline
from .pivae import PiVAEBaseline
from .ssl import SSLBaseline

_CLASSES = {cls.kind: cls for cls in (SSLBaseline, CebraBaseline, PiVAEBaseline)}

__all__ = ["BASELINES", "BaselineInputError", "CebraBaseline", "PiVAEBaseline", "SSLBaseline",
           "get_baseline", "baseline_class"]


def baseline_class(name: str):
    if name not in _CLASSES:
        raise BaselineInputError(f"unknown baseline {name!r}: choose one of {BASELINES}")
    return _CLASSES[name]


def get_baseline(name: str, **params):
    """An unfitted baseline ``name`` (one of BASELINES) with hyper-parameters ``params``."""
    cls = baseline_class(name)
    allowed = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BaselineInputError(
            f"lvm baseline {name!r}: unknown hyper-parameter(s) {unknown}; "
            f"allowed: {sorted(allowed)}"
        )
    return cls(**params)
