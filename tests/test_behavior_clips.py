"""Behaviour clips from the real mouse video: decoding, crop/resize, alignment, errors."""


import numpy as np
import pandas as pd
import pytest

from benediff.behavior.clips import build_clips, crop_resize, extract_clips, frame_indices
from benediff.behavior.video import VideoError, iter_gray_frames, video_info
from benediff.io import dataset
from benediff.io.pose import PoseError
from benediff.io.video import write_gray_mp4
from shared_data import SHARED_DATA

DATA = SHARED_DATA
VIDEO = DATA / "behavior" / "lightning_pose_mirror_mouse" / "videos" / "test_vid.mp4"
# the mirror-mouse frame: side view on top, mirrored bottom view below (396 × 406 px)
VIEWS = [{"name": "side", "x": 0, "y": 0, "width": 396, "height": 203},
         {"name": "bottom", "x": 0, "y": 203, "width": 396, "height": 203}]


@pytest.fixture
def real_video():
    if not VIDEO.exists():
        pytest.skip("shared/data is absent")
    return VIDEO


@pytest.fixture
def video_250fps(tmp_path):
    """A 250 fps mp4 the size of the real mirror video (396 x 406): for checks of its shape and
    rate, which need no real picture."""
    path = tmp_path / "mirror_250fps.mp4"
    frames = (np.full((406, 396), 40 * i, np.uint8) for i in range(4))
    write_gray_mp4(path, frames, 250.0, width=396, height=406)
    return path


def test_frame_indices_nearest_video_frame():
    np.testing.assert_array_equal(frame_indices(10, 4, 250, 30), [10, 18, 27, 35])
    np.testing.assert_array_equal(frame_indices(0, 3, 30, 30), [0, 1, 2])


def test_crop_resize_hand_case():
    frame = np.zeros((4, 8), dtype=np.uint8)
    frame[:, 4:] = 200  # right half bright
    views = [{"x": 0, "y": 0, "width": 4, "height": 4}, {"x": 4, "y": 0, "width": 4, "height": 4}]
    out = crop_resize(frame, views, 2)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], 0)
    np.testing.assert_array_equal(out[1], 200)


def test_clips_from_real_video(tmp_path, real_video):
    trials = pd.DataFrame({"trial_id": [4, 9], "start_frame": [0, 20],
                           "video_start_frame": [0, 100], "n_frames": [6, 6]})
    trials.to_csv(tmp_path / "trials.csv", index=False)
    ds = build_clips(real_video, tmp_path / "trials.csv", tmp_path / "clips.h5", session="mirror",
                     views=VIEWS, size=32, neural_rate=30.0)
    back = dataset.read(tmp_path / "clips.h5")
    assert [x.shape for x in back.images] == [(6, 2, 32, 32)] * 2
    assert back.images[0].dtype == np.uint8 and back.frame_rate == 30.0
    np.testing.assert_array_equal(back.trial_ids, [4, 9])
    # neural frame 3 of trial 9 shows video frame round(100 + 3 * 250 / 30) = 125
    frame_125 = next(f for i, f in iter_gray_frames(real_video) if i == 125)
    np.testing.assert_array_equal(ds.images[1][3], crop_resize(frame_125, VIEWS, 32))
    assert ds.images[1][3].std() > 5  # a real picture, not a blank


def test_unreadable_video(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 not a video")
    with pytest.raises(VideoError, match="broken.mp4: unreadable behaviour video"):
        video_info(bad)


def test_view_box_outside_frame(tmp_path, video_250fps):
    trials = pd.DataFrame({"trial_id": [0], "start_frame": [0], "video_start_frame": [0],
                           "n_frames": [2]})
    with pytest.raises(VideoError, match=r"behavior.clips.views\[1\]"):
        extract_clips(video_250fps, trials, [VIEWS[0], {**VIEWS[1], "y": 300}], 16, 30.0)


def test_clip_frame_rate_mismatch(tmp_path, video_250fps):
    trials = pd.DataFrame({"trial_id": [0], "start_frame": [0], "video_start_frame": [0],
                           "n_frames": [2]})
    trials.to_csv(tmp_path / "trials.csv", index=False)
    with pytest.raises(PoseError, match="frame rate 250 fps differs"):
        build_clips(video_250fps, tmp_path / "trials.csv", tmp_path / "clips.h5", session="m",
                    views=VIEWS, size=16, neural_rate=30.0, expected_fps=30.0)
    assert not (tmp_path / "clips.h5").exists()


def test_fast_gray_equals_swscale(real_video):
    import av

    from benediff.behavior.video import to_gray

    with av.open(str(real_video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            np.testing.assert_array_equal(to_gray(frame), frame.to_ndarray(format="gray"))
            if i == 3:
                break


def test_integer_shrink_is_area_average():
    frame = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = crop_resize(frame, [{"x": 0, "y": 0, "width": 4, "height": 4}], 2)
    np.testing.assert_array_equal(out[0], [[2, 4], [10, 12]])  # rint(2.5)=2, rint(4.5)=4, ...
