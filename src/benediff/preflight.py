"""Checks of a run's input tables before any job starts (called by ``rules/common.smk``).

Everything that can be known from the config and small input files is checked at parse time,
so ``snakemake -n`` reports it and no job removes a valid earlier output before failing:
trial tables (columns, whole frames, order, overlaps, within the recording), whether every
session has trials for each of train, val and test under ``split.blocks``, whether every
analysis region exists in the atlas (sessions from files) or in the BehaveNet file, and what the
raw files' headers and sizes tell: the movie's frames (dat size against the dims in its name,
TIFF pages, video header), the landmarks JSON, pose rows against the video's frames and the
timestamps, timestamps increasing, BehaveNet shapes, NaN and region columns, and behaviours
without a label mapping. Reads are cheap: headers, sizes, line counts, never a movie's frames.
"""

from pathlib import Path

import h5py

from benediff.io.split import SplitError, make_split
from benediff.io.trials import Clock, check_trials, read_trials


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


# ---------------------------------------------------------------- raw files, from headers and sizes


def _files_session(session, config) -> dict | None:
    cfg = config["sessions"][session]
    return cfg if cfg["source"] == "files" else None


def _existing(cfg, key):
    value = cfg.get(key)
    return value if value and Path(value).exists() else None


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


def recording_frames(session: str, config: dict) -> tuple[int | None, list[str]]:
    """Frames per channel of a session's raw widefield movie from its header or size (dat, TIFF,
    video), and the problems found reading it; (None, []) when not knowable cheaply."""
    from benediff.widefield.readers import ReaderError, check_channels, guess_format, open_movie

    cfg = _files_session(session, config)
    path = _existing(cfg, "widefield") if cfg else None
    if not path:
        return None, []
    fmt = cfg.get("widefield_format", "auto")
    fmt = config["widefield"]["format"] if fmt == "auto" else fmt
    key = f"sessions.{session}.widefield"
    try:
        fmt = guess_format(path) if fmt == "auto" else fmt
        if fmt == "nwb":  # the header only: pynwb reads lazily
            from benediff.widefield.readers import read_nwb

            reader = read_nwb(path, cfg.get("nwb_series"))
            try:
                return check_channels(reader, config["widefield"]["channels"]), []
            finally:
                reader._io.close()
        if fmt not in ("dat", "tiff", "video"):
            return None, []
        return check_channels(open_movie(path, fmt), config["widefield"]["channels"]), []
    except ReaderError as err:
        if "nwb_series" in str(err):
            key = f"sessions.{session}.nwb_series"
        return None, [f"{err} (config key {key})"]


def landmark_file_problems(session: str, config: dict) -> list[str]:
    """A session's own landmarks file: JSON, keys and the four wfield landmarks."""
    from benediff.io.atlas import landmark_problems

    cfg = _files_session(session, config)
    path = _existing(cfg, "landmarks") if cfg and cfg.get("widefield") else None
    if not path:
        return []
    return [f"{p} (config key sessions.{session}.landmarks)" for p in landmark_problems(path)]


def pose_rows(path) -> int | None:
    """Rows of a DLC .csv (lines after its 3 header rows) or .h5 table, without parsing it."""
    path = Path(path)
    try:
        if path.suffix == ".csv":
            with open(path, "rb") as fh:
                return sum(1 for line in fh if line.strip()) - 3
        if path.suffix == ".h5":
            import pandas as pd

            with pd.HDFStore(path, "r") as store:
                keys = store.keys()
                storer = store.get_storer(keys[0]) if keys else None
                return None if storer is None else int(storer.nrows)
    except Exception:  # unreadable: the pose job reports it with its own message
        return None
    return None


def video_frames(path, exact=False) -> int | None:
    """Frames of a behaviour video: the container header's count (0 = unknown -> None), or the
    demuxed packets when ``exact`` (as the pose job counts them)."""
    if exact:
        from benediff.behavior.video import VideoError, video_info

        try:
            return video_info(path).n_frames
        except (VideoError, OSError, ValueError):
            return None
    return video_header(path)[0]


def video_header(path) -> tuple[int | None, float | None]:
    """(frames, fps) from a video container's header; None where it does not say."""
    try:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            return int(stream.frames or 0) or None, (float(rate) if rate else None)
    except Exception:  # unreadable: the pose/clips jobs name it
        return None, None


def _rate_problem(said_key, said, other_key, other, tolerance) -> str | None:
    if said is None or other is None or abs(said - other) <= tolerance * other:
        return None
    return (f"{said_key} = {said:g} fps but {other_key} = {other:g} fps, more than "
            f"behavior.fps_tolerance = {tolerance:g} (relative) apart: one camera, one rate; "
            "fix the config, or use the right video (timestamps must be in seconds)")


