"""Simulation parameters: size presets, per-key overrides and the paths of a session's outputs."""

import dataclasses
import json
import zlib
from pathlib import Path
from dataclasses import dataclass, field

GROUPS = ("VIS", "SSp", "MOs", "MOp", "RSP")
BEHAVIORS = ("Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Chest")
FORMATS = ("dat", "tiff")


class SimulationError(ValueError):
    """Bad simulator configuration or input; the message names the key or file and the fix."""


@dataclass(frozen=True)
class SimParams:
    """Every number the simulator uses. Defaults: the demo preset, except a smaller movie (64 x 64)
    and 2 footprints per group, for quick tests; a config always starts from a preset
    (``simulate.preset``), which sets those (tests/test_defaults.py checks the rest)."""

    seed: int = 0
    n_trials: int = 40
    frames_per_trial: int = 189
    frame_rate: float = 30.0
    gap_frames: tuple[int, int] = (3, 8)
    movie_height: int = 64
    movie_width: int = 64
    footprints: dict = field(default_factory=lambda: {g: 2 for g in GROUPS})
    n_latents: int = 4
    tau_calcium: float = 0.4
    dff_amplitude: float = 0.03
    behavior_fraction: float = 0.6
    baseline_counts: float = 3000.0
    hemo_amplitude: float = 0.02
    heartbeat_hz: float = 10.0
    jitter_px: float = 0.3
    frame_jitter_px: float = 0.1
    lick_shift_px: float = 0.15
    reach_shift_px: float = 0.1
    psf_sigma_px: float = 0.6
    noise: bool = True
    behavior_coupling: str = "task"
    view_size: int = 64
    video_fps: float = 30.0
    video_noise: float = 3.0
    pose_jitter_px: float = 0.5
    lowlik_fraction: float = 0.02
    max_rotation_deg: float = 3.0
    max_scale: float = 0.05
    max_shift_px: float = 3.0
    atlas: str | None = None
    movie_formats: tuple[str, ...] = FORMATS

    @property
    def movie_shape(self) -> tuple[int, int]:
        return (self.movie_height, self.movie_width)

    def to_dict(self) -> dict:
        """JSON-compatible dict (tuples become lists); ``from_dict`` inverts it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> "SimParams":
        d = dict(d)
        for key in ("gap_frames", "movie_formats"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


PRESETS = {
    # enough components per analysis region for D = 6 latents (the paper's regions have 14-24)
    "demo": {
        "movie_height": 80,
        "movie_width": 96,
        "footprints": {"VIS": 8, "SSp": 8, "MOs": 7, "MOp": 2, "RSP": 2},
    },
    "paper": {
        "n_trials": 549,
        "movie_height": 270,
        "movie_width": 320,
        # region dims close to the paper's LocaNMF counts (VIS 24/21, SSp 23/22, MOs 14/14)
        "footprints": {"VIS": 22, "SSp": 22, "MOs": 14, "MOp": 7, "RSP": 13},
        "n_latents": 8,
        "view_size": 128,
        "max_shift_px": 10.0,
    },
}


def session_seed(session: str, config: dict) -> int:
    """The session's own seed, else the master seed mixed with the session name."""
    sess = config["sessions"][session]
    if sess.get("seed") is not None:
        return int(sess["seed"])
    return (int(config.get("seed", 0)) * 1_000_003 + zlib.crc32(session.encode())) % 2**31


def params_from_config(session: str, config: dict) -> SimParams:
    """Resolve a session's parameters: preset, then non-null ``simulate.overrides``."""
    sessions = config.get("sessions", {})
    if session not in sessions:
        raise SimulationError(f"config key sessions.{session} is missing; add the session "
                              f"or use one of {sorted(sessions)}")
    if sessions[session].get("source", "simulate") != "simulate":
        raise SimulationError(f"config key sessions.{session}.source is "
                              f"{sessions[session]['source']!r}; only 'simulate' sessions are simulated")
    return _resolve(config, seed=session_seed(session, config))


def _resolve(config: dict, seed: int = 0) -> SimParams:
    sim = config.get("simulate", {}) or {}
    preset = sim.get("preset", "demo")
    if preset not in PRESETS:
        raise SimulationError(f"config key simulate.preset = {preset!r} is not allowed; "
                              f"allowed values: {sorted(PRESETS)}")
    values = dict(PRESETS[preset])
    for key, value in (sim.get("overrides") or {}).items():
        if value is None:
            continue
        if key == "footprints":
            value = {**values.get("footprints", SimParams().footprints), **value}
        values[key] = value
    values.update(
        seed=seed,
        atlas=sim.get("atlas"),
        movie_formats=tuple(sim.get("movie_formats", FORMATS)),
        noise=bool(sim.get("noise", True)),
        behavior_coupling=sim.get("behavior_coupling", "task"),
    )
    try:
        return SimParams.from_dict(values)
    except TypeError as exc:
        raise SimulationError(f"config section simulate.overrides: {exc}; allowed keys: "
                              f"{sorted(f.name for f in dataclasses.fields(SimParams))}") from exc


def movie_shape(config: dict) -> tuple[int, int]:
    """(H, W) of the simulated movie (same for every session); names the .dat file."""
    return _resolve(config).movie_shape


def session_files(movie_shape, movie_formats) -> dict[str, str]:
    """File name of each raw input of a simulated session, keyed by role (the one list)."""
    h, w = movie_shape
    names = {"dat": f"widefield_2_{h}_{w}_uint16.dat", "tiff": "widefield.tif",
             "video": "behavior.mp4", "pose": "behaviorDLC_simulated.h5",
             "landmarks": "landmarks.json", "atlas": "atlas.npz", "trials": "trials.csv",
             "truth": "truth.h5"}
    return {k: v for k, v in names.items() if k not in FORMATS or k in movie_formats}


def raw_paths(session: str, config: dict, root: str = "resources/sessions") -> dict[str, str]:
    """Output paths of one simulated session, keyed by role; movie formats per ``simulate.movie_formats``."""
    formats = (config.get("simulate") or {}).get("movie_formats", FORMATS)
    return {k: f"{root}/{session}/{v}"
            for k, v in session_files(movie_shape(config), formats).items()}


def atlas_input(config: dict) -> list[str]:
    """The rule's atlas input: [] for the procedural atlas, else the checked ``simulate.atlas``."""
    path = (config.get("simulate") or {}).get("atlas")
    if path is None:
        return []
    if not Path(path).exists():
        raise SimulationError(f"config key simulate.atlas points at {path}, which does not exist; "
                              "fix the path or set simulate.atlas: null for the procedural atlas")
    return [str(path)]
