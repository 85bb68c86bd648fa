"""Parse-time checks of the trial tables and what they feed: columns, whole frames, order,
overlaps and the recording's length, the split of each session's trials under ``split.blocks``,
and the analysis regions against the atlas or the BehaveNet file (read as its import job will).
"""

from pathlib import Path

import h5py

from benediff.io.split import SplitError, make_split
from benediff.io.trials import check_trials, read_trials
from benediff.preflight.raw_files import (
    _trials_or_none,
    behaviour_file_problems,
    landmark_file_problems,
    recording_frames,
    session_clock,
)
from benediff.preflight.settings import mapping_problems, nwb_problems


def configured_trials(config: dict) -> dict:
    """Session -> its configured trial table, for files sessions whose table exists."""
    return {s: cfg["trials"] for s, cfg in config["sessions"].items()
            if cfg["source"] == "files" and cfg.get("trials") and Path(cfg["trials"]).exists()}


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
            return len(read_trials(trials_path, clock=session_clock(session, config)))
        except ValueError:
            return None
    return None


def input_problems(config: dict, trials_paths: dict) -> list[str]:
    """Every problem with the trial tables (``trials_paths``: session -> configured CSV), the
    split of each session's trials, and what the raw files' headers and sizes tell (see
    :func:`raw_file_problems`)."""
    problems = mapping_problems(config) + nwb_problems(config)
    totals = {}
    for session in config["sessions"]:
        n, found = recording_frames(session, config)
        totals[session] = n
        problems += found
        problems += landmark_file_problems(session, config)
        problems += behaviour_file_problems(session, config, trials_paths.get(session))
    from benediff.behavior.sessions import is_pose_only
    from benediff.io.trials import unequal_trials

    for session, path in trials_paths.items():
        clock = session_clock(session, config)
        found = check_trials(path, totals.get(session), clock)
        table = None if found else _trials_or_none(path, clock)
        if table is not None and not is_pose_only(config["sessions"][session]):
            found += [p for p in [unequal_trials(table, path)] if p]
        problems += [f"sessions.{session}.trials: {p}" for p in found]
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


def input_warnings(config: dict, trials_paths: dict) -> list[str]:
    """Inputs that are allowed but surprising (the console shows them before any job): a trial
    far shorter than the others in a pose-only session (whose labels need no equal lengths),
    and a movie-only session (widefield stage only: a forgotten pose file shows here)."""
    from benediff.io.trials import short_trials

    from benediff.behavior.sessions import is_pose_only, movie_only_sessions

    warnings = [f"session {s!r} has a widefield movie but no pose and no behaviour video: it "
                f"runs the widefield stage only (neural.h5, qc.pdf); set sessions.{s}.pose "
                "for its labels, dataset and LVM fits" for s in movie_only_sessions(config)]
    for session, path in trials_paths.items():
        if not is_pose_only(config["sessions"][session]):
            continue  # trials of unequal length are an error there (input_problems)
        table = _trials_or_none(path, session_clock(session, config))
        if table is not None:
            found = short_trials(table, path)
            if found:
                warnings.append(f"sessions.{session}.trials: {found}")
    return warnings


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
