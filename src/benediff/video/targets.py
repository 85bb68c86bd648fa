"""Paths of the video stage and the inputs each of its rules needs, as functions of the config.

Used by ``workflow/rules/video.smk`` so that, e.g., Figure 6 pulls in exactly one region's
latents, one factor and three methods.
"""

import re

from benediff import paths
from benediff.behavior.sessions import analysis_sessions, no_video_message, video_sessions
from benediff.io.generated import LAYOUT as GENERATED_LAYOUT  # noqa: F401 (the generate rule's)

# the method lists (PER_FACTOR_METHODS: the generate rule's wildcard)
from benediff.video.methods import FIGURE_METHODS, METHODS, PER_FACTOR_METHODS  # noqa: F401

METHOD_FIGURES = ("fig6", "fig9", "fig10", "fig11")
REGION_FIGURES = ("fig8", "fig13")
FIGURES = (*METHOD_FIGURES, *REGION_FIGURES, "specificity")


class TargetError(ValueError):
    """A video config key names a session, region or factor the pipeline does not have."""


def video_session(config: dict) -> str:
    """The session the video stage runs on (``video.session``, default: the first session with
    a behaviour video). With no such session the video rules are still written down on the
    first analysis session, but nothing requests them (``no_video_message`` says why) and the
    video rules refuse that session."""
    sessions = video_sessions(config)
    chosen = config["video"]["session"]
    if chosen and chosen not in sessions:
        raise TargetError(f"config key video.session = {chosen!r}: "
                          f"{no_video_message(config, chosen)}")
    return chosen or (sessions or analysis_sessions(config))[0]


def stage_dir(session: str) -> str:
    return paths.video_dir(session)


def vae_latents(config: dict, session: str, region: str) -> str:
    v = config["video"]
    fit = v.get("lvm_session") or session
    if fit not in (session, "pooled"):
        raise TargetError(f"config key video.lvm_session = {fit!r}: use '' (the video session "
                          f"{session!r}'s own lvm fit) or 'pooled'")
    return paths.lvm_fit("latents.h5", fit, region, v["lvm_model"], v["lvm_seed"])


def is_scored(config: dict, region: str, method: str, factor: str) -> bool:
    """Whether the specificity table scores this generation job's videos."""
    spec = config["video"]["specificity"]
    return (region in spec["regions"] and method in spec["methods"]
            and factor in (spec["factors"] or list(config["behaviors"])))


def generate_config(config: dict, method: str, region: str | None = None,
                    factor: str | None = None) -> dict:
    """The settings one generation job reads: a guidance edit reruns only the guided jobs.
    With ``region`` and ``factor``, a job whose videos only a figure shows (not scored) makes
    ``video.generation.figure_videos`` of them instead of ``n_videos``."""
    v = config["video"]
    generation = dict(v["generation"])
    if region is not None and not is_scored(config, region, method, factor):
        generation["n_videos"] = generation["figure_videos"]
    generation.pop("figure_videos", None)
    generation.pop("factors_together", None)  # how jobs are cut, not what they make
    out = {"generation": generation}
    if method == "ours":
        out["guidance"] = v["guidance"]
    elif method == "ours_literal":
        out["guidance"] = {"n_negatives": v["guidance"]["n_negatives"]}
    elif method in ("unguided", "cfg"):  # the sampler of every diffusion method
        out["guidance"] = {k: v["guidance"][k] for k in ("sampler", "steps")}
    if method == "cfg":
        out["cfg"] = {"weight": v["cfg"]["weight"]}
    return out


def generated(session, region, method, factor, ext="h5") -> str:
    return f"{stage_dir(session)}/{region}/generated/{method}/{factor}.{ext}"


def generate_inputs(config: dict, session: str, region: str, method: str) -> dict:
    """Inputs of one generation job: shared AE + latents, the region's encoder and method model."""
    vdm = paths.video("vdm/model.pt", session)
    models = {"ours": vdm, "ours_literal": vdm, "unguided": vdm,
              "cfg": paths.video("cfg/model.pt", session, region),
              "naive": paths.video("naive/model.pt", session, region)}
    if method not in models:
        raise TargetError(f"generation method {method!r} is unknown; use one of {METHODS}")
    return {"latents": paths.video("frame_latents.h5", session),
            "ae": paths.video("ae/model.pt", session), "vae": vae_latents(config, session, region),
            "encoder": paths.video("encoder.h5", session, region), "model": models[method]}


