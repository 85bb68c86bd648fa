"""Specificity score (beyond the paper): how much of a generated video's behaviour is the target.

Behaviour is read out of generated videos by one of two extractors:

* ``regressor``: a frame → behaviour ridge regressor trained on real frames and their labels
  (train split), when no pose model is configured;
* ``dlc``: the session's DeepLabCut model run on the generated clips pasted back into their view
  boxes (:func:`views_canvas`), the pose mapped to labels exactly as the behaviour stage does
  and z-scored with the session's label statistics (:func:`pose_readouts`).

For each behaviour b the temporal variance of its readout, in units of that behaviour's variance
in real data, is v_b; the specificity of a video generated for behaviour d is v_d / Σ_b v_b
(1 = only the target moves, 1/B = no preference). Rows of method ``real`` give the same shares
for the real test trials' labels, the reference for what the data themselves show.

:func:`specificity` (rule ``specificity``) scores the generated videos and writes the table;
:func:`write_specificity_canvas` (rule ``specificity_canvas``) writes the pose model's input.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from benediff.behavior.video import write_gray_video
from benediff.io import dataset as dataset_io
from benediff.io.atomic import atomic_output
from benediff.io.generated import read_attrs, read_generated
from benediff.latex import booktabs
from benediff.provenance import write_sidecar
from benediff.video.inputs import VideoPipelineError, split_trials


class SpecificityError(ValueError):
    """Inputs of the specificity score disagree in shape or names."""


def _pixels(frames, pool: int) -> np.ndarray:
    """(n, C, S, S) uint8/float frames → (n, C·(S/pool)²) features in [0, 1]."""
    x = torch.as_tensor(np.asarray(frames, dtype=np.float32))
    if x.ndim != 4:
        raise SpecificityError(f"frames must be (n, C, S, S), got shape {tuple(x.shape)}")
    if x.max() > 1.5:
        x = x / 255.0
    if pool > 1:
        x = torch.nn.functional.avg_pool2d(x, pool)
    return x.flatten(1).numpy()


class BehaviorRegressor:
    """Ridge from average-pooled pixels of one frame to the B behaviour labels of that frame."""

    def __init__(self, alpha: float = 10.0, pool: int = 2):
        self.alpha, self.pool = float(alpha), int(pool)

    def fit(self, frames, labels, names):
        labels = np.asarray(labels, dtype=np.float64)
        if labels.shape != (len(frames), len(names)):
            raise SpecificityError(f"labels have shape {labels.shape}, expected "
                                   f"({len(frames)}, {len(names)}) for behaviours {list(names)}")
        self.ridge_ = Ridge(alpha=self.alpha).fit(_pixels(frames, self.pool), labels)
        self.names_ = list(names)
        self.label_var_ = labels.var(axis=0) + 1e-12
        return self

    def predict(self, frames) -> np.ndarray:
        return self.ridge_.predict(_pixels(frames, self.pool))

    def score(self, frames, labels) -> list[float]:
        """Per-behaviour R² on held-out frames."""
        return r2_score(labels, self.predict(frames), multioutput="raw_values").tolist()


def behaviour_shares(readout: np.ndarray, label_var: np.ndarray) -> np.ndarray:
    """Shares of normalised temporal variance per behaviour, (F, B) → (B,) summing to 1."""
    v = readout.var(axis=0) / label_var
    return v / v.sum()


def specificity_table(regressor: BehaviorRegressor, videos: dict) -> pd.DataFrame:
    """``videos[(region, method, behaviour)]`` = decoded frames (n_videos, F, C, S, S).

    One row per (region, method, target): the mean share of the target behaviour and the share
    of every behaviour (columns ``share_<name>``).
    """
    readouts = {key: [regressor.predict(clip) for clip in clips] for key, clips in videos.items()}
    return shares_table(readouts, regressor.names_, regressor.label_var_)


def shares_table(readouts: dict, names, label_var) -> pd.DataFrame:
    """``readouts[(region, method, behaviour)]`` = per-video behaviour readouts, each (F, B)."""
    names = list(names)
    rows = []
    for (region, method, target), videos in sorted(readouts.items()):
        if target not in names:
            raise SpecificityError(f"target behaviour {target!r} is not among the extractor's "
                                   f"labels {names}; check the factor names")
        shares = np.mean([behaviour_shares(r, label_var) for r in videos], axis=0)
        row = {"region": region, "method": method, "target": target,
               "specificity": float(shares[names.index(target)])}
        row.update({f"share_{name}": float(s) for name, s in zip(names, shares)})
        rows.append(row)
    return pd.DataFrame(rows)


def real_rows(label_trials, names, label_var, targets) -> pd.DataFrame:
    """Reference rows (region ``data``, method ``real``): the shares of real trials' labels.

    Real behaviours move together, so a real trial's target share is what "specific" means
    for this data; a guided sampler that keeps to the data distribution is measured against it.
    """
    shares = np.mean([behaviour_shares(np.asarray(x, dtype=float), label_var)
                      for x in label_trials], axis=0)
    names = list(names)
    return pd.DataFrame([{"region": "data", "method": "real", "target": t,
                          "specificity": float(shares[names.index(t)]),
                          **{f"share_{n}": float(v) for n, v in zip(names, shares)}}
                         for t in targets])


# ---------------------------------------------------------------------------------------------
# DeepLabCut extractor


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

    expected = sum(e["n_videos"] * e["n_frames"] for e in index)
    if len(pose) != expected:
        raise SpecificityError(f"the pose has {len(pose)} frames but the canvas index lists "
                               f"{expected}; rerun the specificity_pose rule")
    sources = parse_mapping(mapping, behaviors)
    mean, std = np.asarray(zscore["mean"], dtype=float), np.asarray(zscore["std"], dtype=float)
    readouts, tracked, start = {}, {}, 0
    for entry in index:
        key, videos, fractions = tuple(entry["key"]), [], []
        for _ in range(entry["n_videos"]):
            part = pose.iloc[start:start + entry["n_frames"]]
            start += entry["n_frames"]
            columns = []
            for name, src in sources.items():
                values, valid = label_signal(part, src, pcutoff, "canvas pose")
                fractions.append(valid.mean())
                columns.append(src.sign * _fill(values, valid))
            videos.append((smooth(np.stack(columns, axis=1), smoothing) - mean) / std)
        readouts[key], tracked[key] = videos, float(np.mean(fractions))
    return readouts, tracked, list(sources)


def _fill(values, valid) -> np.ndarray:
    """Interpolate over untracked frames, any gap length; < 2 tracked → constant (no motion)."""
    from benediff.behavior.labels import interpolate_gaps

    if valid.sum() < 2:
        return np.zeros(len(values))
    return interpolate_gaps(values, valid, max_gap=len(values))


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Target × method mean specificity (over regions)."""
    return table.pivot_table(index="target", columns="method", values="specificity", aggfunc="mean")


