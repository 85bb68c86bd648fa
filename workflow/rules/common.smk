# Everything that is not a rule: config validation, session paths, input functions.

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod

from benediff import config as bconfig
from benediff import paths
from benediff.lvm import targets as lvm_targets
from benediff.video import targets as video_targets

try:
    _validated = bconfig.validate(
        config, schema_dir=Path(workflow.current_basedir).parent / "schemas"
    )
    config.clear()  # take the validated key order too, not only the values
    config.update(_validated)
except bconfig.ConfigError as err:
    raise WorkflowError(str(err)) from None


SESSIONS = list(config["sessions"])
REGIONS = list(config["regions"])


wildcard_constraints:
    session="|".join(SESSIONS),
    region="|".join(REGIONS),


RAW_FILE_KEYS = {
    "widefield": "widefield",
    "landmarks": "landmarks",
    "behavior_video": "behavior_video",
    "pose": "pose",
    "trials": "trials",
}


def session_config(session):
    return config["sessions"][session]


def is_simulated(session):
    return session_config(session)["source"] == "simulate"


def is_behavenet(session):
    return session_config(session)["source"] == "behavenet"


def is_pose_only(session):
    """A ``source: files`` session with pose + trials but neither a widefield movie nor a
    behaviour video: its behaviour stage ends at labels.h5 (no clips, no dataset)."""
    from benediff.behavior.sessions import is_pose_only as pose_only

    return pose_only(session_config(session))


def has_behavior_video(session):
    from benediff.behavior.sessions import has_behavior_video as has_video

    return has_video(session_config(session))


def is_movie_only(session):
    """A ``source: files`` session with a widefield movie but no pose and no behaviour video:
    the widefield stage only (benediff.behavior.sessions, the session shapes)."""
    from benediff.behavior.sessions import is_movie_only as movie_only

    return movie_only(session_config(session))


def sessions_pattern(sessions):
    """Wildcard regex matching exactly ``sessions`` (nothing at all when the list is empty)."""
    return "|".join(sessions) if sessions else "(?!)"


BEHAVENET_SESSIONS = [s for s in SESSIONS if is_behavenet(s)]
RECORDED_SESSIONS = [s for s in SESSIONS if not is_behavenet(s)]


def sim_dir(session):
    return f"resources/sessions/{session}"


# Problems found while the workflow is parsed; report_problems() raises them all in one error.
PROBLEMS = []


def path_problem(session, key):
    """Why sessions.<session>.<key> is unusable (unset or missing on disk), or None."""
    from benediff.preflight import path_problem as problem

    return problem(config, session, key)


def configured_path(session, key):
    """A path from sessions.<session>.<key>; fail naming the key if unset or missing on disk."""
    problem = path_problem(session, key)
    if problem:
        raise WorkflowError(problem)
    return session_config(session)[key]


def check_path(session, key):
    """Record a problem with sessions.<session>.<key>; True when the path is usable."""
    problem = path_problem(session, key)
    if problem:
        PROBLEMS.append(problem)
    return problem is None


def report_problems():
    """Raise every problem recorded at parse time in one error (before any job runs)."""
    if PROBLEMS:
        n = len(PROBLEMS)
        raise WorkflowError(
            f"invalid input ({n} problem{'s' if n > 1 else ''}):\n  "
            + "\n  ".join(PROBLEMS)
        )


def raw_path(session, kind):
    """Raw input ``kind`` of a session: simulator output, or the path the config points at."""
    if is_simulated(session):
        paths = simulated_paths(session)
        if kind == "widefield":
            return paths.get("dat") or paths["tiff"]
        return paths["video" if kind == "behavior_video" else kind]
    return configured_path(session, RAW_FILE_KEYS[kind])


def trials_from_rule(session):
    """Whether the stages read the session's trials from rule session_trials (a table in
    seconds, or the trials table of an NWB movie when sessions.<s>.trials is unset)."""
    from benediff.io.trials import is_time_file

    if is_simulated(session) or is_behavenet(session):
        return False
    path = session_config(session).get("trials")
    if path:
        return Path(path).is_file() and is_time_file(path)
    return is_nwb_movie(session)