def figure_inputs(config: dict, fig: str) -> dict:
    """{key: generated file} of one figure (keys: method, or "region|factor")."""
    session, figs = video_session(config), config["video"]["figures"]
    if fig in METHOD_FIGURES:
        s = figs[fig]
        _check(config, [s["region"]], [s["factor"]], f"video.figures.{fig}")
        return {m: generated(session, s["region"], m, s["factor"]) for m in FIGURE_METHODS}
    if fig in REGION_FIGURES:
        s = figs[fig]
        _check(config, s["regions"], s["factors"], f"video.figures.{fig}")
        return {f"{r}|{f}": generated(session, r, "ours", f) for r in s["regions"] for f in s["factors"]}
    if fig == "specificity":
        return {"table": paths.table("specificity.csv")}
    raise TargetError(f"figure {fig!r} is not made by the video stage; one of {FIGURES}")


def specificity_inputs(config: dict) -> dict:
    """{"region|method|factor": generated file} scored by the specificity table."""
    spec, session = config["video"]["specificity"], video_session(config)
    factors = spec["factors"] or list(config["behaviors"])
    _check(config, spec["regions"], factors, "video.specificity")
    return {f"{r}|{m}|{f}": generated(session, r, m, f)
            for r in spec["regions"] for m in spec["methods"] for f in factors}


def specificity_extractor(config: dict) -> str:
    """``regressor`` or ``dlc``: what reads behaviour out of generated videos.

    ``auto`` takes the session's DeepLabCut model when the behaviour stage runs one (pose mode
    ``infer`` with a ``model_dir``) and the labels come from that pose; otherwise the regressor.
    """
    choice = config["video"]["specificity"]["extractor"]
    if choice == "regressor":
        return choice
    pose, session = config["behavior"]["pose"], video_session(config)
    missing = [why for why, bad in (
        ("behavior.pose.mode is not 'infer'", pose["mode"] != "infer"),
        ("behavior.pose.model_dir is not set", not pose["model_dir"]),
        ("dataset.labels is not 'pose'", config["dataset"]["labels"] != "pose"),
        (f"session {session!r} is a BehaveNet import (no video, no pose)",
         config["sessions"][session]["source"] == "behavenet"),
    ) if bad]
    if not missing:
        return "dlc"
    if choice == "dlc":
        raise TargetError("config key video.specificity.extractor = 'dlc' needs the session's "
                          f"DeepLabCut model, but {'; '.join(missing)}; set it to 'auto' or "
                          "'regressor', or configure pose inference")
    return "regressor"


def specificity_pose_files(config: dict) -> dict:
    """Canvas video of every scored generated video, its index, its pose and the real labels."""
    session = video_session(config)
    base = f"{stage_dir(session)}/specificity"
    return {"canvas": f"{base}/canvas.mp4", "index": f"{base}/canvas.json",
            "pose": f"{base}/canvas_pose.h5", "labels": f"{paths.RESULTS}/{session}/behavior/labels.h5"}


def figure_settings(config: dict, fig: str) -> dict:
    """Kind (methods / regions / specificity) and drawing settings of one figure."""
    figs = config["video"]["figures"]
    kind = ("methods" if fig in METHOD_FIGURES else "regions" if fig in REGION_FIGURES
            else "specificity")
    return {"kind": kind, "n_columns": figs["n_columns"], **figs.get(fig, {})}


def factor_pattern(config: dict) -> str:
    return "|".join(re.escape(b) for b in config["behaviors"])


def final_outputs() -> list[str]:
    return [paths.figure(f"{fig}.pdf") for fig in FIGURES] + [
        paths.table("specificity.csv"), paths.table("specificity.tex")]


def _check(config, regions, factors, key):
    bad_regions = [r for r in regions if r not in config["regions"]]
    if bad_regions:
        raise TargetError(f"config key {key} names regions {bad_regions} that are not in "
                          f"`regions` {config['regions']}")
    bad = [f for f in factors if f not in config["behaviors"]]
    if bad:
        raise TargetError(f"config key {key} names factors {bad}; the latent factors are the "
                          f"behaviours {config['behaviors']}")


# ---------------------------------------------------------------- the rules' config slices
# (registered in benediff.config.RULE_SLICES; each returns a rule's params, name -> value)

def _runtime(config) -> dict:
    return {"seed": config["seed"], "device": config["device"],
            "gpu_fallback": config["gpu_fallback"]}


def ae_rule_config(config, wildcards) -> dict:
    return {"cfg": config["video"]["autoencoder"], **_runtime(config),
            "checkpoint_dir": paths.video_checkpoints("ae", wildcards.session)}


def vdm_rule_config(config, wildcards) -> dict:
    return {"cfg": config["video"]["diffusion"], **_runtime(config),
            "checkpoint_dir": paths.video_checkpoints("vdm", wildcards.session)}


def cfg_rule_config(config, wildcards) -> dict:
    w = wildcards
    return {"cfg": config["video"]["diffusion"], "cfg_cfg": config["video"]["cfg"],
            **_runtime(config),
            "checkpoint_dir": paths.video_checkpoints("cfg", w.session, w.region)}


