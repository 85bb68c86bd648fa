"""Parse-time checks of each session's behaviour inputs: label mapping forms, pose file or
behaviour video, frame rate or timestamps, body parts against the pose file's header, and the
NWB pose (its ``PoseEstimation``, rows' times and the video's frames).
"""

from pathlib import Path

from benediff.preflight.raw_files import _existing, video_frames
from benediff.preflight.sessions import is_nwb_movie, path_problem


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
