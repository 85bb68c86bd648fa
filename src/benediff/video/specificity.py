"""Specificity score (beyond the paper): does a guided video move the targeted behaviour, and
only it, and does it still look like the data?

Behaviour is read out of videos by one of two extractors:

* ``regressor``: a frame → behaviour ridge regressor trained on real frames and their labels
  (train split), when no pose model is configured;
* ``dlc``: the session's DeepLabCut model run on the clips pasted back into their view boxes
  (:func:`views_canvas`), the pose mapped to labels exactly as the behaviour stage does
  (:func:`pose_readouts`).

Generated videos *and* the real test and validation clips go through the same extractor, and
every score is in units of the real test clips' readouts (:func:`score_table`):

* **share** of behaviour d: Var(readout d) / Var_real(readout d), as a fraction of the sum over
  behaviours (1 = only the target moves, 1/B = no preference);
* **amplitude**: the target readout's std ÷ its std in real test trials (a static video ≈ 0,
  which a share cannot see);
* **lift** of behaviour b: Var(readout b | guided toward d) / Var(readout b | unguided VDM, same
  seeds); a row is *specific* when the target's lift is the largest;
* **realism**: Fréchet distance between the readout trajectories' segment features of the videos
  and of the real test trials, beside the real-validation-vs-test floor.

:func:`specificity` (rule ``specificity``) scores the videos and writes the table;
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
        return self

    def predict(self, frames) -> np.ndarray:
        return self.ridge_.predict(_pixels(frames, self.pool))

    def score(self, frames, labels) -> list[float]:
        """Per-behaviour R² on held-out frames."""
        return r2_score(labels, self.predict(frames), multioutput="raw_values").tolist()


def within_trial_variance(readouts) -> np.ndarray:
    """Mean over videos of each behaviour readout's variance over time: list of (F, B) → (B,)."""
    return np.mean([np.asarray(r, dtype=np.float64).var(axis=0) for r in readouts], axis=0)


def behaviour_shares(readout: np.ndarray, ref_var: np.ndarray) -> np.ndarray:
    """Shares of normalised temporal variance per behaviour, (F, B) → (B,) summing to 1.

    ``ref_var`` is the same extractor's within-trial readout variance on real test clips
    (:func:`within_trial_variance`), so every behaviour is measured in units of how much its
    readout moves in real data: an easily decoded behaviour gains no weight.
    """
    v = np.asarray(readout, dtype=np.float64).var(axis=0) / ref_var
    return v / max(v.sum(), 1e-300)


def amplitudes(readout: np.ndarray, ref_var: np.ndarray) -> np.ndarray:
    """Each behaviour readout's std within one video ÷ its std within real test trials. (B,)

    A static video scores ≈ 0 whatever its shares; real test trials score ≈ 1.
    """
    return np.sqrt(np.asarray(readout, dtype=np.float64).var(axis=0) / ref_var)


def trajectory_features(readouts, segment: int) -> np.ndarray:
    """Per-segment features of readout trajectories: the mean and std of every behaviour over
    each run of ``segment`` frames. list of (F, B) → (n_segments, 2B)."""
    rows = []
    for r in readouts:
        r = np.asarray(r, dtype=np.float64)
        n = len(r) // segment
        if n == 0:
            raise SpecificityError(f"videos of {len(r)} frames are shorter than one realism "
                                   f"segment ({segment} frames); lower video.specificity.segment")
        parts = r[:n * segment].reshape(n, segment, r.shape[1])
        rows.append(np.concatenate([parts.mean(axis=1), parts.std(axis=1)], axis=1))
    return np.concatenate(rows)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two samples (n, k):
    ‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise SpecificityError(f"Fréchet distance needs two samples of ≥ 2 rows with the same "
                               f"features, got {a.shape} and {b.shape}")
    mu = a.mean(axis=0) - b.mean(axis=0)
    ca, cb = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    ca, cb = np.atleast_2d(ca), np.atleast_2d(cb)
    # Tr (Σa Σb)^½ = Tr (Σa^½ Σb Σa^½)^½, whose argument is symmetric PSD: stable for the
    # singular covariances of a few videos
    w, v = np.linalg.eigh(ca)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(half @ cb @ half), 0, None)).sum()
    return float(max(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * cross, 0.0))


