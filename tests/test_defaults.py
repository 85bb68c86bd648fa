"""The schemas are the one source of defaults and of the name lists the package checks against.

Every constructor (or trainer) default that has a counterpart in a config schema equals the
schema's default, and every schema ``enum`` of names equals the package's list of those names.
"""

import inspect
from pathlib import Path

import pytest
import yaml

from benediff.lvm import names as lvm_names
from benediff.lvm import targets as lvm_targets
from benediff.lvm.model import BehaviorVAE
from benediff.lvm.tc import ESTIMATORS
from benediff.video import diffusion, guidance, targets as video_targets
from benediff.video.autoencoder import FrameAutoencoder, train_autoencoder
from benediff.video.baselines import NaiveDecoder, train_naive_decoder
from benediff.video.encoder import LinearEncoder
from benediff.video.readout import BehaviorRegressor
from benediff.video.train import train_diffusion
from benediff.video.unet3d import UNet3D

SCHEMAS = Path(__file__).resolve().parents[1] / "workflow" / "schemas"


def section(stage: str, *path: str) -> dict:
    node = yaml.safe_load((SCHEMAS / f"{stage}.schema.yaml").read_text())
    for key in path:
        node = node["properties"][key]
    return node


def schema_defaults(stage: str, *path: str) -> dict:
    return {k: v["default"] for k, v in section(stage, *path)["properties"].items()
            if "default" in v}


def plain(value):
    """Tuples as lists, as the schema (YAML) writes sequences."""
    return list(value) if isinstance(value, tuple) else value


def mismatches(func, defaults: dict, rename: dict | None = None) -> dict:
    """{parameter: (code default, schema default)} for every disagreeing shared key."""
    rename = rename or {}
    out, shared = {}, 0
    for name, param in inspect.signature(func).parameters.items():
        key = rename.get(name, name)
        if key not in defaults:
            continue
        shared += 1
        if param.default is inspect.Parameter.empty:
            continue  # no default of its own: the config always passes it
        if plain(param.default) != defaults[key]:
            out[name] = (param.default, defaults[key])
    assert shared, f"{func.__qualname__} shares no parameter with the schema section"
    return out


def baseline_classes():
    from benediff.lvm.baselines import baseline_class

    return [(name, baseline_class(name)) for name in lvm_names.BASELINES]


CASES = [
    ("VarianceGuidance", guidance.VarianceGuidance, ("video", "guidance")),
    ("UNet3D", UNet3D, ("video", "diffusion")),
    ("GaussianDiffusion", diffusion.GaussianDiffusion, ("video", "diffusion")),
    ("train_diffusion", train_diffusion, ("video", "diffusion")),
    ("FrameAutoencoder", FrameAutoencoder, ("video", "autoencoder")),
    ("train_autoencoder", train_autoencoder, ("video", "autoencoder")),
    ("LinearEncoder", LinearEncoder, ("video", "encoder")),
    ("NaiveDecoder", NaiveDecoder, ("video", "naive")),
    ("train_naive_decoder", train_naive_decoder, ("video", "naive")),
    ("BehaviorRegressor", BehaviorRegressor, ("video", "specificity")),
    ("BehaviorVAE", BehaviorVAE, ("lvm",)),
]