# ---------------------------------------------------------------------------------------------
# the specificity rules: the canvas video for the pose model, the scored table


def specificity(dataset_path, generated: dict, table_csv, table_tex, cfg: dict, *,
                config: dict, seed: int, pose: dict | None = None) -> pd.DataFrame:
    """Score generated videos: share of behaviour variance on the targeted behaviour.

    ``generated[(region, method, factor)]`` = path of a generated-video file. Without ``pose``
    the extractor is the frame → behaviour regressor trained on real training frames; with it,
    the DeepLabCut pose of the canvas video (``pose``: ``pose_h5``, ``index_json``,
    ``labels_h5`` and the behaviour stage's ``labels`` and ``pcutoff`` settings).
    """
    groups = ("labels",) if pose else ("images", "labels")  # the pose path needs no frames
    ds = dataset_io.read(dataset_path, groups=groups)
    if ds.label_names is None:
        raise VideoPipelineError(f"{dataset_path}: labels have no names; the specificity score "
                                 "needs to know which behaviour each label column is")
    targets = {key: _target(key, path, ds.label_names) for key, path in generated.items()}
    label_var = np.concatenate([ds.labels[i] for i in split_trials(ds, "train")]).var(axis=0) + 1e-12
    if pose is None:
        table, extra = _regressor_table(ds, generated, targets, cfg, seed)
    else:
        table, extra = _pose_table(ds, generated, targets, pose, label_var)
    real = real_rows([ds.labels[i] for i in split_trials(ds, "test")], ds.label_names,
                     label_var, sorted(set(table["target"])))
    table = pd.concat([table, real], ignore_index=True)
    write_table(table, table_csv, table_tex)
    for path in (table_csv, table_tex):
        write_sidecar(path, config, seed, **extra)
    return table


