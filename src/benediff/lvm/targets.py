"""Snakemake target paths of the LVM stage, computed from the validated config.

Each table/figure names its sessions/regions/models in ``config["lvm"]``, so requesting one
artifact builds only the fits it needs. The session ``pooled`` names one fit per region on the
training trials of all sessions of ``lvm.pool_sessions`` (empty = every configured session); it
is built only when an artifact names it.
"""

import re

from benediff import paths
from benediff.behavior.sessions import analysis_sessions
from benediff.lvm import names
from benediff.lvm.base import LatentModelError
from benediff.lvm.data import POOLED

MODELS = names.MODELS  # the lvm_fit rule's {model} wildcard
TABLE_GROUP = {1: "region", 2: "session", 3: "region"}
TABLES = tuple(TABLE_GROUP)
TRAJECTORY_FIGURES = (7, 12)
FIGURES = (4, 5, *TRAJECTORY_FIGURES)


# the VAE's hyper-parameters (keys of lvm and of lvm.region_overrides.<region>): the fields of
# benediff.lvm.model.VAEParams but the runtime ones, seed and use_behavior. Spelled here so the
# Snakefile checks overrides without importing torch; tests/test_rule_config.py holds it to the
# dataclass.
HYPER_KEYS = ("n_unsupervised", "hidden", "layers", "dropout", "beta", "tc_estimator",
              "tc_max_samples", "x_weight", "behavior_weight", "kl_weight", "warmup_epochs",
              "max_epochs", "patience", "min_delta", "batch_size", "lr")
# lvm keys only the evaluation reads (rule lvm_evaluate): editing them reruns no fit
EVALUATION_KEYS = ("mig_binning",)


def fit_path(session, region, model, seed, name) -> str:
    return paths.lvm_fit(name, session, region, model, seed)


ARTIFACT_KEYS = ("seeds", "fit_seeds_together", "checkpoint_every", "checkpoint_root",
                 "pool_sessions", "table1", "table2", "table3", "fig4", "fig5", "trajectories")


def fit_config(config, wildcards) -> dict:
    """The part of ``config["lvm"]`` one fit depends on, so editing a table's or another
    region's settings does not rerun it."""
    lvm = config["lvm"]
    out = {k: v for k, v in lvm.items()
           if k not in ARTIFACT_KEYS + EVALUATION_KEYS + ("region_overrides", "baselines")}
    out["region_overrides"] = {wildcards.region: lvm["region_overrides"].get(wildcards.region, {})}
    out["baselines"] = {wildcards.model: lvm["baselines"].get(wildcards.model, {})}
    out["checkpoint_every"] = lvm["checkpoint_every"]
    if wildcards.session == POOLED:
        out["pool_sessions"] = pool_sessions(config)
    return out


def evaluation_config(config) -> dict:
    """The part of ``config["lvm"]`` the evaluation of fits depends on (metric settings)."""
    return {k: config["lvm"][k] for k in EVALUATION_KEYS}


def pool_sessions(config) -> list[str]:
    """Sessions whose trials the ``pooled`` fits use (``lvm.pool_sessions``, empty = all)."""
    sessions = analysis_sessions(config)
    if POOLED in sessions:
        raise LatentModelError(f"session name {POOLED!r} is reserved for fits pooled across "
                               "sessions; rename that session in sessions")
    chosen = list(config["lvm"].get("pool_sessions") or sessions)
    unknown = [s for s in chosen if s not in sessions]
    if unknown or len(set(chosen)) != len(chosen):
        raise LatentModelError(f"config key lvm.pool_sessions = {chosen}: list distinct sessions "
                               f"of sessions {sessions} (unknown: {unknown}), or leave it empty "
                               "to pool them all")
    return chosen


def session_datasets(config, session: str):
    """Dataset file(s) of a session: its own, or (``pooled``) every pooled session's, a list."""
    if session == POOLED:
        return [paths.dataset(s) for s in pool_sessions(config)]
    return paths.dataset(session)


def fit_datasets(config, wildcards):
    """Dataset file(s) one fit reads."""
    return session_datasets(config, wildcards.session)


def fit_session_pattern(config) -> str:
    """Regex of a fit's session wildcard: a session with a dataset or ``pooled``."""
    return "|".join([*analysis_sessions(config), POOLED])


def is_pooled(wildcards) -> bool:
    return wildcards.session == POOLED


def checkpoint_dir(config, wildcards) -> str:
    """Checkpoints of one fit, outside its declared outputs so a rerun can resume."""
    w = wildcards
    return paths.lvm_checkpoints(config["lvm"]["checkpoint_root"], w.session, w.region, w.model,
                                 w.seed)


