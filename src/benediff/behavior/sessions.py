"""Which sessions run which part of the behaviour stage (plain functions of the config).

Used by ``workflow/rules/common.smk`` (``is_pose_only``) and usable by any target module that
must leave pose-only sessions out of what needs a dataset (LVM pools, tables, video, Figure 1B).
"""


def is_pose_only(session_config: dict) -> bool:
    """A ``source: files`` session with pose + trials but neither a widefield movie nor a
    behaviour video: its behaviour stage ends at ``labels.h5`` (no clips, no dataset)."""
    return (session_config.get("source") == "files"
            and not session_config.get("widefield")
            and not session_config.get("behavior_video"))


def pose_only_sessions(config: dict) -> list[str]:
    """Names of the pose-only sessions of ``config``, in config order."""
    return [name for name, cfg in config["sessions"].items() if is_pose_only(cfg)]


def dataset_sessions(config: dict) -> list[str]:
    """Sessions that get a ``results/<s>/dataset.h5`` (every session that is not pose-only)."""
    return [name for name, cfg in config["sessions"].items() if not is_pose_only(cfg)]


def analysis_sessions(config: dict) -> list[str]:
    """Sessions the LVM and video targets default to: those with a dataset. A config of
    pose-only sessions has none; its LVM and video rules exist but nothing requests them, and
    they fall back to every session so that their targets can still be written down."""
    return dataset_sessions(config) or list(config["sessions"])
