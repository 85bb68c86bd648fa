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


# ---------------------------------------------------------------- one config slice per rule
#
# ``rule_config(config, rule, wildcards)`` returns exactly the config one rule uses; the rule's
# params are that slice and nothing else (``params: **rule_params("<rule>")`` in common.smk), so
# Snakemake reruns a job only when a key it reads changes. ``RULE_KEYS`` names the keys each slice
# may read (dotted prefixes, ``{session}`` / ``{region}`` / ``{model}`` filled from the wildcards);
# tests/test_rule_config.py changes every other leaf key of the resolved demo config and checks
# that the slice stays the same. Stage logic comes from the stage's ``targets`` module.

_IO = ("format", "channels", "channel_order", "chunk_frames", "bad_frames", "motion")
WIDEFIELD_KEYS = {  # the keys of config["widefield"] each widefield step reads
    "widefield_motion": _IO,
    "widefield_atlas": _IO + ("atlas", "merge_regions", "grouping"),
    "widefield_landmarks": _IO + ("atlas", "merge_regions", "grouping"),
    "widefield_svd": _IO + ("svd", "baseline"),
    "widefield_hemo": ("channels", "frame_rate", "motion", "hemo"),
    "widefield_locanmf": ("locanmf", "min_pixels"),
    "widefield_neural": ("grouping", "frame_rate"),
}
_RUNTIME = ("seed", "device", "gpu_fallback")
_SESSION = "sessions.{session}"


def _keys(section: dict, keys) -> dict:
    return {k: section[k] for k in keys if k in section}


def _session_format(config, wc):
    return config["sessions"][wc.session].get("widefield_format", "auto")


def _timestamps(config, wc):
    s = config["sessions"][wc.session]
    return {"video": s.get("video_timestamps"), "neural": s.get("neural_timestamps")}


def _widefield(rule, extra=()):
    def slice_(config, wc):
        out = {"cfg": _keys(config["widefield"], WIDEFIELD_KEYS[rule])}
        if "fmt" in extra:
            out["fmt"] = _session_format(config, wc)
        if "device" in extra:
            out |= {"device": config["device"], "gpu_fallback": config["gpu_fallback"]}
        if "seed" in extra:
            out["seed"] = config["seed"]
        return out
    return slice_


def _widefield_provenance(config, wc):
    return {"seed": config["seed"], "widefield": config["widefield"],
            "sessions": {wc.session: config["sessions"][wc.session]}}


def _lvm(name):
    def slice_(config, wc):
        from benediff.lvm import targets
        return getattr(targets, name)(config, wc)
    return slice_


def _video(name):
    def slice_(config, wc):
        from benediff.video import targets
        return getattr(targets, name)(config, wc)
    return slice_


def _behavior_labels(config, wc):
    b = config["behavior"]
    prov = {"behaviors": config["behaviors"],
            "behavior": {"labels": b["labels"], "neural_rate": b["neural_rate"]}}
    return {"behaviors": config["behaviors"], "labels": b["labels"],
            "neural_rate": b["neural_rate"], "timestamps": _timestamps(config, wc),
            "stage_config": prov}


def _behavior_clips(config, wc):
    b = config["behavior"]
    keys = ("clips", "neural_rate", "video_fps", "fps_tolerance")
    return {**{k: b[k] for k in keys}, "timestamps": _timestamps(config, wc),
            "stage_config": {"behavior": _keys(b, keys)}}


def _behavior_fig1b(config, wc):
    fig1b = config["behavior"]["fig1b"]
    return {"regions": config["regions"], "fig1b": fig1b, "seed": config["seed"],
            "stage_config": {"seed": config["seed"], "regions": config["regions"],
                             "behavior": {"fig1b": fig1b}}}


def _behavior_pose(config, wc):
    b, s = config["behavior"], config["sessions"][wc.session]
    return {"mode": b["pose"]["mode"], "pcutoff": b["pose"]["pcutoff"], "video_fps": b["video_fps"],
            "fps_tolerance": b["fps_tolerance"], "frame_rate": s.get("video_frame_rate"),
            "video_timestamps": s.get("video_timestamps")}