def is_nwb_movie(session):
    from benediff.preflight import is_nwb_movie as nwb_movie

    return nwb_movie(session, config)


def trials_table(wildcards):
    if trials_from_rule(wildcards.session):
        return f"results/{wildcards.session}/trials.csv"
    return raw_path(wildcards.session, "trials")


def behavenet_file(wildcards):
    return configured_path(wildcards.session, "behavenet")


def dataset_sources(wildcards):
    """Inputs of the assembled dataset, following config.dataset (stage output or truth)."""
    from benediff.behavior.sessions import dataset_sources as session_sources

    session = wildcards.session
    sources = session_sources(config, session)  # no images without a behaviour video
    inputs = {"split": f"results/{session}/split.json"}
    if "truth" in sources.values():
        if not is_simulated(session):
            raise WorkflowError(
                f"config key dataset uses 'truth' but session {session!r} has source 'files': "
                "ground truth exists only for simulated sessions; set dataset.neural to "
                "'widefield', dataset.labels to 'pose' and dataset.images to 'clips'"
            )
        inputs["truth"] = simulated_paths(session)["truth"]
    stage_outputs = {
        ("neural", "widefield"): f"results/{session}/widefield/neural.h5",
        ("labels", "pose"): f"results/{session}/behavior/labels.h5",
        ("images", "clips"): f"results/{session}/behavior/clips.h5",
    }
    for group, source in sources.items():
        if (group, source) in stage_outputs:
            inputs[group] = stage_outputs[(group, source)]
    return inputs


def check_configured_paths():
    from benediff.preflight import session_path_problems

    PROBLEMS.extend(session_path_problems(config))


check_configured_paths()


def check_inputs():
    """Trial tables and splits of every session, before any job (all problems in one error)."""
    from benediff.preflight import (
        dataset_problems,
        input_problems,
        input_warnings,
        region_problems,
    )

    tables = {
        s: session_config(s)["trials"]
        for s in SESSIONS
        if not (is_simulated(s) or is_behavenet(s)) and session_config(s).get("trials")
    }
    tables = {s: path for s, path in tables.items() if Path(path).exists()}
    PROBLEMS.extend(input_problems(config, tables))
    PROBLEMS.extend(dataset_problems(config))
    if workflow.is_main_process:  # allowed but surprising: one console line each
        from snakemake.logging import logger

        for warning in input_warnings(config, tables):
            logger.warning(f"warning: {warning}")
    PROBLEMS.extend(region_problems(config))
    overrides = config["lvm"]["region_overrides"]
    if overrides:  # keys of a region override: the VAE's hyper-parameters
        # from lvm.targets, not lvm.pipeline: no torch at parse time
        from benediff.lvm.targets import HYPER_KEYS

        for region, override in overrides.items():
            unknown = sorted(set(override) - set(HYPER_KEYS))
            if unknown:
                PROBLEMS.append(
                    f"config key lvm.region_overrides.{region} has unknown key(s) {unknown}; "
                    f"allowed: {sorted(HYPER_KEYS)}"
                )


check_inputs()


def get_final_output():
    """Every artifact: the resolved config, each session's dataset (labels for a pose-only
    session; neural.h5 for a movie-only one), widefield QC, each paper figure and table once
    some session has a dataset, and the video stage once some session has a behaviour video.
    """
    from benediff.behavior.sessions import dataset_sessions, no_video_message

    with_dataset = dataset_sessions(config)
    outputs = ["results/config.resolved.yaml"]
    outputs += [f"results/{s}/behavior/labels.h5" for s in SESSIONS if is_pose_only(s)]
    outputs += [
        f"results/{s}/widefield/neural.h5" for s in SESSIONS if is_movie_only(s)
    ]
    outputs += expand("results/{session}/dataset.h5", session=with_dataset)
    outputs += [
        f"results/{s}/widefield/qc.pdf"
        for s in RECORDED_SESSIONS
        if s in with_dataset or is_movie_only(s)
    ]
    if not with_dataset:
        return outputs
    outputs += ["results/figures/fig1b.pdf", "results/tables/fig1b.csv"]
    outputs += lvm_targets.all_outputs(config)
    if not config["video"]["enabled"]:
        logger.info(
            "video.enabled is false: the video stage is left out of the default target"
        )
    elif no_video_message(config):
        logger.info(
            "no session has a behaviour video: the video stage is left out of the default "
            "target (it needs sessions.<s>.behavior_video)"
        )
    else:
        outputs += video_targets.final_outputs()
    from benediff.io.nwb import export_sessions  # rules/nwb.smk

    outputs += [f"results/{s}/{s}.nwb" for s in export_sessions(config)]
    return outputs


