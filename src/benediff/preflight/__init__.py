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

One module per job, every check importable from here: ``raw_files`` (headers and sizes),
``trials`` (trial tables, split, regions), ``sessions`` (the paths each session needs),
``behaviour`` (behaviour inputs, NWB pose) and ``settings`` (the config's own settings).
"""

from benediff.preflight.behaviour import (  # noqa: F401
    behaviour_session_problems,
    nwb_pose_path,
    nwb_pose_problems,
    reads_nwb_neural_times,
)
from benediff.preflight.raw_files import (  # noqa: F401
    behaviour_file_problems,
    landmark_file_problems,
    pose_rows,
    recording_frames,
    session_clock,
    video_frames,
    video_header,
)
from benediff.preflight.sessions import (  # noqa: F401
    is_nwb_movie,
    path_problem,
    session_path_problems,
)
from benediff.preflight.settings import (  # noqa: F401
    dataset_problems,
    default_target_problems,
    mapping_problems,
    nwb_problems,
    region_override_problems,
    target_problems,
)
from benediff.preflight.trials import (  # noqa: F401
    atlas_regions,
    behavenet_problems,
    behavenet_regions,
    configured_trials,
    input_problems,
    input_warnings,
    region_problems,
    trial_count,
)


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
