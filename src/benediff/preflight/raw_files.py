"""Parse-time checks of a session's raw files from their headers and sizes: the widefield movie's
frames (dat size against the dims in its name, TIFF pages, video or NWB header), the landmarks
JSON, pose rows against the behaviour video's frames and the timestamps, the timestamps'
rates, and the neural clock a trial table in seconds is read on. Never a movie's frames.
"""

from pathlib import Path

from benediff.io.trials import Clock, read_trials


def _files_session(session, config) -> dict | None:
    cfg = config["sessions"][session]
    return cfg if cfg["source"] == "files" else None


def _existing(cfg, key):
    value = cfg.get(key)
    return value if value and Path(value).exists() else None


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
