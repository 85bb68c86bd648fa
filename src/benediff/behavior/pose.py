"""Pose stage: find DeepLabCut output, check it against the video, normalise it.

Both modes end here: ``import`` hands over a DLC file produced elsewhere, ``infer`` the file the
DLC CLI (:mod:`benediff.behavior.dlc_infer`) wrote. The result is one fixed-name ``pose.h5``
(exact DLC layout, scorer kept) plus a ``pose.json`` sidecar; paths never depend on the scorer.
"""

import json
import logging
from pathlib import Path

from benediff.behavior.video import video_info
from benediff.io.atomic import atomic_output
from benediff.io.pose import PoseError, read_pose, scorer, write_pose

log = logging.getLogger(__name__)


def find_pose_file(dlc_dir, video_stem: str) -> Path:
    """The single ``<video_stem>DLC_*.h5`` in ``dlc_dir``, preferring ``_filtered`` files."""
    dlc_dir = Path(dlc_dir)
    if not dlc_dir.is_dir():
        raise PoseError(f"config key behavior.pose.dlc_dir = {str(dlc_dir)!r} is not a directory; "
                        "point it at the folder holding the DeepLabCut .h5 outputs")
    matches = sorted(p for p in dlc_dir.glob(f"{video_stem}DLC_*.h5")
                     if not p.stem.endswith(("_el", "_tr")))
    filtered = [p for p in matches if p.stem.endswith("_filtered")]
    chosen = filtered or matches
    if len(chosen) != 1:
        names = [p.name for p in chosen] or "none"
        raise PoseError(f"{dlc_dir}: expected exactly one {video_stem}DLC_*.h5 (preferring "
                        f"_filtered), found {names}; remove the extra files or set "
                        "sessions.<session>.pose to the file to use")
    return chosen[0]


def normalise_pose(source, video, out_h5, out_json, pcutoff: float = 0.6,
                   expected_fps=None, fps_tolerance: float = 0.01, **meta) -> dict:
    """Validate the DLC file ``source`` against ``video`` and write ``out_h5`` + ``out_json``.

    Checks: single-animal x/y/likelihood layout, one row per video frame, and (when
    ``expected_fps`` is given) the video frame rate. Nothing is filtered in place: ``pcutoff``
    is recorded for the labels step. Returns the sidecar dict.
    """
    df = read_pose(source)
    info = video_info(video)
    if len(df) != info.n_frames:
        raise PoseError(f"{source}: pose has {len(df)} rows but video {video} has "
                        f"{info.n_frames} frames; use the DLC output of this very video")
    check_frame_rate(info.fps, expected_fps, fps_tolerance, video)
    sidecar = {
        "scorer": scorer(df),
        "source": str(source),
        "video": str(video),
        "n_frames": int(len(df)),
        "fps": info.fps,
        "pcutoff": float(pcutoff),
        "bodyparts": list(dict.fromkeys(df.columns.get_level_values("bodyparts"))),
        **meta,
    }
    with atomic_output(out_json) as tmp_json:
        tmp_json.write_text(json.dumps(sidecar, indent=1))
        write_pose(df, out_h5)
    log.info("pose %s: %d frames, scorer %s", source, len(df), sidecar["scorer"])
    return sidecar


def check_frame_rate(measured: float, expected, tolerance: float, source) -> None:
    """Fail if ``measured`` differs from ``expected`` by more than ``tolerance`` (relative)."""
    if expected is None:
        return
    if abs(measured - expected) > tolerance * expected:
        raise PoseError(f"{source}: frame rate {measured:g} fps differs from the configured "
                        f"behavior.video_fps = {expected:g} by more than "
                        f"behavior.fps_tolerance = {tolerance:g} (relative); fix the config or "
                        "use the right video")
