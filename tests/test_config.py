from pathlib import Path

import pytest
import yaml

from benediff import config as bconfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"


def demo():
    return yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())


def test_demo_config_is_valid_and_defaults_filled():
    cfg = bconfig.validate(demo(), SCHEMAS)
    assert cfg["split"]["blocks"] == [8, 1, 1]
    assert cfg["gpu_fallback"] == "warn"


def test_every_schema_key_is_documented():
    """Every key's name appears in the config/README.md section of its top-level key."""
    readme = (ROOT / "config" / "README.md").read_text()
    sections = {}
    for block in readme.split("\n## ")[1:]:
        title, _, body = block.partition("\n")
        sections[title.strip().lower()] = body
    schema = bconfig.load_schema(SCHEMAS)

    def keys(node, path=()):
        for key, sub in node.get("properties", {}).items():
            yield path + (key,)
            yield from keys(sub, path + (key,))

    missing = []
    for path in keys(schema):
        section = sections.get(path[0], sections.get("top level", ""))
        if path[-1] not in section:
            missing.append(".".join(path))
    assert not missing, f"config/README.md does not document: {missing}"


def test_unknown_key_names_key_and_allowed():
    cfg = demo()
    cfg["sede"] = 1
    with pytest.raises(bconfig.ConfigError) as err:
        bconfig.validate(cfg, SCHEMAS)
    msg = str(err.value)
    assert "'sede'" in msg and "allowed keys" in msg and "'seed'" in msg


def test_nested_unknown_key():
    cfg = demo()
    cfg["split"] = {"block": [8, 1, 1]}
    with pytest.raises(bconfig.ConfigError, match=r"'block' under split; allowed keys: \['blocks', 'seed'\]"):
        bconfig.validate(cfg, SCHEMAS)


def test_wrong_type_and_enum():
    cfg = demo()
    cfg["seed"] = "zero"
    cfg["device"] = "gpu"
    with pytest.raises(bconfig.ConfigError) as err:
        bconfig.validate(cfg, SCHEMAS)
    msg = str(err.value)
    assert "seed must be of type integer, got str 'zero'" in msg
    assert "device = 'gpu' is not allowed; allowed values: ['cpu', 'cuda', 'auto']" in msg


def test_session_source_enum():
    cfg = demo()
    cfg["sessions"]["S1"]["source"] = "disk"
    with pytest.raises(bconfig.ConfigError, match=r"sessions.S1.source = 'disk'.*\['simulate', 'files', 'behavenet'\]"):
        bconfig.validate(cfg, SCHEMAS)


def test_config_hash_ignores_key_order():
    assert bconfig.config_hash({"a": 1, "b": 2}) == bconfig.config_hash({"b": 2, "a": 1})
    assert bconfig.config_hash({"a": 1}) != bconfig.config_hash({"a": 2})


def _reversed_keys(node):
    if isinstance(node, dict):
        return {k: _reversed_keys(node[k]) for k in reversed(list(node))}
    return node


def test_validated_config_does_not_depend_on_key_order():
    """Snakemake sees params by repr: a reordered config file must not look like a new config."""
    cfg = demo()
    assert list(cfg["sessions"]) == ["S1", "S2"]
    a = bconfig.validate(cfg, SCHEMAS)
    b = bconfig.validate(_reversed_keys(cfg), SCHEMAS)
    assert repr(a["video"]) == repr(b["video"]) and repr(a["sessions"]["S1"]) == repr(b["sessions"]["S1"])
    assert list(a) == list(b)
    assert list(b["sessions"]) == ["S2", "S1"]  # user-named keys keep the file's order


def test_realism_segment_longer_than_a_trial_is_a_config_error():
    base = {"sessions": {"S1": {"source": "simulate"}}}
    with pytest.raises(bconfig.ConfigError, match="video.specificity.segment = 200 frames is longer "
                                                 "than a trial \\(189 frames\\); set it to at most 189"):
        bconfig.validate({**base, "video": {"specificity": {"segment": 200}}})
    short = {**base, "simulate": {"overrides": {"frames_per_trial": 16}}}
    with pytest.raises(bconfig.ConfigError, match="longer than a trial \\(16 frames\\)"):
        bconfig.validate(short)  # the default 21 frames against the simulator's 16
    bconfig.validate({**short, "video": {"specificity": {"segment": 8}}})
