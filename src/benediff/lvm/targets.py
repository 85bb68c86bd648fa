"""Snakemake target paths of the LVM stage, computed from the validated config.

Each table/figure names its sessions/regions/models in ``config["lvm"]``, so requesting one
artifact builds only the fits it needs.
"""

from benediff.lvm.base import LatentModelError

FIT_DIR = "results/lvm/{session}/{region}/{model}/seed{seed}"
TABLE_GROUP = {1: "region", 2: "session", 3: "region"}


def fit_path(session, region, model, seed, name) -> str:
    return f"{FIT_DIR.format(session=session, region=region, model=model, seed=seed)}/{name}"


ARTIFACT_KEYS = ("seeds", "checkpoint_every", "checkpoint_root", "table1", "table2", "table3", "fig4",
                 "fig5", "trajectories")


def fit_config(config, wildcards) -> dict:
    """The part of ``config["lvm"]`` one fit depends on, so editing a table's or another
    region's settings does not rerun it."""
    lvm = config["lvm"]
    out = {k: v for k, v in lvm.items() if k not in ARTIFACT_KEYS + ("region_overrides", "baselines")}
    out["region_overrides"] = {wildcards.region: lvm["region_overrides"].get(wildcards.region, {})}
    out["baselines"] = {wildcards.model: lvm["baselines"].get(wildcards.model, {})}
    out["checkpoint_every"] = lvm["checkpoint_every"]
    return out


def checkpoint_dir(config, wildcards) -> str:
    """Checkpoints of one fit, outside its declared outputs so a rerun can resume."""
    w = wildcards
    return f"{config['lvm']['checkpoint_root']}/{w.session}/{w.region}/{w.model}/seed{w.seed}"


def _session(config, name: str) -> str:
    sessions = list(config["sessions"])
    if not name:
        return sessions[0]
    if name not in sessions:
        raise LatentModelError(f"lvm config names session {name!r}, which is not in sessions "
                               f"{sessions}; fix the lvm section")
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
        sessions = [_session(config, s) for s in t["sessions"]] or list(config["sessions"])[:2]
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
    inputs = {"dataset": f"results/{session}/dataset.h5"}
    inputs |= {m: fit_path(session, region, m, seed, "latents.h5") for m in f["models"]}
    return inputs


def trajectory_latents(config) -> dict:
    """Region -> latents.h5 of model ``ours`` (first seed) for Figures 7 and 12."""
    session = _session(config, config["lvm"]["trajectories"]["session"])
    seed = config["lvm"]["seeds"][0]
    return {r: fit_path(session, r, "ours", seed, "latents.h5") for r in config["regions"]}


def all_outputs(config) -> list[str]:
    return ([f"results/tables/table{n}.{ext}" for n in (1, 2, 3) for ext in ("csv", "tex")]
            + [f"results/figures/fig{n}.pdf" for n in (4, 5, 7, 12)])