def _target(key, path, label_names) -> str:
    factor = key[2]
    if factor in label_names:
        return factor
    return label_names[int(read_attrs(path)["factor_index"])]


def _regressor_table(ds, generated, targets, cfg, seed):
    rng = np.random.default_rng(seed)
    frames, labels = frames_and_labels(ds, "train", cfg["max_train_frames"], rng)
    regressor = BehaviorRegressor(alpha=cfg["alpha"], pool=cfg["pool"])
    regressor.fit(frames, labels, ds.label_names)
    r2_test = regressor.score(*frames_and_labels(ds, "test", cfg["max_train_frames"], rng))
    videos = {(r, m, targets[(r, m, f)]): read_generated(path)["frames"]
              for (r, m, f), path in generated.items()}
    extra = {"extractor": "regressor", "regressor_r2_test": dict(zip(ds.label_names, r2_test))}
    return specificity_table(regressor, videos), extra


def _pose_table(ds, generated, targets, pose, label_var):
    """DeepLabCut extractor: pose of the canvas video → labels in the real labels' units."""
    from benediff.io.pose import read_pose

    index = json.loads(Path(pose["index_json"]).read_text())
    if {tuple(e["key"]) for e in index} != set(generated):
        raise VideoPipelineError(f"{pose['index_json']} lists other generated videos than the "
                                 "specificity table scores; rerun the specificity_canvas rule")
    zscore = dataset_io.read(pose["labels_h5"], groups=("labels",)).provenance.get("zscore") or {}
    if not zscore:
        raise VideoPipelineError(f"{pose['labels_h5']} has no z-score statistics; the DLC "
                                 "extractor needs behavior labels built with zscore on")
    readouts, tracked, names = pose_readouts(
        read_pose(pose["pose_h5"]), index, mapping=pose["labels"]["mapping"],
        behaviors=ds.label_names, pcutoff=pose["pcutoff"],
        smoothing=pose["labels"].get("smoothing", 0), zscore=zscore)
    readouts = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in readouts.items()}
    tracked = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in tracked.items()}
    table = shares_table(readouts, names, label_var)
    table["tracked"] = [tracked[(row.region, row.method, row.target)] for row in table.itertuples()]
    return table, {"extractor": "dlc", "pose": str(pose["pose_h5"])}


def write_specificity_canvas(generated: dict, views, out_mp4, out_json, fps: float) -> list[dict]:
    """All generated videos, each view pasted back into its box, as one video for the pose model.

    ``generated[(region, method, factor)]`` = generated-video file; ``out_json`` indexes the
    concatenated videos in order (key, n_videos, n_frames).
    """
    index, canvases = [], []
    for key, path in sorted(generated.items()):
        frames = read_generated(path)["frames"]
        canvases += [views_canvas(clip, views) for clip in frames]
        index.append({"key": list(key), "n_videos": int(frames.shape[0]),
                      "n_frames": int(frames.shape[1])})
    with atomic_output(out_mp4) as tmp:
        write_gray_video(tmp, np.concatenate(canvases), fps=fps)
    with atomic_output(out_json) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index


def frames_and_labels(ds, split, limit, rng):
    """Up to ``limit`` (seeded) frames of a split's trials and their label rows."""
    idx = split_trials(ds, split)
    frames = np.concatenate([ds.images[i] for i in idx])
    labels = np.concatenate([ds.labels[i] for i in idx])
    if len(frames) != len(labels):
        raise VideoPipelineError(f"session {ds.session!r}: {len(frames)} frames but {len(labels)} "
                                 "label rows in the same trials")
    keep = np.sort(rng.choice(len(frames), min(limit, len(frames)), replace=False))
    return frames[keep], labels[keep]


def write_table(table: pd.DataFrame, csv_path, tex_path):
    """The scored table as CSV and its target × method summary as a booktabs LaTeX table."""
    with atomic_output(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    pivot = summary(table)
    rows = [[str(t), *(f"{100 * v:.1f}" for v in row)]
            for t, row in zip(pivot.index, pivot.to_numpy())]
    with atomic_output(tex_path) as tmp:
        tmp.write_text(booktabs("l" + "r" * len(pivot.columns), ["target", *pivot.columns], [rows]))
