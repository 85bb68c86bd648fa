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

# the per-rule config slices (benediff.rule_config), re-exported: common.smk and the tests read
# bconfig.rule_config, bconfig.RULE_SLICES and bconfig.RULE_KEYS
from benediff.rule_config import (  # noqa: F401
    RULE_KEYS,
    RULE_SLICES,
    WIDEFIELD_KEYS,
    rule_config,
    rule_keys,
)

MAIN_SCHEMA = "config.schema.yaml"
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # session and behaviour names (the schema's)


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

    Keys that name a session, region or behaviour (figure, table and video keys) are checked
    against ``sessions``, ``regions`` and ``behaviors``. Left unset, such a key takes the
    schema's (the paper's) choice where the config has it, else the config's first entries, so
    a config with regions or behaviours of its own needs none of them set by hand. Every
    problem of a config is reported in one error.
    """
    schema = load_schema(schema_dir)
    config = copy.deepcopy(config)
    defaulted: set[tuple] = set()
    _fill_defaults(config, schema, (), defaulted)
    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    problems = [_explain(e) for e in errors]
    if not problems:
        problems = resolve_references(config, defaulted)
    if problems:
        raise ConfigError("invalid configuration (" + _count(problems) + "):\n  "
                          + "\n  ".join(problems))
    return config


def _count(problems) -> str:
    return f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")


# ---------------------------------------------------------------- cross-references

POOLED = "pooled"  # the session name of fits pooled across sessions (lvm.pool_sessions)
_FIGS = ("fig6", "fig9", "fig10", "fig11")
_REGION_FIGS = ("fig8", "fig13")

# key path -> what it names; ``one`` = a single name, ``list`` = a list of names
REGION_KEYS = ([(("lvm", t, "regions"), "list") for t in ("table1", "table3")]
               + [(("lvm", k, "region"), "one") for k in ("table2", "fig4", "fig5")]
               + [(("video", "specificity", "regions"), "list")]
               + [(("video", "figures", f, "region"), "one") for f in _FIGS]
               + [(("video", "figures", f, "regions"), "list") for f in _REGION_FIGS])
BEHAVIOR_KEYS = ([(("lvm", "trajectories", "factors"), "pair"),
                  (("video", "specificity", "factors"), "list")]
                 + [(("video", "figures", f, "factor"), "one") for f in _FIGS]
                 + [(("video", "figures", f, "factors"), "list") for f in _REGION_FIGS])
# session keys -> whether they may name the pooled fits
SESSION_KEYS = ([(("lvm", k, "session"), True)
                 for k in ("table1", "table3", "fig4", "fig5", "trajectories")]
                + [(("lvm", "table2", "sessions"), True), (("lvm", "pool_sessions"), False),
                   (("video", "session"), False), (("behavior", "fig1b", "session"), False)])


def _get(node, path):
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set(node, path, value):
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _was_defaulted(path, defaulted) -> bool:
    return any(path[:i] in defaulted for i in range(1, len(path) + 1))


def _pick(default, kind, available):
    """A default that names what this config has: the schema's choice if present, else the
    config's first entries (as many as the default named)."""
    if kind == "one":
        return default if default in available else available[0]
    kept = [x for x in default if x in available]
    if kind == "pair":
        return kept if len(kept) == 2 else available[:2]
    return kept or available[:max(1, len(default))]


def resolve_references(config: dict, defaulted=frozenset()) -> list[str]:
    """Fill defaulted name keys from what the config has; return every dangling name."""
    problems = []
    lists = {"region": list(config.get("regions", [])),
             "behaviour": list(config.get("behaviors", []))}
    sessions = list(config.get("sessions", {}))
    if POOLED in sessions:
        problems.append(f"session name {POOLED!r} under sessions is reserved for fits pooled "
                        "across sessions; rename that session")
    for what, keys in (("region", REGION_KEYS), ("behaviour", BEHAVIOR_KEYS)):
        available = lists[what]
        top = "regions" if what == "region" else "behaviors"
        for path, kind in keys:
            value = _get(config, path)
            if value is None or value == [] and kind == "list" and what == "behaviour":
                continue  # absent, or empty = every behaviour
            if _was_defaulted(path, defaulted) and available:
                value = _pick(value, kind, available)
                _set(config, path, value)
            names = [value] if kind == "one" else list(value)
            unknown = [n for n in names if n not in available]
            if unknown:
                problems.append(f"config key {'.'.join(path)} names {what}(s) {unknown} that are "
                                f"not in `{top}` {available}; use names from `{top}` or remove "
                                "the key to take the default")
            elif kind == "pair" and len(names) != 2:
                problems.append(f"config key {'.'.join(path)} must name two behaviours of "
                                f"`behaviors` {available}")
    for path, poolable in SESSION_KEYS:
        value = _get(config, path)
        names = [value] if isinstance(value, str) else list(value or [])
        allowed = sessions + [POOLED] if poolable else sessions
        unknown = [n for n in names if n and n not in allowed]
        if unknown:
            problems.append(f"config key {'.'.join(path)} names session(s) {unknown} that are not "
                            f"in `sessions` {sessions}" + ("" if POOLED not in allowed else
                                                           f" (or {POOLED!r})")
                            + "; leave it empty for the first configured session(s)")
    overrides = _get(config, ("lvm", "region_overrides")) or {}
    unknown = [r for r in overrides if r not in lists["region"]]
    if unknown:
        problems.append(f"config key lvm.region_overrides names region(s) {unknown} that are not "
                        f"in `regions` {lists['region']}; fix the region name or remove the "
                        "override")
    problems += _segment_problems(config)
    problems += _clock_problems(config)
    return problems