def _dlc_infer(config, wc):
    pose = config["behavior"]["pose"]
    return {"python": pose["dlc_python"] or "python", "device": config["device"],
            "gpu_fallback": config["gpu_fallback"], "batch_size": pose["batch_size"]}


def _assemble(config, wc):
    from benediff.behavior.sessions import dataset_sources  # no images without a video

    size = config["behavior"]["clips"]["size"]
    # dataset.neural_noise enters the slice only when set (> 0): a finished run whose config
    # never set it keeps its params, so upgrading does not re-assemble and refit it
    dataset = {k: v for k, v in config["dataset"].items() if k != "neural_noise" or v}
    return {"sources": dataset_sources(config, wc.session), "image_size": size,
            "config": {"seed": config["seed"], "dataset": dataset,
                       "split": config["split"], "behavior": {"clips": {"size": size}},
                       "sessions": {wc.session: config["sessions"][wc.session]}}}


def _import_behavenet(config, wc):
    s = config["sessions"][wc.session]
    return {"session_config": s, "behaviors": config["behaviors"], "regions": config["regions"],
            "split": config["split"],
            "config": {"seed": config["seed"], "split": config["split"], "regions": config["regions"],
                       "behaviors": config["behaviors"], "sessions": {wc.session: s}}}


def _simulate(config, wc):
    from benediff.simulate.params import params_from_config
    return {"sim": params_from_config(wc.session, config).to_dict()}


def _results_ledger(config, wc):
    from benediff.lvm import targets as lvm_targets
    from benediff.video import targets as video_targets
    r = config["report"]
    expected = (["results/tables/fig1b.csv", "results/figures/fig1b.pdf"]
                if "behavior" in r["stages"] else [])
    expected += lvm_targets.all_outputs(config) if "lvm" in r["stages"] else []
    expected += video_targets.final_outputs() if "video" in r["stages"] else []
    fig6 = config["video"]["figures"]["fig6"]
    return {"title": r["title"], "note": r["note"],
            "control": config["simulate"]["behavior_coupling"] == "independent",
            "causes": r["causes"], "include_titles": [e["title"] for e in r["include"]],
            "expected": expected, "figure6": [fig6["region"], fig6["factor"]]}


def _nwb_export(config, wc):
    from benediff.io import nwb_targets as nwb_io  # not io.nwb: no pynwb for the slices

    session, w = config["sessions"][wc.session], config["widefield"]
    return {"metadata": nwb_io.session_metadata(config["nwb"], wc.session),
            "fits": nwb_io.export_fits(config, wc.session),
            "timestamps": {"video": session.get("video_timestamps"),
                           "neural": session.get("neural_timestamps")},
            "frame_rate": w["frame_rate"], "atlas_transform": w["atlas"]["transform"],
            "grouping": w["grouping"], "channels": w["channels"],
            "nwb_series": session.get("nwb_series")}


