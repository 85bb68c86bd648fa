"""config/README.md's key tables are generated from the schema (benediff.config_docs)."""

import copy
from pathlib import Path

import pytest
import yaml

from benediff import config as bconfig
from benediff import config_docs as docs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "config" / "README.md"
# the JSON-Schema keywords the schema uses; anything else in a schema node is a slip (a
# description cut at its first ", " by a YAML flow mapping became a key once)
KEYWORDS = {"$schema", "description", "type", "enum", "default", "properties", "additionalProperties",
            "items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum", "required", "propertyNames", "pattern", "minProperties",
            "dependentRequired", "contains", "multipleOf", "minLength", "const"}


@pytest.fixture(scope="module")
def schema():
    return bconfig.load_schema()


@pytest.fixture(scope="module")
def readme():
    return README.read_text()


def rows(text):
    """Table rows by their first cell, from every generated block."""
    out = {}
    for match in docs.BLOCK.finditer(text):
        for line in match["body"].splitlines():
            if line.startswith("| `"):
                cells = [c.strip() for c in line.strip("|").split(" | ")]
                out[(match["name"], cells[0])] = cells
    return out


def test_readme_tables_are_the_schema(readme, schema):
    stale = docs.stale_blocks(readme, schema)
    assert not stale, f"config/README.md key tables {stale} differ from workflow/schemas: run make config-docs"
    assert docs.main(["--check"]) == 0


def test_rows_typed_by_hand(readme):
    table = rows(readme)
    assert table[("top-level", "`seed`")][1:3] == ["integer", "`0`"]
    assert table[("top-level", "`device`")][1:3] == ["`cpu` \\| `cuda` \\| `auto`", "`cpu`"]
    assert table[("split", "`split.blocks`")][1:3] == ["list of 3 integers ≥ 1", "`[8, 1, 1]`"]
    assert table[("lvm", "`lvm.lr`")][1:3] == ["number > 0", "`0.003`"]
    assert table[("widefield", "`widefield.locanmf.lambda_init`")][1:3] == ["number > 0", "`1.0e-6`"]
    assert table[("sessions", "`sessions.<name>.index_base`")][1:3] == ["`auto` \\| `0` \\| `1`", "`auto`"]
    # a section's own default wins over the default of the keys it shares with Fig 6
    assert table[("video", "`video.figures.fig9.factor`")][2] == "`Paw-y`"
    assert table[("video", "`video.figures.fig6.factor`")][2] == "`Jaw`"
    # the presets come from the simulator's code, the demo's values from config/demo.yaml
    assert table[("simulate.overrides", "`simulate.overrides.movie_height`")][2:4] == ["`80`", "`270`"]
    assert table[("demo", "`lvm.seeds`")][1:] == ["`[0, 1, 2]`", "`[0, 1, 2, 3, 4]`"]
    assert ("demo", "`simulate.preset`") not in table  # the demo keeps this default
    lr = bconfig.load_schema()["properties"]["lvm"]["properties"]["lr"]["description"]
    assert table[("lvm", "`lvm.lr`")][3] == " ".join(lr.split())


def test_every_key_once_with_a_description(readme, schema):
    table = rows(readme)
    keys = [".".join(p) for p in docs.all_keys(schema)]
    listed = [k[1].strip("`") for k in table if k[0] not in (docs.DEMO_BLOCK,)]
    assert sorted(keys) == sorted(listed)
    bare = [k for k, cells in table.items() if k[0] != docs.DEMO_BLOCK and not cells[-1]]
    assert not bare, f"schema keys without a description: {bare}"


def test_schema_nodes_hold_only_keywords(schema):
    def walk(node, path):
        if not isinstance(node, dict):
            return
        yield from ((".".join(path), k) for k in node if k not in KEYWORDS)
        for key, sub in node.get("properties", {}).items():
            yield from walk(sub, path + (key,))
        for key in ("additionalProperties", "items"):
            yield from walk(node.get(key), path + (key,))
    assert not list(walk(schema, ()))


def test_defaults_read_back_as_yaml(schema):
    """The default column is what one would type into a config file."""
    filled = docs.defaults(schema)
    for path in docs.all_keys(schema):
        node = docs.node_at(schema, path)
        value = docs.default_of(path, node, filled)
        if value is not ... and not node.get("properties"):
            assert yaml.safe_load(f"key: {docs.literal(value)}")["key"] == value, path


def test_stale_and_uncovered_tables_are_named(readme, schema):
    changed = copy.deepcopy(schema)
    changed["properties"]["lvm"]["properties"]["dropout"]["default"] = 0.2
    assert docs.stale_blocks(readme, changed) == ["lvm"]
    changed["properties"]["lvm"]["properties"]["new_key"] = {"type": "integer", "description": "x"}
    assert docs.stale_blocks(readme, changed) == ["lvm"]
    without = readme.replace("<!-- keys: lvm (", "<!-- no keys: lvm (")
    with pytest.raises(docs.ConfigDocsError, match="lvm.seeds"):
        docs.render(without, schema)
    wrong = readme.replace("keys: split ", "keys: splits ").replace("/keys: split -->", "/keys: splits -->")
    with pytest.raises(docs.ConfigDocsError, match="splits"):
        docs.render(wrong, schema)


def test_prose_outside_the_blocks_is_kept(readme, schema):
    edited = readme.replace("## split\n", "## split\n\nA hand-written line.\n")
    assert "A hand-written line." in docs.render(edited, schema)
    assert docs.render(readme, schema) == readme
