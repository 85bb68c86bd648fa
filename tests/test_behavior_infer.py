"""Infer mode: DeepLabCut 3 in its own venv, project-free, on a tiny random-init model.

The DLC venv (``.venv-dlc``, or $BENEDIFF_DLC_PYTHON) is called by subprocess, exactly as the
dlc_infer rule does; the end-to-end test skips only when that venv or deeplabcut is absent.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benediff.behavior import dlc_infer
from benediff.behavior.pose import normalise_pose
from benediff.behavior.tv_shim import nms_cpu
from benediff.behavior.video import iter_gray_frames, write_gray_video
from benediff.io.pose import PoseError, read_pose
from shared_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
VIDEO = (SHARED_DATA / "behavior" / "lightning_pose_mirror_mouse" / "videos"
         / "test_vid.mp4")
DLC_PYTHON = Path(os.environ.get("BENEDIFF_DLC_PYTHON", ROOT / ".venv-dlc" / "bin" / "python"))
BODYPARTS = ["paw_top", "paw_bot", "nose_top"]


def dlc_available() -> bool:
    if not DLC_PYTHON.exists():
        return False
    probe = "import importlib.util as u; raise SystemExit(u.find_spec('deeplabcut') is None)"
    return subprocess.run([str(DLC_PYTHON), "-c", probe], capture_output=True).returncode == 0


def run_dlc(*args, timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([str(DLC_PYTHON), "-m", *args], capture_output=True, text=True,
                         env=env, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def downscaled_real_video(path, n_frames=8, size=64):
    """Every 8th frame of the 250 fps mouse video (≈31 Hz), downscaled, written at 30 fps."""
    from skimage.transform import resize

    frames = []
    for i, frame in iter_gray_frames(VIDEO):
        if i % 8 == 0:
            frames.append(resize(frame, (size, size), anti_aliasing=True, preserve_range=True))
        if len(frames) == n_frames:
            break
    write_gray_video(path, np.stack(frames).astype(np.uint8), 30)
    return path


def test_cpu_nms_kernel_hand_case():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    # IoU(box0, box1) = 81 / 119 ≈ 0.68: suppressed at 0.5, kept at 0.7
    assert nms_cpu(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms_cpu(boxes, scores, 0.7).tolist() == [0, 1, 2]
    assert nms_cpu(boxes, torch.tensor([0.1, 0.8, 0.7]), 0.5).tolist() == [1, 2]


def test_cli_model_folder_without_snapshot(tmp_path):
    (tmp_path / "pytorch_config.yaml").write_text("net_type: resnet_50\n")
    with pytest.raises(PoseError, match="no snapshot-\\*.pt"):
        dlc_infer.main(["--model-dir", str(tmp_path), "--video", "v.mp4", "--out", "o.h5"])


@pytest.mark.slow
def test_infer_end_to_end_on_real_video(tmp_path):
    if not VIDEO.exists():
        pytest.skip("shared/data is absent")
    if not dlc_available():
        message = f"DeepLabCut venv absent ({DLC_PYTHON}); see README, make dlc-env"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI installs it, so this must not skip there)")
        pytest.skip(message)
    model = tmp_path / "model"
    run_dlc("benediff.behavior.dlc_model", "--out", str(model), "--bodyparts", *BODYPARTS)
    video = downscaled_real_video(tmp_path / "mouse.mp4")
    out = tmp_path / "mouseDLC.h5"
    run_dlc("benediff.behavior.dlc_infer", "--model-dir", str(model), "--video", str(video),
            "--out", str(out), "--device", "cpu", "--batch-size", "4")
    raw = pd.read_hdf(out, key="df_with_missing")
    assert list(raw.columns.names) == ["scorer", "bodyparts", "coords"]
    df = read_pose(out)
    assert df.shape == (8, 3 * len(BODYPARTS))
    assert list(dict.fromkeys(df.columns.get_level_values("bodyparts"))) == BODYPARTS
    values = df.to_numpy()
    assert np.isfinite(values).all()
    likelihood = values[:, 2::3]
    assert ((likelihood >= 0) & (likelihood <= 1)).all()
    # and the pose stage accepts it for this video
    meta = normalise_pose(out, video, tmp_path / "pose.h5", tmp_path / "pose.json", mode="infer")
    assert meta["n_frames"] == 8 and meta["scorer"].startswith("DLC_")
