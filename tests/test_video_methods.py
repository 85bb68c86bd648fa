"""The video generation methods are named once (benediff.video.methods)."""

import re
from pathlib import Path

import yaml

from benediff.video import methods, targets

ROOT = Path(__file__).resolve().parents[1]


def test_the_schema_enum_and_default_are_the_package_list():
    schema = yaml.safe_load((ROOT / "workflow/schemas/video.schema.yaml").read_text())
    spec = schema["properties"]["specificity"]["properties"]["methods"]
    assert spec["items"]["enum"] == list(methods.METHODS)
    assert spec["default"] == list(methods.METHODS)


def test_the_lists_agree():
    assert targets.METHODS is methods.METHODS
    assert set(methods.PER_FACTOR_METHODS) == set(methods.METHODS) - {methods.UNGUIDED}
    for sub in (methods.FIGURE_METHODS, methods.CONDITIONED, methods.GUIDED):
        assert set(sub) <= set(methods.METHODS)
    assert set(methods.DISPLAY_ORDER) == {*methods.METHODS, methods.REAL}


def test_no_other_module_spells_a_method_list():
    # three or more method names in one tuple or list literal outside benediff.video.methods
    names = "|".join(re.escape(m) for m in (*methods.METHODS, methods.REAL))
    pattern = re.compile(rf"[(\[]\s*\"({names})\"(\s*,\s*\"({names})\"){{2,}}")
    found = [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
             for folder in ("src/benediff", "benchmarks", "scripts")
             for path in sorted((ROOT / folder).rglob("*.py")) if path.name != "methods.py"
             for text in [path.read_text()] for m in pattern.finditer(text)]
    assert not found, f"method lists spelled outside benediff.video.methods: {found}"
