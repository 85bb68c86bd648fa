"""The DeepLabCut extractor of the specificity score: every scored video, each view pasted back
into its box (:func:`views_canvas`), as one canvas video for the session's pose model (rule
``specificity_canvas``, :func:`write_specificity_canvas`), and the pose of that video mapped to
labels exactly as the behaviour stage does (:func:`pose_readouts`).

The canvas is written frame by frame: one generated file or one real clip in memory at a time.
"""

import json

import numpy as np
import pandas as pd
import torch

from benediff.io.atomic import atomic_output
from benediff.io.generated import read_generated
from benediff.io.video import write_gray_mp4
from benediff.video.frames import clips, read_streamed
from benediff.video.inputs import split_trials
from benediff.video.methods import REAL
from benediff.video.readout import floor_pool
from benediff.video.scores import SpecificityError


def canvas_shape(views) -> tuple[int, int]:
    """(height, width) covering every view box, rounded up to even sizes (H.264 needs them)."""
    height = max(v["y"] + v["height"] for v in views)
    width = max(v["x"] + v["width"] for v in views)
    return height + height % 2, width + width % 2


def views_canvas(clip, views) -> np.ndarray:
    """Clip frames (F, C, S, S) uint8 → (F, H, W) uint8 video frames, view c resized into its box.

    The inverse of the behaviour stage's crop-and-resize, so a pose model trained on the full
    video sees every view where it was recorded (the rest of the frame is black).
    """
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[1] != len(views):
        raise SpecificityError(f"generated clip has shape {clip.shape}, expected (frames, "
                               f"{len(views)} views, S, S) for views {[v['name'] for v in views]}")
    canvas = np.zeros((len(clip), *canvas_shape(views)), dtype=np.uint8)
    x = torch.as_tensor(clip, dtype=torch.float32)
    for c, box in enumerate(views):
        view = torch.nn.functional.interpolate(x[:, c:c + 1], size=(box["height"], box["width"]),
                                               mode="bilinear", align_corners=False)
        view = view[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
        canvas[:, box["y"]:box["y"] + box["height"], box["x"]:box["x"] + box["width"]] = view
    return canvas


def pose_readouts(pose: pd.DataFrame, index: list[dict], *, mapping: dict, behaviors,
                  pcutoff: float, smoothing: int, zscore: dict) -> tuple[dict, dict, list]:
    """Split the pose of the concatenated canvas video back into videos and map it to labels.

    ``index`` lists ``{"key": [region, method, behaviour], "n_videos", "n_frames"}`` in video
    order. Labels use the behaviour stage's mapping and smoothing and its z-score statistics
    (``{"mean", "std"}``), so they are in the units of the real labels. Points below ``pcutoff``
    are interpolated however long the gap (a generated video is scored, not turned into data); a
    body part never tracked in a video counts as not moving. Returns the readouts, the tracked
    fraction of points per key, and the behaviour names.
    """
    from benediff.behavior.labels import label_signal, parse_mapping, smooth

    expected = sum(sum(_lengths(e)) for e in index)
    if len(pose) != expected:
        raise SpecificityError(f"the pose has {len(pose)} frames but the canvas index lists "
                               f"{expected}; rerun the specificity_pose rule")
    sources = parse_mapping(mapping, behaviors)
    mean, std = np.asarray(zscore["mean"], dtype=float), np.asarray(zscore["std"], dtype=float)
    readouts, tracked, start = {}, {}, 0
    for entry in index:
        key, videos, fractions = tuple(entry["key"]), [], []
        for n_frames in _lengths(entry):
            part = pose.iloc[start:start + n_frames]
            start += n_frames
            columns = []
            for name, src in sources.items():
                values, valid = label_signal(part, src, pcutoff, "canvas pose")
                fractions.append(valid.mean())
                columns.append(src.sign * _fill(values, valid))
            videos.append((smooth(np.stack(columns, axis=1), smoothing) - mean) / std)
        readouts[key], tracked[key] = videos, float(np.mean(fractions))
    return readouts, tracked, list(sources)


def _lengths(entry) -> list[int]:
    """Frame counts of an index entry's videos (``n_frames``: one count for all, or a list)."""
    n = entry["n_frames"]
    return [int(x) for x in n] if isinstance(n, list) else [int(n)] * int(entry["n_videos"])


def _fill(values, valid) -> np.ndarray:
    """Interpolate over untracked frames, any gap length; < 2 tracked → constant (no motion)."""
    from benediff.behavior.labels import interpolate_gaps

    if valid.sum() < 2:
        return np.zeros(len(values))
    return interpolate_gaps(values, valid, max_gap=len(values))


def write_specificity_canvas(generated: dict, views, out_mp4, out_json, fps: float,
                             dataset_path=None, floor_trials: int = 8, seed: int = 0) -> list[dict]:
    """All generated videos, each view pasted back into its box, as one video for the pose model.

    ``generated[(region, method, factor)]`` = generated-video file; with ``dataset_path`` the real
    test clips and the realism floor's pool (:func:`floor_pool` with ``floor_trials``, ``seed``)
    follow (keys ``data|real|test`` and ``data|real|pool``), so the pose model reads them out
    exactly as it reads the generated ones. ``out_json`` indexes the concatenated videos in
    order (key, n_videos, n_frames). One source's clips are in memory at a time.
    """
    sources = [(list(key), lambda path=path: read_generated(path)["frames"])
               for key, path in sorted(generated.items())]
    if dataset_path is not None:
        ds = read_streamed(dataset_path)
        pool, _ = floor_pool(ds, floor_trials, seed)
        test = split_trials(ds, "test")
        sources += [(["data", REAL, "test"], lambda: clips(ds.images, test)),
                    (["data", REAL, "pool"], lambda: clips(ds.images, pool))]
    index = []

    def frames():
        for key, read in sources:
            lengths = []
            for clip in read():
                lengths.append(int(len(clip)))
                yield from views_canvas(clip, views)
            index.append({"key": key, "n_videos": len(lengths), "n_frames": lengths})

    height, width = canvas_shape(views)
    write_gray_mp4(out_mp4, frames(), fps, width=width, height=height, crf=0)
    with atomic_output(out_json) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index
