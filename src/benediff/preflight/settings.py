"""Parse-time checks of the config's own settings: behaviours without a label mapping, NWB
metadata the export would refuse, unknown region overrides, contradicting dataset keys, what
the tables', figures' and videos' settings name that the config lacks, and the files the
default target's jobs need.
"""

from pathlib import Path

from benediff.preflight.sessions import path_problem


def nwb_problems(config: dict) -> list[str]:
    """NWB metadata (nwb section) that the export of the default target would refuse."""
    if "nwb" not in config:
        return []
    from benediff.io.nwb import export_sessions, metadata_problems

    return metadata_problems(config["nwb"], export_sessions(config))


def mapping_problems(config: dict) -> list[str]:
    """Behaviours without an entry in ``behavior.labels.mapping`` when labels come from pose."""
    from benediff.behavior.sessions import is_movie_only

    sessions = config["sessions"].values()
    from_pose = any(s["source"] == "files" and not is_movie_only(s) for s in sessions) or (
        config["dataset"]["labels"] == "pose" and any(s["source"] == "simulate" for s in sessions))
    mapping = config["behavior"]["labels"]["mapping"]
    missing = [b for b in config["behaviors"] if b not in mapping]
    if not from_pose or not missing:
        return []
    return [f"config key behaviors lists {missing}, which behavior.labels.mapping does not map "
            f"(it maps {sorted(mapping)}); add an entry for each, e.g. "
            f"behavior.labels.mapping.{missing[0]}: {{bodypart: <part>, coord: x}}, or remove "
            "it from behaviors"]


def region_override_problems(config: dict) -> list[str]:
    """Keys of lvm.region_overrides that are not the VAE's hyper-parameters."""
    overrides = config["lvm"]["region_overrides"]
    if not overrides:
        return []
    try:
        from benediff.lvm.targets import HYPER_KEYS  # no torch at parse time
    except ImportError:
        from benediff.lvm.pipeline import HYPER_KEYS
    problems = []
    for region, override in overrides.items():
        unknown = sorted(set(override) - set(HYPER_KEYS))
        if unknown:
            problems.append(f"config key lvm.region_overrides.{region} has unknown key(s) "
                            f"{unknown}; allowed: {sorted(HYPER_KEYS)}")
    return problems


def dataset_problems(config: dict) -> list[str]:
    """Settings of ``dataset`` that contradict each other."""
    ds = config.get("dataset", {})
    if ds.get("neural_noise", 0) > 0 and ds.get("neural") != "truth":
        return [f"config key dataset.neural_noise is {ds['neural_noise']} but dataset.neural is "
                f"{ds.get('neural')!r}: the noise is added to the simulator's planted components "
                "only; set dataset.neural to 'truth' or dataset.neural_noise to 0"]
    return []


def target_problems(config: dict) -> list[str]:
    """What the tables', figures' and videos' settings name that the config lacks (the errors
    Snakemake raises while it lists the targets)."""
    from benediff.lvm import targets as lvm_targets
    from benediff.video import targets as video_targets

    problems = []
    for what in (lambda: lvm_targets.all_outputs(config),
                 *[(lambda n=n: lvm_targets.table_cells(config, n)) for n in lvm_targets.TABLES],
                 lambda: lvm_targets.fig4_metrics(config), lambda: lvm_targets.fig5_inputs(config),
                 lambda: lvm_targets.trajectory_latents(config),
                 lambda: video_targets.video_session(config),
                 lambda: video_targets.specificity_inputs(config),
                 *[(lambda f=f: video_targets.figure_inputs(config, f))
                   for f in video_targets.FIGURES],
                 lambda: video_targets.specificity_extractor(config)):
        try:
            what()
        except ValueError as err:
            if str(err) not in problems:
                problems.append(str(err))
    return problems


def default_target_problems(config: dict) -> list[str]:
    """Files the default target's jobs need that Snakemake checks only while it builds them
    (a missing landmarks file, atlas or behaviour file of a session from files)."""
    from benediff.behavior.sessions import is_pose_only

    problems = []
    for session, cfg in config["sessions"].items():
        if cfg["source"] != "files" or is_pose_only(cfg):
            continue
        keys = ["landmarks"] if cfg.get("widefield") else []
        keys += [k for k in ("behavior_video", "pose") if cfg.get(k)]
        problems += [p for k in keys if (p := path_problem(config, session, k))]
        atlas = config["widefield"]["atlas"]["path"]
        if cfg.get("widefield") and atlas is None:
            problems.append("config key widefield.atlas.path is required for sessions with "
                            "source files; point it at an atlas (wfield reference dir, "
                            "atlas.mat, ...)")
        elif cfg.get("widefield") and not Path(atlas).exists():
            problems.append(f"config key widefield.atlas.path points at {atlas}, which does not "
                            "exist; fix the path in your config")
    return problems
