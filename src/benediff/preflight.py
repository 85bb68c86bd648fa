"""Checks of a run's input tables before any job starts (called by ``rules/common.smk``).

Everything that can be known from the config and small input files is checked at parse time,
so ``snakemake -n`` reports it and no job removes a valid earlier output before failing:
trial tables (columns, whole frames, order, overlaps) and whether every session has trials
for each of train, val and test under ``split.blocks``.
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