def behaviour_file_problems(session: str, config: dict, trials_path=None) -> list[str]:
    """Pose rows against the video's frames and the timestamps, timestamps increasing, and the
    neural timestamps covering the last trial."""
    from benediff.behavior import timing

    cfg = _files_session(session, config)
    if not cfg:
        return []
    problems = []
    pose = _existing(cfg, "pose") if config["behavior"]["pose"]["mode"] == "import" else None
    rows = pose_rows(pose) if pose else None
    video = _existing(cfg, "behavior_video")
    tolerance = config["behavior"]["fps_tolerance"]
    fps = video_header(video)[1] if video else None
    container = f"the container of {video}"
    for key, value in ((f"sessions.{session}.video_frame_rate", cfg.get("video_frame_rate")),
                       ("behavior.video_fps", config["behavior"]["video_fps"])):
        found = _rate_problem(f"config key {key}", value, container, fps, tolerance)
        if found:
            problems.append(found)
    if rows is not None and video:
        frames = video_frames(video)
        if frames is not None and frames != rows:
            frames = video_frames(video, exact=True)  # the header may be off: count packets
        if frames is not None and frames != rows:
            problems.append(
                f"{pose}: pose has {rows} rows but video {video} has {frames} frames (config keys "
                f"sessions.{session}.pose and sessions.{session}.behavior_video); use the DLC "
                "output of this very video")
    stamps = _existing(cfg, "video_timestamps")
    if stamps:
        key = f"sessions.{session}.video_timestamps"
        try:
            times = timing.read_timestamps(stamps, key)
            if rows is not None:
                timing.check_length(times, rows, stamps, f"rows in {pose}", key=key)
        except timing.TimingError as err:
            problems.append(str(err))
        else:
            said = (fps, container) if fps else (cfg.get("video_frame_rate"),
                                                 f"config key sessions.{session}.video_frame_rate")
            found = _rate_problem(f"{stamps}: the timestamps (config key {key}, median interval)",
                                  timing.nominal_rate(times), said[1], said[0], tolerance)
            if found:
                problems.append(found)
    neural = _existing(cfg, "neural_timestamps")
    if neural:
        key = f"sessions.{session}.neural_timestamps"
        try:
            times = timing.read_timestamps(neural, key)
        except timing.TimingError as err:
            problems.append(str(err))
        else:
            table = _trials_or_none(trials_path, session_clock(session, config))
            if table is not None and len(table):
                stop = int(table["start_frame"].iloc[-1] + table["n_frames"].iloc[-1])
                if stop > len(times):
                    problems.append(
                        f"{neural} (config key {key}): {len(times)} neural frame times but trial "
                        f"{str(table['trial_id'].iloc[-1])!r} of {trials_path} ends at neural "
                        f"frame {stop - 1}; give one time per neural frame of the session")
    return problems


def session_clock(session: str, config: dict) -> Clock:
    """The neural clock a trial table in seconds is read on: the session's neural timestamps
    when given and readable (their problems are reported by behaviour_file_problems), else
    frame k at k / widefield.frame_rate."""
    from benediff.behavior import timing

    rate = config["widefield"]["frame_rate"]
    cfg = config["sessions"][session]
    neural = _existing(cfg, "neural_timestamps") if cfg.get("source") == "files" else None
    if neural:
        try:
            times = timing.read_timestamps(neural, f"sessions.{session}.neural_timestamps")
        except timing.TimingError:
            times = None
        if times is not None:
            return Clock(rate, times, f"sessions.{session}.neural_timestamps")
    return Clock(rate, None, "widefield.frame_rate")


def _trials_or_none(path, clock: Clock | None = None):
    if path is None or not Path(path).is_file():
        return None
    try:
        return read_trials(path, clock=clock)
    except ValueError:
        return None


# --- every parse-time check at once (rules/common.smk and `benediff validate`) -------------


def path_problem(config: dict, session: str, key: str) -> str | None:
    """Why sessions.<session>.<key> is unusable (unset or missing on disk), or None."""
    cfg = config["sessions"][session]
    value = cfg.get(key)
    if value is None:
        hint = ""
        if key == "landmarks":
            hint = (f" (make one with `benediff landmarks <movie> --atlas <atlas> -o "
                    f"landmarks.json`, or start from the rule target "
                    f"results/{session}/widefield/landmarks_guess.json)")
        return (f"config key sessions.{session}.{key} is required for a session with source "
                f"{cfg['source']!r}; set it to the path of the {key.replace('_', ' ')} "
                f"file{hint}")
    if not Path(value).exists():
        return (f"config key sessions.{session}.{key} points at {value}, which does not exist; "
                "fix the path in your config")
    return None