def simulated_paths(session):
    """Raw files the simulator writes for a session (keys as in RAW_FILE_KEYS + atlas, truth)."""
    from benediff.simulate import raw_paths

    return raw_paths(session, config)


def rule_params(rule, *names, wildcards=None):
    """A rule's params: its config slice (benediff.config.rule_config), one entry per name.

    Every rule takes its params this way and nothing else, so a job reruns only when a key its
    slice reads changes. ``wildcards`` stands in for the job's own (rules defined per region).
    """

    def entry(name):
        def value(wc):
            part = bconfig.rule_config(config, rule, wildcards or wc)
            if set(part) != set(names):
                raise WorkflowError(
                    f"the params {sorted(names)} of rule {rule!r} differ from its config "
                    f"slice {sorted(part)} (benediff.config.RULE_SLICES)"
                )
            return part[name]

        return value

    return {name: entry(name) for name in names}


# --- behaviour stage ---


def dlc_python():
    """Python running DLC inference: the rule's env under --sdm conda, else dlc_python's."""
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "python"
    return "{params.python}"


def behavior_video(wildcards):
    return raw_path(wildcards.session, "behavior_video")


def behavior_pose_video(wildcards):
    """Video the pose is checked against; [] for a session without one (rate from the config)."""
    return behavior_video(wildcards) if has_behavior_video(wildcards.session) else []


def session_timestamps(session):
    """Configured timestamp files of a session: {"video": path | None, "neural": path | None}."""
    cfg = session_config(session)
    return {
        "video": cfg.get("video_timestamps"),
        "neural": cfg.get("neural_timestamps"),
    }


def timestamp_files(wildcards):
    """Timestamp files a labels/clips job reads (tracked as inputs so edits rerun it)."""
    return [path for path in session_timestamps(wildcards.session).values() if path]


def behavior_pose_source(wildcards):
    """DLC file to normalise (infer output, sessions.<s>.pose, dlc_dir or the simulator)."""
    session, pose = wildcards.session, config["behavior"]["pose"]
    if pose["mode"] == "infer":
        from benediff.io.pose import check_model_dir

        check_model_dir(
            pose["model_dir"]
        )  # a bad model folder fails before any job runs
        return f"results/{session}/behavior/dlc_infer.h5"
    if (
        session_config(session).get("pose")
        or not (pose["dlc_dir"] or is_simulated(session))
        or not has_behavior_video(session)
    ):
        return configured_path(session, "pose")
    if pose["dlc_dir"]:
        from benediff.behavior.pose import find_pose_file

        return str(
            find_pose_file(pose["dlc_dir"], Path(behavior_video(wildcards)).stem)
        )
    return simulated_paths(session)["pose"]


def fig1b_dataset(wildcards):
    from benediff.behavior.sessions import dataset_sessions

    default = (dataset_sessions(config) or SESSIONS)[0]
    return f"results/{config['behavior']['fig1b']['session'] or default}/dataset.h5"


def check_behavior_sessions():
    """Parse-time checks of the behaviour inputs (benediff.preflight: label mapping forms,
    sessions without a behaviour video, timestamp files, body parts of each pose file).
    """
    from benediff.preflight import behaviour_session_problems

    PROBLEMS.extend(behaviour_session_problems(config))


