"""An NWB session's pose and frame times as the behaviour stage's inputs (rules ``nwb_pose`` and
``nwb_neural_times``).

* ``sessions.<s>.pose`` ending in ``.nwb``: the ndx-pose ``PoseEstimation``
  (``sessions.<s>.nwb_pose``) becomes a DLC-layout pose file and its row times a timestamps file;
  the pose rule and the labels read them as a DLC file and ``sessions.<s>.video_timestamps``.
* an NWB widefield movie: the imaging series' frame times (one per frame of one channel) become
  a timestamps file that the labels read as ``sessions.<s>.neural_timestamps`` (when the session
  has video times on the file's clock and no ``neural_timestamps`` of its own).
"""

import logging

from benediff.behavior import timing
from benediff.io.nwb_pose import POSE_TYPE, read_nwb_pose
from benediff.io.pose import write_pose

log = logging.getLogger(__name__)


def import_nwb_pose(nwb, out_h5, out_times, name=None, session="<session>"):
    """Rule ``nwb_pose``: the NWB pose as ``out_h5`` (DLC layout) and its row times (seconds)
    as ``out_times`` (``.npy``)."""
    pose = read_nwb_pose(nwb, name, session)
    times = timing.check_timestamps(pose.times, f"{nwb} ({POSE_TYPE} {pose.name!r})",
                                    f"sessions.{session}.pose")
    timing.write_timestamps(out_times, times)
    write_pose(pose.table, out_h5)
    log.info("pose %s (%s %r): %d rows x %d body parts, times from its %s", nwb, POSE_TYPE,
             pose.name, len(pose.table), len(pose.bodyparts), pose.time_base)
    return pose


def write_neural_times(movie, out, nwb_series=None, channels: int = 2, session="<session>"):
    """Rule ``nwb_neural_times``: the NWB movie's frame times (seconds, one per neural frame)
    as ``out`` (``.npy``)."""
    from benediff.widefield.readers import read_nwb_timing  # the NWB movie's one reader

    times = read_nwb_timing(movie, nwb_series, channels)[0]
    times = timing.check_timestamps(times, f"{movie} (imaging series)",
                                    f"sessions.{session}.widefield")
    timing.write_timestamps(out, times)
    log.info("neural frame times %s: %d frames, %.4g..%.4g s", movie, len(times), times[0],
             times[-1])
    return times
