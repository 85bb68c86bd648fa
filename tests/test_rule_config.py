"""One config slice per rule: a rule's params change only with the keys its slice reads.

For every rule of benediff.config.RULE_SLICES and every leaf key of the resolved demo config
outside the keys the rule declares (RULE_KEYS), changing the key leaves the rule's params (its
slice) unchanged. The slices are the real functions the rules call through ``rule_params``.
"""

import copy
import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from benediff import config as bconfig

ROOT = Path(__file__).resolve().parents[1]
DEMO = bconfig.validate(bconfig.read_yaml(ROOT / "config" / "demo.yaml"))
WILDCARDS = SimpleNamespace(session="S1", region="VIS_L", model="ours", seed="0", n="1",
                            method="ours", factor="Jaw", fig="fig6")
RULES = sorted(bconfig.RULE_SLICES)
OWN_WILDCARDS = {"lvm_trajectories": {"n": "7"}}


def _wildcards(rule):
    return SimpleNamespace(**(vars(WILDCARDS) | OWN_WILDCARDS.get(rule, {})))


def _leaves(node, path=()):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path


LEAVES = list(_leaves(DEMO))


def _changed(value):
    """A different value of the same kind (the slices must not look at it at all)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return [*value, value[-1]] if value else ["x"]
    if value is None:
        return "x"
    return {"x": 1}


def _inside(path, keys) -> bool:
    dotted = ".".join(map(str, path))
    return any(k == "" or dotted == k or dotted.startswith(k + ".") for k in keys)


def _slice(config, rule):
    try:
        return repr(bconfig.rule_config(config, rule, _wildcards(rule)))
    except Exception as err:  # a change that breaks a slice is also a change it sees
        return f"error: {type(err).__name__}: {err}"


@pytest.mark.parametrize("rule", RULES)
def test_a_key_outside_a_rules_slice_leaves_its_params_unchanged(rule):
    keys = bconfig.rule_keys(rule, WILDCARDS)
    before = _slice(DEMO, rule)
    assert not before.startswith("error"), before
    leaked = []
    for path in LEAVES:
        if _inside(path, keys):
            continue
        config = copy.deepcopy(DEMO)
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = _changed(node[path[-1]])
        if _slice(config, rule) != before:
            leaked.append(".".join(map(str, path)))
    assert not leaked, f"rule {rule}'s params change with keys outside its slice: {leaked}"


@pytest.mark.parametrize("rule,key,reads", [
    ("behavior_fig1b", "behavior.fig1b.alpha", True),
    ("behavior_labels", "behavior.fig1b.alpha", False),
    ("behavior_clips", "behavior.fig1b.alpha", False),
    ("widefield_locanmf", "widefield.locanmf.loc_thresh", True),
    ("widefield_motion", "widefield.locanmf.loc_thresh", False),
    ("widefield_svd", "widefield.locanmf.loc_thresh", False),
    ("widefield_hemo", "widefield.locanmf.loc_thresh", False),
    ("lvm_evaluate", "lvm.mig_binning", True),
    ("lvm_fit", "lvm.mig_binning", False),
    ("lvm_fit", "lvm.fig5.n_dims", False),
    ("lvm_fit", "video.figures.n_columns", False),
    ("video_figure", "video.figures.n_columns", True),
    ("generate", "video.figures.n_columns", False),
])
def test_the_narrowings_the_issue_asks_for(rule, key, reads):
    """The declared keys are the spec; the first test holds the slices to them."""
    path = tuple(key.split("."))
    assert _inside(path, bconfig.rule_keys(rule, WILDCARDS)) == reads
    if reads:  # and the slice really follows the key
        config = copy.deepcopy(DEMO)
        node = config
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = "equal_width" if key == "lvm.mig_binning" else _changed(node[path[-1]])
        assert _slice(config, rule) != _slice(DEMO, rule)


def test_every_rule_takes_its_params_from_its_slice():
    """Every params block of the rules files is ``**rule_params("<rule>", names...)`` with
    exactly the names of the rule's slice (the workflow checks the names again per job)."""
    seen = set()
    for smk in [*(ROOT / "workflow" / "rules").glob("*.smk"), ROOT / "workflow" / "Snakefile"]:
        text = smk.read_text()
        for block in re.findall(r"^\s+params:\n((?:\s{8,}.*\n)+?)(?=^\s{4,8}\w+:)", text, re.M):
            call = re.match(r'\s*\*\*rule_params\(\s*"(\w+)",((?:\s*"\w+",?)*)', block)
            assert call, f"{smk.name}: params not from rule_params:\n{block}"
            rule, names = call.group(1), re.findall(r'"(\w+)"', call.group(2))
            assert set(names) == set(bconfig.rule_config(DEMO, rule, _wildcards(rule))), rule
            rest = block[call.end():]
            extra = re.findall(r"^\s+(\w+)=", rest, re.M)
            assert extra in ([], ["wildcards"], ["stages"]), (smk.name, rule, extra)
            seen.add(rule)
    assert seen >= set(RULES) - {"specificity_pose"}, set(RULES) - seen


def test_hyper_keys_are_the_vae_parameters():
    """lvm.targets spells the VAE's hyper-parameters (no torch at parse time); the model's
    dataclass is the source."""
    from benediff.lvm.model import RUNTIME_KEYS, VAEParams
    from benediff.lvm.targets import HYPER_KEYS

    assert HYPER_KEYS == tuple(f.name for f in dataclasses.fields(VAEParams)
                               if f.name not in RUNTIME_KEYS + ("seed", "use_behavior"))


def test_the_workflow_parses_without_torch():
    """Parsing the Snakefile's Python side (config, targets) imports no torch."""
    import subprocess
    import sys

    code = ("import sys, benediff.config as c, benediff.lvm.targets, benediff.video.targets\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_unset_measurement_noise_leaves_the_assembly_params_of_earlier_runs():
    """dataset.neural_noise (a key added after runs existed) enters the assembly's slice only
    when set: at its default a finished run's params are those recorded before the key existed,
    so upgrading re-assembles and refits nothing; set, it changes the params (reassembly)."""
    part = bconfig.rule_config(DEMO, "assemble_dataset", WILDCARDS)
    assert DEMO["dataset"]["neural_noise"] == 0
    assert part["config"]["dataset"] == {"neural": "widefield", "labels": "pose", "images": "clips"}
    noisy = copy.deepcopy(DEMO)
    noisy["dataset"]["neural_noise"] = 0.145
    assert bconfig.rule_config(noisy, "assemble_dataset", WILDCARDS)["config"]["dataset"][
        "neural_noise"] == 0.145