def score_table(readouts: dict, real: dict, names, segment: int) -> pd.DataFrame:
    """The specificity table from behaviour readouts (each a list of per-video (F, B) arrays).

    ``readouts[(region, method, target)]``: generated videos (``method == "unguided"``: the VDM
    without guidance, sampled with the seeds of that target's guided videos); ``real["test"]``,
    ``real["val"]``: real trials read out by the same extractor.

    Per row, mean ± std over videos: ``specificity`` (target's share of normalised variance),
    ``amplitude`` (target readout std ÷ real), ``lift`` (target's readout variance ÷ the unguided
    videos' with the same seeds; ``lift_<b>`` for every behaviour b, ``specific`` when the
    target's lift is the largest), ``realism`` (Fréchet distance of :func:`trajectory_features`
    to the real test trials; ``realism_floor`` = real validation vs real test, ``realism_ratio``
    their ratio). Rows of method ``real`` (region ``data``) score the real test trials.
    """
    names = list(names)
    ref_var = within_trial_variance(real["test"]) + 1e-12
    real_features = trajectory_features(real["test"], segment)
    floor = frechet_distance(trajectory_features(real["val"], segment), real_features)
    unguided_var = {(r, t): np.stack([np.var(v, axis=0) for v in videos])
                    for (r, m, t), videos in readouts.items() if m == "unguided"}
    rows = []
    for (region, method, target), videos in sorted(readouts.items()):
        realism = frechet_distance(trajectory_features(videos, segment), real_features)
        rows.append(_row(region, method, target, videos, names, ref_var, realism, floor,
                         unguided_var.get((region, target))))
    for target in sorted({t for _, _, t in readouts}):
        rows.append(_row("data", "real", target, real["test"], names, ref_var, floor, floor, None))
    return pd.DataFrame(rows)


def _row(region, method, target, videos, names, ref_var, realism, floor, unguided):
    if target not in names:
        raise SpecificityError(f"target behaviour {target!r} is not among the extractor's "
                               f"labels {names}; check the factor names")
    d = names.index(target)
    shares = np.stack([behaviour_shares(v, ref_var) for v in videos])
    amps = np.stack([amplitudes(v, ref_var) for v in videos])
    row = {"region": region, "method": method, "target": target, "n_videos": len(videos),
           "specificity": shares[:, d].mean(), "specificity_std": shares[:, d].std(),
           "amplitude": amps[:, d].mean(), "amplitude_std": amps[:, d].std()}
    lift = np.full(len(names), np.nan)
    if unguided is not None and method not in ("unguided", "real"):
        var = np.stack([np.var(v, axis=0) for v in videos])
        if var.shape != unguided.shape:
            raise SpecificityError(f"{region}/{method}/{target}: {len(var)} videos but the "
                                   f"unguided reference has {len(unguided)}; generate both with "
                                   "the same video.generation.n_videos")
        lift = var.mean(axis=0) / (unguided.mean(axis=0) + 1e-12)
        paired = var[:, d] / (unguided[:, d] + 1e-12)
        row.update(lift=lift[d], lift_std=paired.std(), specific=bool(np.argmax(lift) == d))
    else:
        row.update(lift=np.nan, lift_std=np.nan, specific=None)
    row.update(realism=realism, realism_floor=floor, realism_ratio=realism / max(floor, 1e-12))
    row.update({f"share_{n}": float(s) for n, s in zip(names, shares.mean(axis=0))})
    row.update({f"lift_{n}": float(x) for n, x in zip(names, lift)})
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in row.items()}


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


def summary(table: pd.DataFrame, value: str = "specificity") -> pd.DataFrame:
    """Target × method mean of one score column (over regions)."""
    return table.pivot_table(index="target", columns="method", values=value, aggfunc="mean",
                             dropna=False)


# ---------------------------------------------------------------------------------------------
# the specificity rules: the canvas video for the pose model, the scored table


def specificity(dataset_path, generated: dict, table_csv, table_tex, cfg: dict, *,
                config: dict, seed: int, pose: dict | None = None) -> pd.DataFrame:
    """Score generated videos (:func:`score_table`) and write the table.

    ``generated[(region, method, factor)]`` = path of a generated-video file. Without ``pose``
    the extractor is the frame → behaviour regressor trained on real training frames; with it,
    the DeepLabCut pose of the canvas video (``pose``: ``pose_h5``, ``index_json``,
    ``labels_h5`` and the behaviour stage's ``labels`` and ``pcutoff`` settings). Either way the
    real test and validation trials are read out by the same extractor as the generated videos.
    """
    ds = dataset_io.read(dataset_path, groups=("images", "labels"))
    if ds.label_names is None:
        raise VideoPipelineError(f"{dataset_path}: labels have no names; the specificity score "
                                 "needs to know which behaviour each label column is")
    targets = {key: _target(key, path, ds.label_names) for key, path in generated.items()}
    if not any(m == "unguided" for _, m, _ in generated):
        raise VideoPipelineError("the specificity score needs the unguided videos (method "
                                 "'unguided') as the reference of the lift")
    if pose is None:
        readouts, real, names, extra = _regressor_readouts(ds, generated, cfg, seed)
    else:
        readouts, real, names, extra = _pose_readouts(ds, generated, pose)
    readouts = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in readouts.items()}
    table = score_table(readouts, real, names, cfg["segment"])
    if pose is not None:
        tracked = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in extra.pop("tracked").items()}
        table["tracked"] = [tracked.get((row.region, row.method, row.target), np.nan)
                            for row in table.itertuples()]
    write_table(table, table_csv, table_tex)
    for path in (table_csv, table_tex):
        write_sidecar(path, config, seed, **extra)
    return table


def _target(key, path, label_names) -> str:
    factor = key[2]
    if factor in label_names:
        return factor
    return label_names[int(read_attrs(path)["factor_index"])]