def is_nwb_movie(session: str, config: dict) -> bool:
    """A ``source: files`` session whose widefield movie is an NWB file."""
    from benediff.widefield.readers import ReaderError, guess_format

    cfg = config["sessions"][session]
    if cfg.get("source") != "files" or not cfg.get("widefield"):
        return False
    fmt = cfg.get("widefield_format", "auto")
    fmt = config["widefield"]["format"] if fmt == "auto" else fmt
    try:
        return (guess_format(cfg["widefield"]) if fmt == "auto" else fmt) == "nwb"
    except ReaderError:
        return False


def session_path_problems(config: dict) -> list[str]:
    """The raw files each session needs: a BehaveNet file, or movie and trials (trials may come
    from an NWB movie), or the trials of a pose-only session."""
    from benediff.behavior.sessions import is_pose_only

    keys = {}
    for session, cfg in config["sessions"].items():
        if cfg["source"] == "behavenet":
            keys[session] = ["behavenet"]
        elif is_pose_only(cfg):
            keys[session] = ["trials"]  # the behaviour checks cover the rest
        elif cfg["source"] != "simulate":
            nwb_trials = is_nwb_movie(session, config) and not cfg.get("trials")
            keys[session] = ["widefield"] + ([] if nwb_trials else ["trials"])
    return [p for s, ks in keys.items() for k in ks if (p := path_problem(config, s, k))]


def behaviour_session_problems(config: dict) -> list[str]:
    """Label mapping forms, sessions without a behaviour video (pose file, frame rate or
    timestamps), timestamp files, and body parts named by the mapping against the header of
    each configured pose file."""
    from benediff.behavior.labels import LabelError, check_bodyparts, parse_entry
    from benediff.behavior.sessions import is_movie_only
    from benediff.io.pose import PoseError, read_bodyparts

    problems = []
    mapping = config["behavior"]["labels"]["mapping"]
    try:
        sources = {name: parse_entry(name, entry) for name, entry in mapping.items()}
    except LabelError as err:
        return [str(err)]
    used = {b: sources[b] for b in config["behaviors"] if b in sources}
    pose_mode = config["behavior"]["pose"]["mode"]
    for session, cfg in config["sessions"].items():
        if cfg["source"] == "behavenet":
            continue
        if is_movie_only(cfg):  # widefield stage only: no pose, no behaviour clock
            problems += [p for p in [path_problem(config, session, "neural_timestamps")]
                         if cfg.get("neural_timestamps") and p]
            continue
        nwb_pose = nwb_pose_path(session, config)
        if cfg.get("neural_timestamps") and not (cfg.get("video_timestamps") or nwb_pose):
            problems.append(
                f"config key sessions.{session}.neural_timestamps needs "
                f"sessions.{session}.video_timestamps (both on the same clock); add the video "
                "timestamps or remove the neural ones")
        for key in ("video_timestamps", "neural_timestamps"):
            if cfg.get(key):
                problems += [p for p in [path_problem(config, session, key)] if p]
        has_video = cfg["source"] == "simulate" or bool(cfg.get("behavior_video"))
        if not has_video:
            if pose_mode == "infer":
                problems.append(
                    f"config key behavior.pose.mode is 'infer' but session {session!r} has no "
                    f"sessions.{session}.behavior_video to run DeepLabCut on; set the video, "
                    f"or use mode 'import' with sessions.{session}.pose")
            elif not cfg.get("pose"):
                problems.append(
                    f"config key sessions.{session}.pose is required for a session without "
                    f"sessions.{session}.behavior_video; set it to the DeepLabCut .h5/.csv "
                    "(or an NWB file with an ndx-pose PoseEstimation)")
            else:
                problems += [p for p in [path_problem(config, session, "pose")] if p]
            if (cfg.get("video_frame_rate") is None and not cfg.get("video_timestamps")
                    and not nwb_pose):  # an NWB pose has its rows' times
                problems.append(
                    f"config key sessions.{session}.video_frame_rate is required for a session "
                    f"without sessions.{session}.behavior_video: set it to the behaviour "
                    f"camera rate in Hz (e.g. video_frame_rate: 60), or set "
                    f"sessions.{session}.video_timestamps to a .npy/.csv of one time in "
                    "seconds per pose row")
        pose_file = cfg.get("pose")
        problems += nwb_pose_problems(session, config, used)  # an NWB pose: its own checks
        if pose_mode == "import" and not nwb_pose and pose_file and Path(pose_file).exists():
            try:
                check_bodyparts(used, read_bodyparts(pose_file), pose_file)
            except (PoseError, LabelError) as err:
                problems.append(str(err))
    return problems