def _session(config, name: str) -> str:
    sessions = analysis_sessions(config)
    if not name:
        return sessions[0]
    if name == POOLED:
        pool_sessions(config)  # fail early on a bad lvm.pool_sessions
        return name
    if name not in sessions:
        raise LatentModelError(f"lvm config names session {name!r}, which is not in sessions "
                               f"{sessions} and is not {POOLED!r}; fix the lvm section")
    return name


def _regions(config, regions, key: str) -> list[str]:
    unknown = [r for r in regions if r not in config["regions"]]
    if unknown:
        raise LatentModelError(f"config key lvm.{key} names regions {unknown} that are not in "
                               f"regions {config['regions']}")
    return list(regions)


def table_cells(config, n: int) -> list[tuple[str, str, str]]:
    """(session, region, model) of every cell of Table n."""
    lvm = config["lvm"]
    if n == 2:
        t = lvm["table2"]
        sessions = [_session(config, s) for s in t["sessions"]] or analysis_sessions(config)[:2]
        region = _regions(config, [t["region"]], "table2.region")[0]
        return [(s, region, m) for s in sessions for m in t["models"]]
    t = lvm[f"table{n}"]
    session = _session(config, t["session"])
    return [(session, r, m) for r in _regions(config, t["regions"], f"table{n}.regions")
            for m in t["models"]]


def table_metrics(config, n: int) -> list[str]:
    return [fit_path(s, r, m, seed, "metrics.json") for s, r, m in table_cells(config, n)
            for seed in config["lvm"]["seeds"]]


def table_models(config, n: int) -> list[str]:
    return list(config["lvm"][f"table{n}"]["models"])


def fig4_metrics(config) -> list[str]:
    f = config["lvm"]["fig4"]
    session, region = _session(config, f["session"]), _regions(config, [f["region"]], "fig4.region")[0]
    return [fit_path(session, region, "ours", seed, "metrics.json") for seed in config["lvm"]["seeds"]]


def fig5_inputs(config) -> dict:
    f = config["lvm"]["fig5"]
    session, region = _session(config, f["session"]), _regions(config, [f["region"]], "fig5.region")[0]
    seed = config["lvm"]["seeds"][0]
    inputs = {"dataset": session_datasets(config, session)}
    inputs |= {m: fit_path(session, region, m, seed, "latents.h5") for m in f["models"]}
    return inputs


def fig5_pooled(config) -> bool:
    return _session(config, config["lvm"]["fig5"]["session"]) == POOLED


def trajectory_latents(config) -> dict:
    """Region -> latents.h5 of model ``ours`` (first seed) for Figures 7 and 12."""
    session = _session(config, config["lvm"]["trajectories"]["session"])
    seed = config["lvm"]["seeds"][0]
    return {r: fit_path(session, r, "ours", seed, "latents.h5") for r in config["regions"]}


def evaluated_fits(config) -> dict:
    """(session, region) -> [(model, seed), ...]: every fit whose metrics.json a table or
    Figure 4 reads, grouped as the evaluation jobs run them (one job per session × region)."""
    cells = [c for n in TABLES for c in table_cells(config, n)]
    f = config["lvm"]["fig4"]
    cells.append((_session(config, f["session"]), _regions(config, [f["region"]], "fig4.region")[0],
                  "ours"))
    groups: dict = {}
    for session, region, model in cells:
        fits = groups.setdefault((session, region), [])
        for seed in config["lvm"]["seeds"]:
            if (model, seed) not in fits:
                fits.append((model, seed))
    return groups


def evaluation_rule_name(session: str, region: str) -> str:
    """Name of the evaluation rule of one session × region (``lvm_evaluate_<session>_<region>``)."""
    return "lvm_evaluate_" + re.sub(r"\W", "_", f"{session}_{region}")


def evaluation_inputs(config, session: str, region: str, fits) -> dict:
    """Inputs of one evaluation job: the dataset(s), then each fit's model file and record."""
    out = {"dataset": session_datasets(config, session)}
    for model, seed in fits:
        out[f"{model}_seed{seed}_model"] = fit_path(session, region, model, seed, "model.pt")
        out[f"{model}_seed{seed}_fit"] = fit_path(session, region, model, seed, "fit.json")
    return out


def all_outputs(config) -> list[str]:
    return ([paths.table(f"table{n}.{ext}") for n in TABLES for ext in ("csv", "tex")]
            + [paths.figure(f"fig{n}.pdf") for n in FIGURES])


# ---------------------------------------------------------------- the rules' config slices
# (registered in benediff.config.RULE_SLICES; each returns a rule's params, name -> value)

TABLE_CAPTIONS = {
    1: "Neural reconstruction and disentanglement per region: baselines vs ours (mean ± std over seeds).",
    2: "Standard VAE vs ours across sessions, one region (mean ± std over seeds).",
    3: "Ablation: standard VAE, w/o behaviour, w/o TC, ours (mean ± std over seeds).",
}


