"""Parse-time checks of the paths each session needs (a BehaveNet file, or movie and trials)."""

from pathlib import Path


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