def nwb_pose_path(session: str, config: dict) -> str | None:
    """The NWB file a ``source: files`` session takes its pose from (``sessions.<s>.pose``
    ending in ``.nwb``, pose mode import; rule ``nwb_pose``), or None."""
    from benediff.io.nwb_pose import is_nwb_pose

    cfg = config["sessions"][session]
    pose = cfg.get("pose")
    if (cfg.get("source") == "files" and config["behavior"]["pose"]["mode"] == "import"
            and is_nwb_pose(pose)):
        return pose
    return None


def reads_nwb_neural_times(session: str, config: dict) -> bool:
    """Whether the session's labels (and clips) take the NWB movie's frame times as their neural
    clock (rule ``nwb_neural_times``), as they take ``neural_timestamps``: an NWB movie, video
    times on a clock (``video_timestamps`` or an NWB pose), and no ``neural_timestamps``."""
    from benediff.behavior.sessions import is_movie_only

    cfg = config["sessions"][session]
    return (is_nwb_movie(session, config) and not is_movie_only(cfg)
            and not cfg.get("neural_timestamps")
            and bool(cfg.get("video_timestamps") or nwb_pose_path(session, config)))


def nwb_pose_problems(session: str, config: dict, used: dict) -> list[str]:
    """An NWB pose read as its job will read it, header only: the ``PoseEstimation`` (named by
    ``sessions.<s>.nwb_pose`` or the only one), the body parts the mapping ``used`` names, its
    rows' times (increasing; as many as the video's frames), and no second clock."""
    from benediff.behavior import timing
    from benediff.behavior.labels import LabelError, check_bodyparts
    from benediff.io.nwb_pose import nwb_pose_header
    from benediff.io.pose import PoseError

    cfg = config["sessions"][session]
    path = nwb_pose_path(session, config)
    if path is None:
        if cfg.get("nwb_pose") and cfg.get("source") == "files":
            return [f"config key sessions.{session}.nwb_pose names a PoseEstimation but "
                    f"sessions.{session}.pose = {cfg.get('pose')!r} is not an NWB file (.nwb) read "
                    "in behavior.pose.mode import; point pose at the NWB file or remove nwb_pose"]
        return []
    if not Path(path).exists():
        return []  # the path checks name it
    if cfg.get("video_timestamps"):
        return [f"config key sessions.{session}.video_timestamps is set but the pose comes from "
                f"the NWB file {path}, whose series carry the rows' times; remove "
                f"sessions.{session}.video_timestamps (one clock per camera)"]
    try:
        header = nwb_pose_header(path, cfg.get("nwb_pose"), session)
        check_bodyparts(used, header.bodyparts, f"{path} ({header.name!r})")
        timing.check_timestamps(header.times, f"{path} ({header.name!r})",
                                f"sessions.{session}.pose")
    except (PoseError, LabelError, timing.TimingError) as err:
        return [str(err)]
    video = _existing(cfg, "behavior_video")
    if video:
        frames = video_frames(video)
        if frames is not None and frames != len(header.times):
            frames = video_frames(video, exact=True)
        if frames is not None and frames != len(header.times):
            return [f"{path} ({header.name!r}): the pose has {len(header.times)} rows but video "
                    f"{video} has {frames} frames (config keys sessions.{session}.pose and "
                    f"sessions.{session}.behavior_video); use the pose of this very video"]
    return []


def configured_trials(config: dict) -> dict:
    """Session -> its configured trial table, for files sessions whose table exists."""
    return {s: cfg["trials"] for s, cfg in config["sessions"].items()
            if cfg["source"] == "files" and cfg.get("trials") and Path(cfg["trials"]).exists()}


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


def config_problems(config: dict) -> tuple[list[str], list[str]]:
    """Every check made before any job on a validated config: (problems, warnings).

    The same checks ``snakemake -n`` makes while it reads the workflow and builds the default
    target's jobs; ``benediff validate`` runs them without Snakemake."""
    tables = configured_trials(config)
    problems = session_path_problems(config)
    problems += input_problems(config, tables)
    problems += region_problems(config)
    problems += region_override_problems(config)
    problems += behaviour_session_problems(config)
    problems += dataset_problems(config)
    problems += target_problems(config)
    problems += default_target_problems(config)
    return list(dict.fromkeys(problems)), input_warnings(config, tables)