RULE_SLICES = {
    "resolved_config": lambda config, wc: {"config": config},
    "simulate_session": _simulate,
    "widefield_motion": _widefield("widefield_motion", ("fmt",)),
    "widefield_atlas": _widefield("widefield_atlas", ("fmt",)),
    "widefield_landmarks": _widefield("widefield_landmarks", ("fmt",)),
    "widefield_svd": _widefield("widefield_svd", ("fmt", "device")),
    "widefield_hemo": _widefield("widefield_hemo", ("device",)),
    "widefield_locanmf": _widefield("widefield_locanmf", ("device", "seed")),
    "widefield_neural": lambda config, wc: _widefield("widefield_neural")(config, wc) | {
        "config": _widefield_provenance(config, wc), "regions": list(config["regions"])},
    "widefield_qc": lambda config, wc: {"cfg": config["widefield"],
                                        "config": _widefield_provenance(config, wc)},
    "session_trials": lambda config, wc: {
        "rate": config["widefield"]["frame_rate"], "channels": config["widefield"]["channels"],
        "nwb_series": config["sessions"][wc.session].get("nwb_series")},
    "split_trials": lambda config, wc: {"blocks": config["split"]["blocks"],
                                        "seed": config["split"]["seed"]},
    "assemble_dataset": _assemble,
    "import_behavenet": _import_behavenet,
    "dlc_infer": _dlc_infer,
    "specificity_pose": _dlc_infer,
    "behavior_pose": _behavior_pose,
    "behavior_labels": _behavior_labels,
    "behavior_clips": _behavior_clips,
    "behavior_fig1b": _behavior_fig1b,
    "nwb_pose": lambda config, wc: {"name": config["sessions"][wc.session].get("nwb_pose")},
    "nwb_neural_times": lambda config, wc: {
        "channels": config["widefield"]["channels"],
        "nwb_series": config["sessions"][wc.session].get("nwb_series")},
    "lvm_fit": _lvm("fit_rule_config"),
    "lvm_evaluate": _lvm("evaluate_rule_config"),
    "lvm_table": _lvm("table_rule_config"),
    "lvm_fig4": _lvm("fig4_rule_config"),
    "lvm_fig5": _lvm("fig5_rule_config"),
    "lvm_trajectories": _lvm("trajectories_rule_config"),
    "train_video_ae": _video("ae_rule_config"),
    "encode_frame_latents": lambda config, wc: {"device": config["device"],
                                                "gpu_fallback": config["gpu_fallback"]},
    "train_vdm": _video("vdm_rule_config"),
    "fit_linear_encoder": lambda config, wc: {"cfg": config["video"]["encoder"]},
    "train_cfg_vdm": _video("cfg_rule_config"),
    "train_naive_decoder": _video("naive_rule_config"),
    "generate": _video("generate_rule_config"),
    "generate_unguided": _video("unguided_rule_config"),
    "specificity_canvas": _video("canvas_rule_config"),
    "specificity": _video("specificity_rule_config"),
    "video_figure": _video("figure_rule_config"),
    "results_ledger": _results_ledger,
    "nwb_export": _nwb_export,
}

# the config keys each slice may read (dotted prefixes; {session}, {region}, {model} from the
# wildcards). Sessions, regions and behaviours are read by most rules to resolve names.
_NAMES = ("sessions", "regions", "behaviors")
_LVM_FIT = ("lvm.n_unsupervised", "lvm.hidden", "lvm.layers", "lvm.dropout", "lvm.beta",
            "lvm.tc_estimator", "lvm.tc_max_samples", "lvm.x_weight", "lvm.behavior_weight",
            "lvm.kl_weight", "lvm.warmup_epochs", "lvm.max_epochs", "lvm.patience",
            "lvm.min_delta", "lvm.batch_size", "lvm.lr", "lvm.checkpoint_every",
            "lvm.checkpoint_root", "lvm.region_overrides.{region}", "lvm.baselines.{model}",
            "lvm.pool_sessions")
_LVM_ARTIFACTS = ("lvm.seeds", "lvm.pool_sessions", "lvm.table1", "lvm.table2", "lvm.table3",
                  "lvm.fig4") + _NAMES