def real_clips(ds, split: str) -> list[np.ndarray]:
    """The real clips (F, C, S, S) uint8 of a split's trials, the reference of the score."""
    return [np.asarray(ds.images[i]) for i in split_trials(ds, split)]


def fit_regressor(ds, cfg: dict, rng) -> BehaviorRegressor:
    """The frame → behaviour regressor (``video.specificity`` settings ``cfg``) on up to
    ``max_train_frames`` training frames drawn with ``rng``."""
    frames, labels = frames_and_labels(ds, "train", cfg["max_train_frames"], rng)
    return BehaviorRegressor(alpha=cfg["alpha"], pool=cfg["pool"]).fit(frames, labels,
                                                                       ds.label_names)


def _regressor_readouts(ds, generated, cfg, seed):
    rng = np.random.default_rng(seed)
    regressor = fit_regressor(ds, cfg, rng)
    r2_test = regressor.score(*frames_and_labels(ds, "test", cfg["max_train_frames"], rng))
    readouts = {key: [regressor.predict(clip) for clip in read_generated(path)["frames"]]
                for key, path in generated.items()}
    real = {split: [regressor.predict(clip) for clip in real_clips(ds, split)]
            for split in REAL_SPLITS}
    extra = {"extractor": "regressor", "regressor_r2_test": dict(zip(ds.label_names, r2_test))}
    return readouts, real, list(ds.label_names), extra


REAL_SPLITS = ("test", "val")


def _pose_readouts(ds, generated, pose):
    """DeepLabCut extractor: pose of the canvas video → labels in the real labels' units."""
    from benediff.io.pose import read_pose

    index = json.loads(Path(pose["index_json"]).read_text())
    real_keys = {("data", "real", split) for split in REAL_SPLITS}
    if {tuple(e["key"]) for e in index} != set(generated) | real_keys:
        raise VideoPipelineError(f"{pose['index_json']} lists other videos than the specificity "
                                 "table scores; rerun the specificity_canvas rule")
    zscore = dataset_io.read(pose["labels_h5"], groups=("labels",)).provenance.get("zscore") or {}
    if not zscore:
        raise VideoPipelineError(f"{pose['labels_h5']} has no z-score statistics; the DLC "
                                 "extractor needs behavior labels built with zscore on")
    readouts, tracked, names = pose_readouts(
        read_pose(pose["pose_h5"]), index, mapping=pose["labels"]["mapping"],
        behaviors=ds.label_names, pcutoff=pose["pcutoff"],
        smoothing=pose["labels"].get("smoothing", 0), zscore=zscore)
    real = {split: readouts.pop(("data", "real", split)) for split in REAL_SPLITS}
    extra = {"extractor": "dlc", "pose": str(pose["pose_h5"]),
             "tracked": {k: v for k, v in tracked.items() if k not in real_keys},
             "tracked_real": {split: tracked[("data", "real", split)] for split in REAL_SPLITS}}
    return readouts, real, names, extra


def write_specificity_canvas(generated: dict, views, out_mp4, out_json, fps: float,
                             dataset_path=None) -> list[dict]:
    """All generated videos, each view pasted back into its box, as one video for the pose model.

    ``generated[(region, method, factor)]`` = generated-video file; with ``dataset_path`` the real
    test and validation clips follow (keys ``data|real|test`` and ``data|real|val``), so the pose model reads them
    out exactly as it reads the generated ones. ``out_json`` indexes the concatenated videos in
    order (key, n_videos, n_frames).
    """
    sources = [(list(key), read_generated(path)["frames"]) for key, path in sorted(generated.items())]
    if dataset_path is not None:
        ds = dataset_io.read(dataset_path, groups=("images",))
        sources += [(["data", "real", split], real_clips(ds, split)) for split in REAL_SPLITS]
    index, canvases = [], []
    for key, clips in sources:
        canvases += [views_canvas(clip, views) for clip in clips]
        index.append({"key": key, "n_videos": len(clips),
                      "n_frames": [int(len(c)) for c in clips]})
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


SUMMARY_COLUMNS = (("specificity", "target share (%)", 100), ("lift", "lift", 1),
                   ("amplitude", "amplitude", 1), ("realism_ratio", "realism / floor", 1))


def write_table(table: pd.DataFrame, csv_path, tex_path):
    """The scored table as CSV; its target × method summaries (share, lift, amplitude,
    realism) as one booktabs LaTeX table."""
    with atomic_output(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    blocks, header = [], None
    for column, label, factor in SUMMARY_COLUMNS:
        pivot = summary(table, column)
        header = header or ["score", "target", *pivot.columns]
        blocks.append([[label if k == 0 else "", str(t),
                        *("--" if np.isnan(v) else f"{factor * v:.{1 if factor > 1 else 2}f}"
                          for v in row)]
                       for k, (t, row) in enumerate(zip(pivot.index, pivot.to_numpy()))])
    with atomic_output(tex_path) as tmp:
        tmp.write_text(booktabs("ll" + "r" * (len(header) - 2), header, blocks))
