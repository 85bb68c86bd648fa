"""Configuration: JSON-schema (2020-12) validation with messages that name the key and the fix.

The schema lives in ``workflow/schemas/``: ``config.schema.yaml`` holds the top-level keys and
every other ``<section>.schema.yaml`` there is the schema of the top-level key ``<section>``
(one file per pipeline stage, so each stage owns its settings).
"""

import copy
import hashlib
import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

MAIN_SCHEMA = "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


def default_schema_dir() -> Path:
    """``workflow/schemas`` of the checkout this package was installed from."""
    return Path(__file__).resolve().parents[2] / "workflow" / "schemas"


def load_schema(schema_dir=None) -> dict:
    schema_dir = Path(schema_dir or default_schema_dir())
    schema = yaml.safe_load((schema_dir / MAIN_SCHEMA).read_text())
    for part in sorted(schema_dir.glob("*.schema.yaml")):
        if part.name == MAIN_SCHEMA:
            continue
        section = part.name.removesuffix(".schema.yaml")
        schema.setdefault("properties", {})[section] = yaml.safe_load(part.read_text())
    return schema


def validate(config: dict, schema_dir=None) -> dict:
    """Return a copy of ``config`` with schema defaults filled in; raise ConfigError if invalid.

    Keys of every schema-defined section come back in the schema's order (user-named keys such
    as session names keep the file's order), so reordering a config file changes nothing:
    Snakemake compares params by their repr, in which dict order shows.
    """
    schema = load_schema(schema_dir)
    config = copy.deepcopy(config)
    _fill_defaults(config, schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_explain(e) for e in errors))
    return config


def load(path, schema_dir=None) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    return validate(yaml.safe_load(path.read_text()) or {}, schema_dir)


def config_hash(config: dict) -> str:
    """Stable short hash of a configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _fill_defaults(node, schema):
    if not isinstance(node, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        if key in node:
            _fill_defaults(node[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in node.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra)
    _schema_order(node, schema.get("properties", {}))


def _schema_order(node: dict, properties: dict) -> None:
    """Reorder ``node`` in place: schema keys in schema order, then any others as given."""
    ordered = [k for k in properties if k in node] + [k for k in node if k not in properties]
    items = [(k, node[k]) for k in ordered]
    node.clear()
    node.update(items)


def _explain(error) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    schema = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return (f"unknown config key(s) {', '.join(repr(k) for k in extra)} under {where}; "
                f"allowed keys: {allowed}")
    if error.validator == "enum":
        return f"config key {where} = {error.instance!r} is not allowed; allowed values: {schema['enum']}"
    if error.validator == "type":
        return (f"config key {where} must be of type {schema['type']}, "
                f"got {type(error.instance).__name__} {error.instance!r}")
    if error.validator == "required":
        return f"config section {where} is missing a required key: {error.message}"
    return f"config key {where}: {error.message}"