_VIDEO_FIT = ("video.session", "video.lvm_session", "video.lvm_model", "video.lvm_seed")
RULE_KEYS = {
    "resolved_config": ("",),
    "simulate_session": ("simulate", _SESSION, "regions", "behaviors", "seed"),
    **{rule: tuple(f"widefield.{k}" for k in keys) + (_SESSION,) + _RUNTIME
       for rule, keys in WIDEFIELD_KEYS.items()},
    "widefield_neural": ("widefield", _SESSION, "regions", "seed"),
    "widefield_qc": ("widefield", _SESSION, "seed"),
    "session_trials": ("widefield.frame_rate", "widefield.channels", _SESSION),
    "split_trials": ("split",),
    "assemble_dataset": ("dataset", "split", "behavior.clips.size", _SESSION, "seed"),
    "nwb_export": ("nwb", _SESSION, "widefield.frame_rate", "widefield.atlas.transform",
                   "widefield.grouping", "widefield.channels") + _LVM_ARTIFACTS,
    "import_behavenet": (_SESSION, "split", "regions", "behaviors", "seed"),
    "dlc_infer": ("behavior.pose.dlc_python", "behavior.pose.batch_size", "device",
                  "gpu_fallback"),
    "specificity_pose": ("behavior.pose.dlc_python", "behavior.pose.batch_size", "device",
                         "gpu_fallback"),
    "behavior_pose": ("behavior.pose.mode", "behavior.pose.pcutoff", "behavior.video_fps",
                      "behavior.fps_tolerance", _SESSION),
    "behavior_labels": ("behaviors", "behavior.labels", "behavior.neural_rate", _SESSION),
    "behavior_clips": ("behavior.clips", "behavior.neural_rate", "behavior.video_fps",
                       "behavior.fps_tolerance", _SESSION),
    "behavior_fig1b": ("regions", "behavior.fig1b", "seed"),
    "nwb_pose": (_SESSION,),
    "nwb_neural_times": ("widefield.channels", _SESSION),
    "lvm_fit": _LVM_FIT + _RUNTIME + _NAMES,
    "lvm_evaluate": ("lvm.mig_binning", "device", "gpu_fallback") + _LVM_ARTIFACTS,
    "lvm_table": ("lvm.seeds", "lvm.pool_sessions", "lvm.table1", "lvm.table2", "lvm.table3",
                  "seed") + _NAMES,
    "lvm_fig4": ("lvm.fig4", "lvm.seeds", "lvm.pool_sessions", "seed") + _NAMES,
    "lvm_fig5": ("lvm.fig5", "lvm.pool_sessions", "seed") + _NAMES,
    "lvm_trajectories": ("lvm.trajectories", "lvm.pool_sessions", "seed") + _NAMES,
    "train_video_ae": ("video.autoencoder",) + _RUNTIME,
    "encode_frame_latents": ("device", "gpu_fallback"),
    "train_vdm": ("video.diffusion",) + _RUNTIME,
    "fit_linear_encoder": ("video.encoder",),
    "train_cfg_vdm": ("video.diffusion", "video.cfg") + _RUNTIME,
    "train_naive_decoder": ("video.naive",) + _RUNTIME,
    "generate": ("video.generation", "video.guidance", "video.cfg.weight", "video.specificity",
                 "behaviors") + _RUNTIME,
    "generate_unguided": ("video.generation", "video.guidance.sampler", "video.guidance.steps",
                          "behaviors") + _RUNTIME,
    "specificity_canvas": ("video.specificity", "video.session", "behavior.clips.views",
                           "behavior.neural_rate", "seed",
                           "sessions", "behaviors", "regions"),
    "specificity": ("video.specificity", "video.session", "behavior.labels", "behavior.pose",
                    "dataset", "behaviors", "regions", "sessions", "seed"),
    "video_figure": ("video.figures", "video.session", "behaviors", "regions", "sessions",
                     "seed"),
    "results_ledger": ("report", "simulate.behavior_coupling", "video.figures.fig6", "lvm",
                       "video", "sessions", "regions", "behaviors"),
}


def rule_config(config: dict, rule: str, wildcards=None) -> dict:
    """The config one rule uses, as its params (name -> value); see ``RULE_SLICES``."""
    if rule not in RULE_SLICES:
        raise KeyError(f"rule {rule!r} has no config slice in benediff.config.RULE_SLICES")
    return RULE_SLICES[rule](config, wildcards)


def rule_keys(rule: str, wildcards=None) -> tuple[str, ...]:
    """Dotted config keys (prefixes) the slice of ``rule`` may read, wildcards filled in."""
    names = {k: getattr(wildcards, k) for k in ("session", "region", "model")
             if wildcards is not None and hasattr(wildcards, k)}
    return tuple(k.format(**names) if "{" not in k or all(f"{{{n}}}" not in k or n in names
                                                         for n in ("session", "region", "model"))
                 else k for k in RULE_KEYS[rule])