def _clock_problems(config: dict) -> list[str]:
    """One source of truth per clock: the neural frame rate the labels are binned at
    (``behavior.neural_rate``) is the widefield rate per channel (``widefield.frame_rate``) and,
    for simulated sessions, the simulator's rate (``simulate.overrides.frame_rate``)."""
    neural = _get(config, ("behavior", "neural_rate"))
    if neural is None:
        return []
    sources = config.get("sessions", {}).values()
    rates = []
    if any(s.get("source") in ("files", "simulate") for s in sources):
        rates.append(("widefield.frame_rate", _get(config, ("widefield", "frame_rate"))))
    if any(s.get("source") == "simulate" for s in sources):
        rates.append(("simulate.overrides.frame_rate",
                      _get(config, ("simulate", "overrides", "frame_rate"))))
    return [f"config keys {key} = {rate} Hz and behavior.neural_rate = {neural} Hz disagree: "
            "both are the neural frame rate (labels and clips are binned at behavior.neural_rate "
            f"while the dataset says {key}); set both to the recording's rate per channel"
            for key, rate in rates if rate is not None and abs(float(rate) - float(neural)) > 1e-9]


def _segment_problems(config: dict) -> list[str]:
    """The realism score needs whole segments: ``video.specificity.segment`` ≤ a trial's frames
    (the simulator's override of ``frames_per_trial`` where it sets one)."""
    segment = _get(config, ("video", "specificity", "segment"))
    frames = _get(config, ("simulate", "overrides", "frames_per_trial")) or config.get("frames_per_trial")
    if segment is None or frames is None or segment <= frames:
        return []
    return [f"config key video.specificity.segment = {segment} frames is longer than a trial "
            f"({frames} frames); set it to at most {frames}"]


def load(path, schema_dir=None) -> dict:
    return validate(read_yaml(path), schema_dir)


def read_yaml(path) -> dict:
    """A config file's mapping; a YAML syntax error names the file, line and column."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {where}: YAML syntax error ({what}); fix that line "
                          "(indent with spaces, not tabs; close brackets and quotes)") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {path}: must hold a mapping of keys (seed:, sessions:, "
                          f"...), got {type(data).__name__}")
    return data or {}


def config_hash(config: dict) -> str:
    """Stable short hash of a configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _fill_defaults(node, schema, path=(), defaulted=None):
    """Fill schema defaults into ``node`` in place; record the paths filled in ``defaulted``."""
    if not isinstance(node, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
            if defaulted is not None:
                defaulted.add(path + (key,))
        if key in node:
            _fill_defaults(node[key], sub, path + (key,), defaulted)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in node.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra, path + (key,), defaulted)
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
    if error.validator == "uniqueItems":
        seen, repeated = set(), []
        for item in error.instance:
            if item in seen and item not in repeated:
                repeated.append(item)
            seen.add(item)
        return (f"config key {where} lists {repeated} more than once; each name must appear "
                "once (remove the repeat)")
    if error.validator == "pattern" and "propertyNames" in error.schema_path:
        return (f"config key {where} has the name {error.instance!r}, which is not a safe folder "
                f"name: names must match {schema['pattern']} (letters, digits, _ . -; no spaces "
                "or /, since each becomes a folder under results/); rename it")
    if error.validator == "pattern":
        return (f"config key {where} = {error.instance!r} does not match {schema['pattern']}; "
                + ("a name is part of file names, use letters, digits, _ . - only"
                   if schema["pattern"] == NAME_PATTERN else "rename it to match"))
    return f"config key {where}: {error.message}"


def write_resolved(config: dict, path) -> Path:
    """Write the validated config (every default filled in) as YAML, for provenance."""
    from benediff.io.atomic import atomic_output

    path = Path(path)
    header = ("# The configuration this run used, every unset key filled with its schema default.\n"
              "# Written by the rule resolved_config; edit your own config file, not this one.\n")
    with atomic_output(path) as tmp:
        Path(tmp).write_text(header + yaml.safe_dump(json.loads(json.dumps(config, default=str)),
                                                     sort_keys=False))
    return path

