"""A lab's own ``source: files`` session in miniature: every raw file tiny but consistent, so
the checks made before any job (:mod:`benediff.preflight`: movie size against the dims in its
name, landmarks JSON, pose rows against video frames, trials within the recording) pass, and a
test can break exactly one thing.
"""

import json
from pathlib import Path

import numpy as np

PARTS = ["lever_tip", "spout_tip", "paw_side", "jaw", "chest"]  # the demo mapping's body parts
VIDEO_FRAMES = 8  # behaviour video frames = pose rows
MOVIE = "movie_2_8_8_uint16.dat"  # 2 channels of 8 x 8 uint16
MOVIE_FRAMES = 4000  # per channel
MOVIE_BYTES = 2 * MOVIE_FRAMES * 8 * 8 * 2
LANDMARK_NAMES = ["OB_left", "OB_center", "OB_right", "RSP_base"]
GOOD_TRIALS = ("trial_id,start_frame,n_frames\n"
               + "".join(f"{t},{t * 200},189\n" for t in range(20)))  # within MOVIE_FRAMES

_VIDEO: dict[int, bytes] = {}


def dlc_csv(parts=PARTS, rows=VIDEO_FRAMES) -> str:
    """A DeepLabCut CSV: 3 header rows and ``rows`` confident rows."""
    return ("scorer" + ",DLC" * 3 * len(parts) + "\nbodyparts"
            + "".join(f",{p}" * 3 for p in parts)
            + "\ncoords" + ",x,y,likelihood" * len(parts) + "\n"
            + "".join(f"{i}" + ",1.0" * 3 * len(parts) + "\n" for i in range(rows)))


def landmarks_text(names=LANDMARK_NAMES) -> str:
    table = {"name": list(names), "x": [10.0 + 5 * i for i in range(len(names))],
             "y": [10.0 + 3 * i * i for i in range(len(names))]}
    return json.dumps({"landmarks_im": table, "landmarks_match": table})


def behaviour_video(path, n_frames=VIDEO_FRAMES) -> None:
    """A real 16 x 16 mp4 of ``n_frames`` frames at 30 fps (encoded once per process)."""
    if n_frames not in _VIDEO:
        import tempfile

        from benediff.io.video import write_gray_mp4

        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "video.mp4"
            write_gray_mp4(cache, (np.full((16, 16), 16 * i, np.uint8) for i in range(n_frames)),
                           30.0, width=16, height=16)
            _VIDEO[n_frames] = cache.read_bytes()
    Path(path).write_bytes(_VIDEO[n_frames])


def write_lab_files(data) -> dict:
    """Write the raw files into ``data``; return the session's keys (widefield, landmarks,
    behavior_video, pose, trials) -> path."""
    data = Path(data)
    data.mkdir(parents=True, exist_ok=True)
    with open(data / MOVIE, "wb") as fh:
        fh.truncate(MOVIE_BYTES)
    (data / "landmarks.json").write_text(landmarks_text())
    behaviour_video(data / "behavior.mp4")
    (data / "pose.csv").write_text(dlc_csv())
    (data / "trials.csv").write_text(GOOD_TRIALS)
    return {"widefield": str(data / MOVIE), "landmarks": str(data / "landmarks.json"),
            "behavior_video": str(data / "behavior.mp4"), "pose": str(data / "pose.csv"),
            "trials": str(data / "trials.csv")}


def write_atlas(path, shape=(64, 80)) -> Path:
    """The simulator's procedural dorsal-cortex atlas (Allen area names and codes, both
    hemispheres) as an ``atlas.npz`` at ``path``: a ``widefield.atlas.path`` for the checks made
    before any job, with no published atlas on disk."""
    from benediff.io.atlas import save_npz
    from benediff.simulate.atlas import procedural_atlas

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_npz(path, procedural_atlas(shape))
    return path