def naive_rule_config(config, wildcards) -> dict:
    return {"cfg": config["video"]["naive"], **_runtime(config)}


def unguided_outputs(config: dict, ext: str = "h5") -> list[str]:
    """The unguided reference's files of one region, one per factor (wildcards session, region):
    one job samples the unguided VDM once per region and every factor's row reads it."""
    return [paths.video(f"generated/unguided/{factor}.{ext}", region="{region}")
            for factor in config["behaviors"]]


def unguided_rule_config(config, wildcards) -> dict:
    """Params of ``generate_unguided``: the sampler and the number of scored videos."""
    return {"cfg": generate_config(config, "unguided"), "factors": list(config["behaviors"]),
            "layout": GENERATED_LAYOUT, **_runtime(config)}


def planned_generation(config: dict) -> list[tuple[str, str, str]]:
    """(region, method, factor) of every guided or baseline generation job the specificity table
    and the figures read (``unguided``: one job per region already)."""
    spec, figs = config["video"]["specificity"], config["video"]["figures"]
    triples = [(r, m, f) for r in spec["regions"] for m in spec["methods"]
               for f in (spec["factors"] or list(config["behaviors"]))]
    triples += [(figs[fig]["region"], m, figs[fig]["factor"]) for fig in METHOD_FIGURES
                for m in FIGURE_METHODS]
    triples += [(r, "ours", f) for fig in REGION_FIGURES for r in figs[fig]["regions"]
                for f in figs[fig]["factors"]]
    return [t for t in dict.fromkeys(triples) if t[1] in PER_FACTOR_METHODS]


def grouped_generation(config: dict) -> dict:
    """(region, method) -> factors one job generates (``video.generation.factors_together``):
    every region × method with more than one planned factor. Empty when the key is off. Any
    other generation (one factor, or asked for by its file) is one ``generate`` job; a grouped
    rule names its files, so Snakemake prefers it to ``generate``."""
    if not config["video"]["generation"]["factors_together"]:
        return {}
    groups: dict = {}
    for region, method, factor in planned_generation(config):
        groups.setdefault((region, method), []).append(factor)
    return {key: factors for key, factors in groups.items() if len(factors) > 1}


def generate_group_rule_name(region: str, method: str) -> str:
    return "generate_" + re.sub(r"\W", "_", f"{region}_{method}")


def generate_group_outputs(config: dict, region: str, method: str, ext: str) -> list[str]:
    session = video_session(config)
    return [generated(session, region, method, f, ext)
            for f in grouped_generation(config)[(region, method)]]


def generate_group_wildcards(region: str, method: str):
    """The wildcards a grouped generation rule stands for (it has none)."""
    from types import SimpleNamespace
    return SimpleNamespace(region=region, method=method, factor=None)


def generate_group_rule_config(config, wildcards) -> dict:
    """Params of one grouped generation job: each factor's ``generate`` settings."""
    w = wildcards
    factors = grouped_generation(config).get((w.region, w.method), [w.factor])
    return {"factors": factors,
            "cfgs": [generate_config(config, w.method, w.region, f) for f in factors],
            "layout": GENERATED_LAYOUT, **_runtime(config)}


def generate_rule_config(config, wildcards) -> dict:
    w = wildcards
    return {"cfg": generate_config(config, w.method, w.region, w.factor),
            # the generated files' layout version: a new layout reruns existing generate jobs
            "layout": GENERATED_LAYOUT, **_runtime(config)}


def canvas_rule_config(config, wildcards) -> dict:
    return {"entries": list(specificity_inputs(config)),
            "views": config["behavior"]["clips"]["views"],
            "fps": config["behavior"]["neural_rate"],
            "floor_trials": config["video"]["specificity"]["floor_trials"], "seed": config["seed"]}


def specificity_rule_config(config, wildcards) -> dict:
    spec = config["video"]["specificity"]
    out = {"entries": list(specificity_inputs(config)), "cfg": spec,
           "extractor": specificity_extractor(config), "labels": config["behavior"]["labels"],
           "pcutoff": config["behavior"]["pose"]["pcutoff"], "seed": config["seed"]}
    out["config"] = {"seed": config["seed"], "video": {"session": video_session(config),
                                                      "specificity": spec},
                     "extractor": out["extractor"], "behaviors": list(config["behaviors"])}
    return out


def figure_rule_config(config, wildcards) -> dict:
    settings = figure_settings(config, wildcards.fig)
    return {"entries": list(figure_inputs(config, wildcards.fig)), "settings": settings,
            "seed": config["seed"], "config": {"seed": config["seed"], "figure": settings}}
