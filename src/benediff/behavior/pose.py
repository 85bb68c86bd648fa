"""Pose stage: find DeepLabCut output, check it against the video, normalise it.

Both modes end here: ``import`` hands over a DLC file produced elsewhere, ``infer`` the file the
DLC CLI (:mod:`benediff.behavior.dlc_infer`) wrote. The result is one fixed-name ``pose.h5``
(exact DLC layout, scorer kept) plus a ``pose.json`` sidecar; paths never depend on the scorer.
"""

import json
import logging
from pathlib import Path

from benediff.behavior import timing
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
                   expected_fps=None, fps_tolerance: float = 0.01, *, frame_rate=None,
                   timestamps=None, session="<session>", **meta) -> dict:
    """Validate the DLC file ``source`` against ``video`` and write ``out_h5`` + ``out_json``.

    Checks: single-animal x/y/likelihood layout, one row per video frame, and (when
    ``expected_fps`` is given) the video frame rate. Nothing is filtered in place: ``pcutoff``
    is recorded for the labels step. Returns the sidecar dict.

    ``video`` may be None (a pose-only session): the camera rate is then ``frame_rate``
    (``sessions.<s>.video_frame_rate``) or the median rate of ``timestamps``
    (``sessions.<s>.video_timestamps``, one time in seconds per pose row). With a video,
    ``frame_rate`` must agree with the container's rate within ``fps_tolerance``.
    """
    df = read_pose(source)
    rate_key = f"sessions.{session}.video_frame_rate"
    stamps_key = f"sessions.{session}.video_timestamps"
    if video:
        info = video_info(video)
        if len(df) != info.n_frames:
            raise PoseError(f"{source}: pose has {len(df)} rows but video {video} has "
                            f"{info.n_frames} frames; use the DLC output of this very video")
        fps = info.fps
        if frame_rate is not None:
            check_frame_rate(fps, frame_rate, fps_tolerance, video, key=rate_key)
    elif frame_rate is not None:
        fps = float(frame_rate)
    elif timestamps:
        fps = None
    else:
        raise PoseError(f"{source}: session {session} has no behaviour video, so the pose frame "
                        f"rate is unknown; set {rate_key} (camera rate in Hz) or {stamps_key} "
                        "(one time in seconds per pose row)")
    time_meta = {"time_base": "frame_rate"}
    if timestamps:
        times = timing.read_timestamps(timestamps, stamps_key)
        timing.check_length(times, len(df), timestamps, f"rows in {source}", key=stamps_key)
        measured = timing.nominal_rate(times)
        if fps is None:
            fps = measured
        elif abs(measured - fps) > fps_tolerance * fps:  # timestamps in ms, another camera
            said = rate_key if frame_rate is not None else f"the container of {video}"
            raise PoseError(f"{timestamps}: the timestamps ({stamps_key}) run at {measured:g} fps "
                            f"(median interval) but {said} says {fps:g} fps, more than "
                            f"behavior.fps_tolerance = {fps_tolerance:g} apart; timestamps must "
                            "be in seconds and belong to this camera")
        time_meta = {"time_base": "timestamps", "timestamps": str(timestamps),
                     "timestamps_rate": measured}
    check_frame_rate(fps, expected_fps, fps_tolerance, video or source)
    sidecar = {
        "scorer": scorer(df),
        "source": str(source),
        "video": str(video) if video else None,
        "n_frames": int(len(df)),
        "fps": float(fps),
        "pcutoff": float(pcutoff),
        "bodyparts": list(dict.fromkeys(df.columns.get_level_values("bodyparts"))),
        **time_meta,
        **meta,
    }
    with atomic_output(out_json) as tmp_json:
        tmp_json.write_text(json.dumps(sidecar, indent=1))
        write_pose(df, out_h5)
    log.info("pose %s: %d frames at %.4g fps (%s), scorer %s", source, len(df), fps,
             time_meta["time_base"], sidecar["scorer"])
    return sidecar


def check_frame_rate(measured: float, expected, tolerance: float, source,
                     key="behavior.video_fps") -> None:
    """Fail if ``measured`` differs from ``expected`` by more than ``tolerance`` (relative)."""
    if expected is None:
        return
    if abs(measured - expected) > tolerance * expected:
        raise PoseError(f"{source}: frame rate {measured:g} fps differs from the configured "
                        f"{key} = {expected:g} by more than "
                        f"behavior.fps_tolerance = {tolerance:g} (relative); fix the config or "
                        "use the right video (timestamps must be in seconds)")
