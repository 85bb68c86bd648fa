"""Which sessions run which stages (plain functions of the config): the session shapes.

A lab's sessions come in four shapes (``config/README.md``, "Session shapes"):

- **full**: widefield movie + behaviour video (+ pose or DLC inference) + trials, or simulated
  or BehaveNet: every stage, the video stage included;
- **no behaviour video** (:func:`is_without_video`): movie + pose + trials: the dataset holds
  neural + labels without images (no clips), every LVM table and figure; no video stage;
- **movie-only** (:func:`is_movie_only`): movie + trials: the widefield stage only
  (``neural.h5``, ``qc.pdf``);
- **pose-only** (:func:`is_pose_only`): pose + trials: the behaviour stage only (``labels.h5``).

``workflow/rules/common.smk``, ``benediff.lvm.targets``, ``benediff.video.targets`` and the
checks made before any job (``benediff.preflight``) ask here, and nowhere else.
"""


def is_pose_only(session_config: dict) -> bool:
    """A ``source: files`` session with pose + trials but neither a widefield movie nor a
    behaviour video: its behaviour stage ends at ``labels.h5`` (no clips, no dataset)."""
    return (session_config.get("source") == "files"
            and not session_config.get("widefield")
            and not session_config.get("behavior_video"))


def is_movie_only(session_config: dict) -> bool:
    """A ``source: files`` session with a widefield movie but neither pose nor a behaviour
    video: it runs the widefield stage only (``neural.h5`` and ``qc.pdf``; no labels, no
    dataset, no LVM fits)."""
    return (session_config.get("source") == "files"
            and bool(session_config.get("widefield"))
            and not session_config.get("pose")
            and not session_config.get("behavior_video"))


def has_behavior_video(session_config: dict) -> bool:
    """Whether the session's dataset gets behaviour images: simulated sessions, BehaveNet files
    (their own images group) and ``source: files`` sessions with ``behavior_video``."""
    if session_config.get("source") in ("simulate", "behavenet"):
        return True
    return bool(session_config.get("behavior_video"))


def is_without_video(session_config: dict) -> bool:
    """A ``source: files`` session with a widefield movie and pose but no behaviour video: its
    dataset holds neural + labels, no images; it runs to every LVM table, not the video stage."""
    return (session_config.get("source") == "files" and bool(session_config.get("widefield"))
            and bool(session_config.get("pose")) and not has_behavior_video(session_config))


def pose_only_sessions(config: dict) -> list[str]:
    """Names of the pose-only sessions of ``config``, in config order."""
    return [name for name, cfg in config["sessions"].items() if is_pose_only(cfg)]


def movie_only_sessions(config: dict) -> list[str]:
    """Names of the movie-only sessions of ``config``, in config order."""
    return [name for name, cfg in config["sessions"].items() if is_movie_only(cfg)]


def widefield_sessions(config: dict) -> list[str]:
    """Sessions whose widefield stage runs (``neural.h5``, ``qc.pdf``): simulated ones and those
    from files with a widefield movie."""
    return [name for name, cfg in config["sessions"].items()
            if cfg.get("source") == "simulate"
            or (cfg.get("source") == "files" and cfg.get("widefield"))]


def dataset_sessions(config: dict) -> list[str]:
    """Sessions that get a ``results/<s>/dataset.h5``: every session that is neither pose-only
    nor movie-only."""
    return [name for name, cfg in config["sessions"].items()
            if not (is_pose_only(cfg) or is_movie_only(cfg))]


def video_sessions(config: dict) -> list[str]:
    """Sessions the video stage can run on: a dataset with behaviour images."""
    return [name for name in dataset_sessions(config)
            if has_behavior_video(config["sessions"][name])]


def analysis_sessions(config: dict) -> list[str]:
    """Sessions the LVM targets default to: those with a dataset. A config of pose-only or
    movie-only sessions has none; its LVM and video rules exist but nothing requests them, and
    they fall back to every session so that their targets can still be written down."""
    return dataset_sessions(config) or list(config["sessions"])


def dataset_sources(config: dict, session: str) -> dict:
    """Where each group of the session's dataset comes from (config key ``dataset``): without
    ``images`` for a session without a behaviour video (its dataset holds neural + labels)."""
    sources = {group: config["dataset"][group] for group in ("neural", "labels", "images")}
    if not has_behavior_video(config["sessions"][session]):
        sources.pop("images", None)
    return sources


def no_video_message(config: dict, session: str | None = None) -> str | None:
    """Why the video stage cannot run (on ``session``, default: on any session), or None."""
    sessions = video_sessions(config)
    if session is None and sessions:
        return None
    if session is not None and session in sessions:
        return None
    who = (f"session {session!r} has no behaviour video (sessions.{session}.behavior_video)"
           if session is not None else "no session has a behaviour video")
    fix = (f"use one of {sessions} (config key video.session)" if sessions else
           "set sessions.<s>.behavior_video of a session with a movie and pose, or ask only for "
           "the widefield, behaviour and LVM outputs (the default target leaves the video stage "
           "out)")
    return (f"{who}: the video stage (diffusion on behaviour clips) needs a session whose "
            f"dataset has behaviour images; {fix}")