check_behavior_sessions()
report_problems()


# --- widefield stage ---
def widefield_movie(wildcards):
    return raw_path(wildcards.session, "widefield")


def widefield_atlas(wildcards):
    if is_simulated(wildcards.session):
        return simulated_paths(wildcards.session)["atlas"]
    path = config["widefield"]["atlas"]["path"]
    if path is None:
        raise WorkflowError(
            "config key widefield.atlas.path is required for sessions with "
            "source files; point it at an atlas (wfield reference dir, atlas.mat, ...)"
        )
    return path


def widefield_qc_labels(wildcards):
    """Behaviour labels for the QC's motion page when the dataset takes them from pose: the
    behaviour stage reads no widefield output, so this adds no cycle (docs/WIDEFIELD.md §2.3).
    """
    if config["dataset"]["labels"] == "pose" and not is_movie_only(wildcards.session):
        return f"results/{wildcards.session}/behavior/labels.h5"
    return []


def widefield_format(wildcards):
    cfg = session_config(wildcards.session)
    if cfg.get("nwb_series"):  # the NWB imaging series chosen by name
        from benediff.widefield.readers import nwb_format

        return nwb_format(cfg["nwb_series"])
    return cfg.get("widefield_format", "auto")


# --- video stage: the session, specificity extractor ---


def video_dataset(wildcards):
    """Dataset the video stage trains on: only a session with a behaviour video (one error
    naming why for any other, e.g. when a video file is asked for by name)."""
    from benediff.behavior.sessions import no_video_message

    problem = no_video_message(config, wildcards.session)
    if problem:
        raise WorkflowError(problem)
    return paths.dataset(wildcards.session)


def check_video_session():
    try:  # video.session naming a session without a behaviour video: before any job
        video_targets.video_session(config)
    except ValueError as err:
        PROBLEMS.append(str(err))
        report_problems()


check_video_session()

SPEC_EXTRACTOR = video_targets.specificity_extractor(config)
SPEC_POSE = video_targets.specificity_pose_files(config)


def specificity_pose_inputs(wildcards):
    if SPEC_EXTRACTOR != "dlc":
        return {}
    return {k: SPEC_POSE[k] for k in ("index", "pose", "labels")}


# --- one run at a time in this directory (Snakemake 9.27 drops every lock when a run exits) ---


if workflow.is_main_process:
    from benediff import runlock as _runlock

    _recovered = _runlock.recover()  # after kill -9: our lock and Snakemake's, one line
    if _recovered:
        from snakemake.logging import logger

        logger.warning(_recovered)
    _live = _runlock.live_holder()
    if _live:  # Snakemake checks its own locks first: its refusal names our holder
        import snakemake.exceptions as _smx

        _runlock.name_holder_in_lock_error(
            _smx.LockException, WorkflowError, _runlock.describe(_live)
        )


onstart:
    if workflow.is_main_process:
        from benediff import runlock
        from benediff.device import DeviceError, resolve_device

        if workflow.local_exec and config["gpu_fallback"] == "fail":
            try:  # jobs run here: a missing GPU is known before the first job
                resolve_device(config["device"], "fail")
            except DeviceError as err:
                raise WorkflowError(f"config key device: {err}") from None
        try:
            runlock.acquire()
        except runlock.RunLockError as err:
            raise WorkflowError(str(err)) from None


onsuccess:
    from benediff import runlock

    runlock.release()


onerror:
    from benediff import runlock

    runlock.release()


def reported_artifacts():
    """The tables and figures of the stages named in report.stages (the ledger's slice)."""
    return bconfig.rule_config(config, "results_ledger")["expected"]


def ledger_inputs():
    """What the ledger waits for: the reported artifacts, or nothing with report.partial (a
    snapshot of a run in progress, which reports what exists and lists what is missing).
    """
    return [] if config["report"]["partial"] else reported_artifacts()


def rule_stages():
    """Each rule's stage: the name of the rules file it is defined in (the cost table)."""
    return {r.name: Path(str(r.snakefile)).stem for r in workflow.rules}