@pytest.mark.parametrize("func, where", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_code_defaults_equal_the_schema_defaults(func, where):
    assert mismatches(func, schema_defaults(*where)) == {}


@pytest.mark.parametrize("name", lvm_names.BASELINES)
def test_baseline_defaults_equal_the_schema_defaults(name):
    cls = dict(baseline_classes())[name]
    assert mismatches(cls, schema_defaults("lvm", "baselines", name)) == {}


def test_locanmf_defaults_equal_the_schema_defaults():
    from benediff.widefield.locanmf import LocaNMF

    assert mismatches(LocaNMF, schema_defaults("widefield", "locanmf")) == {}


# SimParams fields a preset sets on purpose differently from the class (a small movie for tests)
SIM_CLASS_ONLY = {"movie_height", "movie_width", "footprints"}


def test_simulator_defaults_equal_the_default_preset_and_the_schema_descriptions():
    """A session takes the schema's default preset, then non-null overrides: the class default
    of every override key is that preset's value (but for SIM_CLASS_ONLY), and every "(demo X,
    paper Y)" in the schema's descriptions is what the presets set."""
    import re

    from benediff.simulate.params import PRESETS, SimParams

    sim = section("simulate")
    preset = sim["properties"]["preset"]["default"]
    code = SimParams()
    overrides = sim["properties"]["overrides"]["properties"]
    for key, spec in overrides.items():
        assert hasattr(code, key), f"simulate.overrides.{key} is no SimParams field"
        if key not in SIM_CLASS_ONLY:
            assert PRESETS[preset].get(key, getattr(code, key)) == getattr(code, key), key
        quoted = re.search(r"\(demo ([\d.]+), paper ([\d.]+)\)", spec.get("description", ""))
        if quoted:
            for name, number in zip(("demo", "paper"), quoted.groups()):
                value = PRESETS[name].get(key, getattr(code, key))
                assert float(number) == float(value), (key, name, number, value)


def test_the_check_catches_a_disagreeing_default():
    def made_up(*, scale=1.0, tau=5.0):
        pass

    assert mismatches(made_up, schema_defaults("video", "guidance")) == {"scale": (1.0, 250.0)}


def test_behavior_vae_shows_its_signature_and_takes_a_dict():
    params = inspect.signature(BehaviorVAE).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert {"beta", "hidden", "lr", "seed", "device"} <= set(params)
    model = BehaviorVAE(**{"beta": 2.0, "hidden": 0, "seed": 3})
    assert model.params.beta == 2.0 and model.params.hidden is None and model.params.seed == 3
    with pytest.raises(TypeError):
        BehaviorVAE(**{"bogus": 1})


# ---------------------------------------------------------------------------- name lists


def enum(stage: str, *path: str) -> list:
    node = section(stage, *path)
    return node.get("items", node)["enum"]


def test_lvm_model_names_are_one_list():
    for key in ("table1", "table2", "table3", "fig5"):
        assert enum("lvm", key, "models") == list(lvm_names.MODELS)
    assert lvm_targets.MODELS is lvm_names.MODELS
    assert tuple(lvm_names.VAE_VARIANTS) + lvm_names.BASELINES == lvm_names.MODELS
    from benediff.lvm import baselines, pipeline

    assert baselines.BASELINES == lvm_names.BASELINES == pipeline.BASELINES
    assert pipeline.MODELS == lvm_names.MODELS and pipeline.VAE_VARIANTS is lvm_names.VAE_VARIANTS
    assert [cls.kind for _, cls in baseline_classes()] == list(lvm_names.BASELINES)
    assert set(section("lvm", "baselines")["properties"]) == set(lvm_names.BASELINES)


def test_lvm_setting_enums_equal_the_package_lists():
    from benediff.lvm.baselines.cebra_baseline import DECODERS, NEIGHBOUR_SEARCHES

    assert enum("lvm", "tc_estimator") == list(ESTIMATORS)
    assert enum("lvm", "baselines", "cebra", "decoder") == list(DECODERS)
    assert enum("lvm", "baselines", "cebra", "neighbour_search") == list(NEIGHBOUR_SEARCHES)


def test_video_enums_and_names_equal_the_package_lists():
    from benediff.figures.video import VIEWS
    from benediff.video import pipeline

    assert enum("video", "diffusion", "schedule") == list(diffusion.SCHEDULES)
    assert enum("video", "diffusion", "loss") == list(diffusion.LOSSES)
    assert enum("video", "guidance", "sampler") == list(diffusion.SAMPLERS)
    assert enum("video", "guidance", "input") == list(guidance.INPUTS)
    assert pipeline.METHODS is video_targets.METHODS
    figures = section("video", "figures")["properties"]
    assert set(figures) - {"n_columns"} == {*video_targets.METHOD_FIGURES,
                                             *video_targets.REGION_FIGURES}
    for fig in (*video_targets.METHOD_FIGURES, *video_targets.REGION_FIGURES):
        assert figures[fig]["properties"]["view"]["enum"] == list(VIEWS)


def test_rules_take_their_name_lists_from_the_package():
    rules = Path(__file__).resolve().parents[1] / "workflow" / "rules"
    lvm, video = (rules / "lvm.smk").read_text(), (rules / "video.smk").read_text()
    assert 'model="|".join(lvm_targets.MODELS)' in lvm
    assert 'method="|".join(video_targets.PER_FACTOR_METHODS)' in video
    assert set(video_targets.PER_FACTOR_METHODS) == set(video_targets.METHODS) - {"unguided"}
    assert 'fig="|".join(video_targets.FIGURES)' in video
    for name in (*lvm_names.MODELS, *video_targets.METHODS):
        assert f"|{name}|" not in lvm + video
