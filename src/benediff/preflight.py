"""Checks of a run's input tables before any job starts (called by ``rules/common.smk``).

Everything that can be known from the config and small input files is checked at parse time,
so ``snakemake -n`` reports it and no job removes a valid earlier output before failing:
trial tables (columns, whole frames, order, overlaps), whether every session has trials for
each of train, val and test under ``split.blocks``, and whether every analysis region exists in
the atlas (sessions from files) or in the BehaveNet file.
"""

from pathlib import Path

import h5py

from benediff.io.split import SplitError, make_split
from benediff.io.trials import check_trials, read_trials


def trial_count(session: str, config: dict, trials_path=None) -> int | None:
    """Trials of a session as far as known before any job (None when not knowable)."""
    cfg = config["sessions"][session]
    if cfg["source"] == "simulate":
        from benediff.simulate.params import params_from_config

        return params_from_config(session, config).n_trials
    if cfg["source"] == "behavenet":
        path = Path(cfg.get("behavenet") or "")
        if not path.is_file():
            return None
        try:
            with h5py.File(path, "r") as f:
                return len(f["neural"]) if "neural" in f else None
        except OSError:
            return None
    if trials_path is not None and Path(trials_path).is_file():
        try:
            return len(read_trials(trials_path))
        except ValueError:
            return None
    return None


def input_problems(config: dict, trials_paths: dict) -> list[str]:
    """Every problem with the trial tables (``trials_paths``: session -> configured CSV) and the
    split of each session's trials."""
    problems = []
    for session, path in trials_paths.items():
        problems += [f"sessions.{session}.trials: {p}" for p in check_trials(path)]
    split = config["split"]
    for session in config["sessions"]:
        n = trial_count(session, config, trials_paths.get(session))
        if n is None:
            continue
        try:
            make_split(n, split["blocks"], split["seed"])
        except SplitError as err:
            problems.append(f"session {session!r}: {err} (config key split.blocks)")
    return problems


def atlas_regions(path, grouping_overrides=None) -> set[str]:
    """Region keys ("VIS_L") the atlas at ``path`` can give, with the configured grouping."""
    from benediff.io import atlas as atl

    atlas = atl.load_atlas(path)
    grouping = atl.make_grouping(grouping_overrides)
    return {key for key in atl.code_regions(atlas, grouping=grouping).values() if key}


def behavenet_regions(path) -> set[str] | None:
    try:
        with h5py.File(path, "r") as f:
            group = f.get("regions/indxs_consolidate_lr")
            return None if group is None else set(group)
    except OSError:
        return None


def region_problems(config: dict) -> list[str]:
    """Analysis regions (config key ``regions``) that a session's atlas or file lacks."""
    problems, regions = [], list(config["regions"])
    atlas_path = config["widefield"]["atlas"]["path"]
    uses_atlas = any(s["source"] == "files" and s.get("widefield")
                     for s in config["sessions"].values())
    if uses_atlas and atlas_path and Path(atlas_path).exists():
        try:
            available = atlas_regions(atlas_path, config["widefield"]["grouping"])
        except (OSError, ValueError) as err:
            problems.append(f"config key widefield.atlas.path: {err}")
        else:
            missing = [r for r in regions if r not in available]
            if missing:
                problems.append(
                    f"config key regions names {missing}, which the atlas {atlas_path} does not "
                    f"have (with widefield.grouping); it has {sorted(available)}")
    return problems + behavenet_problems(config)


def behavenet_problems(config: dict) -> list[str]:
    """Every BehaveNet file read as its import job will read it, images aside (shapes only):
    groups, trial lengths, label columns, NaN, and the configured regions' columns (missing,
    empty, shared, out of range)."""
    from benediff.io.behavenet import BehaveNetError, read_behavenet

    problems = []
    for name, cfg in config["sessions"].items():
        if cfg["source"] != "behavenet" or not Path(cfg.get("behavenet") or "").is_file():
            continue
        try:
            read_behavenet(cfg["behavenet"], session=name, behaviors=list(config["behaviors"]),
                           regions=list(config["regions"]),
                           label_columns=cfg.get("label_columns"),
                           index_base=cfg.get("index_base", "auto"), images=False)
        except BehaveNetError as err:
            problems.append(str(err))
    return problems
