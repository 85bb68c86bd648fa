"""Checkpoint plumbing shared by the video trainers: atomic torch files, config checks."""

import hashlib
from pathlib import Path

import numpy as np
import torch

from benediff.io.atomic import atomic_output


class CheckpointError(ValueError):
    """A checkpoint or model file is missing, unreadable or was written under another config."""


def array_digest(array: np.ndarray) -> str:
    """Short content hash of an array, so a checkpoint can tell it was trained on other data."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha1(str((array.shape, array.dtype.str)).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def save_atomic(obj, path) -> None:
    """torch.save through a temporary file, so a kill mid-write never leaves a torn checkpoint."""
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def load_file(path):
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: file does not exist; train the model first")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a corrupt file
        raise CheckpointError(
            f"{path}: cannot be read as a torch checkpoint ({error}); delete it and retrain"
        ) from error


def differing_keys(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted names of the keys whose values differ between two (nested) config dicts."""
    keys = []
    for key in sorted(set(saved) | set(current), key=str):
        name = f"{prefix}{key}"
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            keys += differing_keys(a, b, prefix=f"{name}.")
        elif _normalise(a) != _normalise(b):
            keys.append(name)
    return keys


def check_same_config(path, saved: dict, current: dict) -> None:
    keys = differing_keys(saved, current)
    if keys:
        details = "; ".join(_describe(k, saved, current) for k in keys)
        raise CheckpointError(
            f"{path}: checkpoint was written with a different configuration ({details}); "
            "restore those settings to resume, or delete the checkpoint directory to start over"
        )


def _describe(dotted: str, saved: dict, current: dict) -> str:
    return f"{dotted}: checkpoint {_lookup(saved, dotted)!r} vs now {_lookup(current, dotted)!r}"


def _lookup(config: dict, dotted: str):
    value = config
    for part in dotted.split("."):
        value = value.get(part, "<absent>") if isinstance(value, dict) else "<absent>"
    return value


def _normalise(value):
    """Tuples and lists compare equal (checkpoints round-trip tuples as lists)."""
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value
