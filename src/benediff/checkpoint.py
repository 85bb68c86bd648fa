"""Checkpoints and model files of every trainer (the VAE, the LVM baselines, the frame
autoencoder, the VDMs, the naive decoder): one way to save, check and resume.

:func:`save_atomic` / :func:`load_file` write and read every checkpoint (through the loop of
:mod:`benediff.training`) and, through :func:`save_model_file` / :func:`load_model_file`, every
fitted model's file.

A checkpoint records a fingerprint: the run's settings, a digest of its data and the code that
wrote it (package version + git revision). :func:`resume_from` decides what a restarted job does:

- no checkpoint: start;
- written by other settings or data: stop with :class:`CheckpointError` naming what differs
  (the checkpoint folder belongs to another fit);
- written by other code, or by a run that finished: start afresh, so that ``--forcerun`` or a
  code change really refits instead of returning the old model;
- otherwise (an interrupted run of the same code, settings and data): resume.

Every decision other than a plain start prints one line on the console (stdout; the rule log
gets stderr).
"""

import functools
import hashlib
import sys
from pathlib import Path

import numpy as np
import torch

from benediff.io.atomic import atomic_output


class CheckpointError(ValueError):
    """A checkpoint or model file is missing, unreadable or was written under another config."""


def array_digest(*arrays) -> str:
    """Short content hash of arrays (None skipped), so a checkpoint can tell other data."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            continue
        array = np.ascontiguousarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        try:  # the array's own buffer: tobytes() would copy it (655 MB of training frames)
            digest.update(array.data)
        except (BufferError, TypeError, ValueError):  # dtypes without a buffer (datetime)
            digest.update(array.tobytes())
    return digest.hexdigest()[:16]


@functools.cache
def code_version() -> str:
    """benediff's version and git revision: a checkpoint of other code is not resumed."""
    from importlib import metadata

    from benediff.provenance import git_revision

    try:
        version = metadata.version("benediff")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}+{git_revision()[:12]}"


def announce(message: str) -> None:
    """One line on the console (a job's stdout) and in the rule log (stderr)."""
    print(message, flush=True)
    if sys.stderr is not sys.stdout:
        print(message, file=sys.stderr, flush=True)


def resume_from(path, fingerprint: dict, *, progress_of, total: int, unit: str, what: str):
    """The saved checkpoint to resume from, or None to start afresh (see the module doc).

    ``fingerprint`` holds the run's settings and data digests (``code`` is added here);
    ``progress_of(saved)`` returns how many ``unit``s the checkpoint has done, of ``total``.
    """
    fingerprint = fingerprint | {"code": code_version()}
    if path is None or not Path(path).exists():
        return None
    saved = load_file(path)
    old = dict(saved.get("fingerprint") or {})
    old_code = old.pop("code", None)
    check_same_config(path, old, {k: v for k, v in fingerprint.items() if k != "code"})
    if old_code != fingerprint["code"]:
        announce(f"{what}: {path} was written by benediff {old_code}, this is "
                 f"{fingerprint['code']}; training afresh")
        return None
    done = int(progress_of(saved))
    if done >= total or saved.get("finished"):
        announce(f"{what}: {path} holds a finished run ({done} of {total} {unit}); "
                 "training afresh")
        return None
    announce(f"{what}: resuming from {unit} {done} of {total} ({path})")
    return saved


def with_code(fingerprint: dict) -> dict:
    """The fingerprint a checkpoint records: the run's plus the code's."""
    return fingerprint | {"code": code_version()}


def save_atomic(obj, path) -> None:
    """torch.save through a temporary file, so a kill mid-write never leaves a torn checkpoint."""
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def save_model_file(path, kind: str, **fields) -> None:
    """A fitted model's file, one layout for every model (the VAE, the LVM baselines, the frame
    autoencoder, the VDMs, the naive decoder): a dict of the ``kind`` that reads it, its weights
    as ``state_dict`` (on CPU) and its own ``fields`` (constructor arguments, history, metadata),
    written atomically by :func:`save_atomic`."""
    if "state_dict" in fields:
        fields["state_dict"] = {k: v.detach().cpu() for k, v in fields["state_dict"].items()}
    save_atomic({"kind": kind, **fields}, path)


def load_model_file(path, kinds, *, default_kind=None, error=CheckpointError) -> dict:
    """The dict of a model file written by :func:`save_model_file` whose kind is in ``kinds``;
    ``default_kind`` is that of files written before the kind was recorded. A missing or unreadable
    file raises :class:`CheckpointError` (:func:`load_file`), another model's file ``error``."""
    saved = load_file(path)
    found = saved.get("kind", default_kind) if isinstance(saved, dict) else type(saved).__name__
    if not isinstance(saved, dict) or found not in kinds:
        raise error(f"{path}: not a {' or '.join(kinds)} model file (found {found!r}); pass "
                    "the right file or retrain the model")
    return saved


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
            "restore those settings to resume, or delete the checkpoint directory "
            f"{Path(path).parent} to start over"
        )


def _describe(dotted: str, saved: dict, current: dict) -> str:
    return f"{dotted}: {_lookup(saved, dotted)!r} -> {_lookup(current, dotted)!r}"


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
