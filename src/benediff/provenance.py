"""Provenance of every artifact: config hash, package versions, git revision, seed."""

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benediff.config import config_hash
from benediff.device import job_environment
from benediff.io.atomic import atomic_output

PACKAGES = ("benediff", "torch", "numpy", "scipy", "scikit-learn", "h5py", "snakemake", "diffusers")


def git_revision(start=None) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=start or Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def package_versions(names=PACKAGES) -> dict:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(config: dict | None = None, seed=None, **extra) -> dict:
    record = {
        "config_hash": config_hash(config) if config is not None else None,
        "seed": seed,
        "git_revision": git_revision(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "job": job_environment(),
    }
    record.update(extra)
    return record


def write_sidecar(artifact, config: dict | None = None, seed=None, **extra) -> Path:
    """Write ``<artifact>.json`` next to a figure or table, recording where it came from."""
    path = Path(f"{artifact}.json")
    record = provenance(config, seed, artifact=Path(artifact).name,
                        created=datetime.now(timezone.utc).isoformat(), **extra)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
    return path