def fit_rule_config(config, wildcards) -> dict:
    """Params of one ``lvm_fit`` job: the model's hyper-parameters and training settings."""
    return {"lvm": fit_config(config, wildcards), "seed": config["seed"],
            "device": config["device"], "gpu_fallback": config["gpu_fallback"],
            "checkpoint_dir": checkpoint_dir(config, wildcards), "pooled": is_pooled(wildcards)}


def grouped_fits(config) -> dict:
    """(session, region, model) -> seeds fitted together by one job (``lvm.fit_seeds_together``):
    every model × region a table or Figure 4 reads on all of ``lvm.seeds``. Empty when the key is
    off or there is one seed. Any other fit (a figure's single seed, a seed asked for alone) is
    one ``lvm_fit`` job; a grouped rule names its files, so Snakemake prefers it to ``lvm_fit``."""
    seeds = [int(s) for s in config["lvm"]["seeds"]]
    if not config["lvm"]["fit_seeds_together"] or len(seeds) < 2:
        return {}
    return {(session, region, model): seeds
            for (session, region), fits in evaluated_fits(config).items()
            for model in dict.fromkeys(m for m, _ in fits)}


def fit_seeds_rule_name(session: str, region: str, model: str) -> str:
    """Name of the rule fitting every seed of one session × region × model."""
    return "lvm_fit_seeds_" + re.sub(r"\W", "_", f"{session}_{region}_{model}")


def fit_seeds_outputs(session: str, region: str, model: str, seeds, name: str) -> list[str]:
    return [fit_path(session, region, model, seed, name) for seed in seeds]


def fit_seeds_rule_config(config, wildcards) -> dict:
    """Params of one ``lvm_fit_seeds_*`` job: those of ``lvm_fit`` (the hyper-parameters do not
    depend on the seed), its seeds and each seed's checkpoint folder."""
    w = wildcards
    seeds = [int(s) for s in config["lvm"]["seeds"]]  # a grouped job fits them all
    dirs = [paths.lvm_checkpoints(config["lvm"]["checkpoint_root"], w.session, w.region, w.model,
                                  seed) for seed in seeds]
    return {"lvm": fit_config(config, wildcards), "seeds": seeds, "seed": config["seed"],
            "device": config["device"], "gpu_fallback": config["gpu_fallback"],
            "checkpoint_dirs": dirs, "pooled": is_pooled(wildcards)}


def evaluate_rule_config(config, wildcards) -> dict:
    """Params of the evaluation of one session × region: metric settings and its fits."""
    fits = evaluated_fits(config).get((wildcards.session, wildcards.region))
    if fits is None or getattr(wildcards, "model", None) is not None:  # one fit, asked alone
        fits = [(wildcards.model, int(wildcards.seed))]
    return {"lvm": evaluation_config(config), "device": config["device"],
            "gpu_fallback": config["gpu_fallback"], "fits": [list(f) for f in fits],
            "pooled": is_pooled(wildcards)}


def table_rule_config(config, wildcards) -> dict:
    n = int(wildcards.n)
    return {"group": TABLE_GROUP[n], "models": table_models(config, n),
            "caption": TABLE_CAPTIONS[n], "seed": config["seed"],
            "config": {"seed": config["seed"], "cells": [list(c) for c in table_cells(config, n)],
                       "seeds": list(config["lvm"]["seeds"])}}


def fig4_rule_config(config, wildcards) -> dict:
    f = config["lvm"]["fig4"]
    return {"region": f["region"], "seed": config["seed"],
            "config": {"seed": config["seed"], "fig4": f, "inputs": fig4_metrics(config)}}


def fig5_rule_config(config, wildcards) -> dict:
    f = config["lvm"]["fig5"]
    return {"region": f["region"], "models": f["models"], "test_trial": f["test_trial"],
            "n_dims": f["n_dims"], "pooled": fig5_pooled(config), "seed": config["seed"],
            "config": {"seed": config["seed"], "fig5": f}}


def trajectories_rule_config(config, wildcards) -> dict:
    t = config["lvm"]["trajectories"]
    return {"regions": list(config["regions"]), "factors": t["factors"],
            "n_trials": t[f"fig{wildcards.n}_trials"], "seed": config["seed"],
            "config": {"seed": config["seed"], "trajectories": t,
                       "regions": list(config["regions"])}}


def region_wildcards(session: str, region: str, model: str | None = None):
    """The wildcards a rule of one session × region (× model) stands for (it has none)."""
    from types import SimpleNamespace
    if model is None:
        return SimpleNamespace(session=session, region=region)
    return SimpleNamespace(session=session, region=region, model=model)
