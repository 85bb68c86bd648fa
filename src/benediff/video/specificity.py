"""Specificity score (beyond the paper), rule ``specificity``: read behaviour out of the generated
videos and of real clips with one extractor, score them (:mod:`benediff.video.scores`) and write
the table (``specificity.csv`` and its booktabs summary).

The extractor is either

* ``regressor``: a frame → behaviour regressor trained on real frames and their labels
  (:mod:`benediff.video.readout`), when no pose model is configured;
* ``dlc``: the session's DeepLabCut model run on the canvas video of every scored clip
  (:mod:`benediff.video.canvas`, rule ``specificity_canvas``).

Generated files and real clips are read one at a time: the job holds readouts, not frames.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io import dataset as dataset_io
from benediff.io.atomic import atomic_output
from benediff.io.generated import read_attrs, read_generated
from benediff.latex import booktabs
from benediff.provenance import write_sidecar
from benediff.video.canvas import pose_readouts
from benediff.video.frames import clips, read_streamed
from benediff.video.inputs import VideoPipelineError, split_trials
from benediff.video.methods import REAL, UNGUIDED
from benediff.video.readout import fit_regressor, floor_pool, frames_and_labels, real_clips
from benediff.video.scores import SCORE_DEFAULTS, SpecificityError, score_table, summary


def specificity(dataset_path, generated: dict, table_csv, table_tex, cfg: dict, *,
                config: dict, seed: int, pose: dict | None = None) -> pd.DataFrame:
    """Score generated videos (:func:`score_table`) and write the table.

    ``generated[(region, method, factor)]`` = path of a generated-video file. Without ``pose``
    the extractor is the frame → behaviour regressor trained on real training frames (of the
    training trials not held out for the realism floor); with it, the DeepLabCut pose of the
    canvas video (``pose``: ``pose_h5``, ``index_json``, ``labels_h5`` and the behaviour stage's
    ``labels`` and ``pcutoff`` settings). Either way the real test trials (scored against) and
    the floor's pool (validation + held-out training trials, :func:`floor_pool`) are read out by
    the same extractor as the generated videos. Only the test trials are scored against.
    """
    ds = read_streamed(dataset_path, groups=("images", "labels"))
    if ds.label_names is None:
        raise VideoPipelineError(f"{dataset_path}: labels have no names; the specificity score "
                                 "needs to know which behaviour each label column is")
    targets = {key: _target(key, path, ds.label_names) for key, path in generated.items()}
    if not any(m == UNGUIDED for _, m, _ in generated):
        raise VideoPipelineError("the specificity score needs the unguided videos (method "
                                 "'unguided') as the reference of the lift")
    if pose is None:
        readouts, requested, real, names, extra = _regressor_readouts(ds, generated, cfg, seed)
    else:
        readouts, real, names, extra = _pose_readouts(ds, generated, pose)
        requested = {key: read_generated(path)["requested"]
                     for key, path in generated.items()}
    if list(names) != list(ds.label_names):
        raise SpecificityError(f"the extractor reads {list(names)} but the labels are "
                               f"{list(ds.label_names)}")
    real["labels"] = [np.asarray(ds.labels[i]) for i in split_trials(ds, "test")]
    requested = {(r, m, targets[(r, m, f)]): list(requested[(r, m, f)]) for (r, m, f) in generated}
    readouts = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in readouts.items()}
    table = score_table(readouts, requested, real, names, segment=cfg["segment"],
                        fs=ds.frame_rate, seed=seed,
                        **{k: cfg[k] for k in SCORE_DEFAULTS})
    if pose is not None:
        tracked = {(r, m, targets[(r, m, f)]): v for (r, m, f), v in extra.pop("tracked").items()}
        table["tracked"] = [tracked.get((row.region, row.method, row.target), np.nan)
                            for row in table.itertuples()]
    extra["real_trials"] = {"test (scored against)": len(real["test"]),
                            "floor pool (validation + held-out training)": len(real["pool"])}
    write_table(table, table_csv, table_tex)
    for path in (table_csv, table_tex):
        write_sidecar(path, config, seed, **extra)
    return table


def _target(key, path, label_names) -> str:
    factor = key[2]
    if factor in label_names:
        return factor
    return label_names[int(read_attrs(path)["factor_index"])]


def _regressor_readouts(ds, generated, cfg, seed):
    """The regressor's readouts of every generated file (read one at a time) and real clip, and
    each file's requested trajectories."""
    rng = np.random.default_rng(seed)
    pool, fit = floor_pool(ds, cfg["floor_trials"], seed)
    regressor = fit_regressor(ds, cfg, rng, fit, seed)
    r2_test = regressor.score(*frames_and_labels(ds, "test", cfg["max_train_frames"], rng))
    readouts, requested = {}, {}
    for key, path in generated.items():
        f = read_generated(path)
        readouts[key] = [regressor.predict(clip) for clip in f.pop("frames")]
        requested[key] = f["requested"]
    real = {"test": [regressor.predict(clip) for clip in real_clips(ds, "test")],
            "pool": [regressor.predict(clip) for clip in clips(ds.images, pool)]}
    extra = {"extractor": "regressor", "regressor": cfg["regressor"],
             "regressor_r2_test": dict(zip(ds.label_names, r2_test)),
             "regressor_fit_trials": len(fit)}
    return readouts, requested, real, list(ds.label_names), extra


REAL_KEYS = ("test", "pool")  # canvas keys ("data", "real", k) of the real trials


def _pose_readouts(ds, generated, pose):
    """DeepLabCut extractor: pose of the canvas video → labels in the real labels' units."""
    from benediff.io.pose import read_pose

    index = json.loads(Path(pose["index_json"]).read_text())
    real_keys = {("data", REAL, k) for k in REAL_KEYS}
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
    real = {k: readouts.pop(("data", REAL, k)) for k in REAL_KEYS}
    extra = {"extractor": "dlc", "pose": str(pose["pose_h5"]),
             "tracked": {k: v for k, v in tracked.items() if k not in real_keys},
             "tracked_real": {k: tracked[("data", REAL, k)] for k in REAL_KEYS}}
    return readouts, real, names, extra



# (column, label, scale, digits, with its interval) of the LaTeX summary
SUMMARY_COLUMNS = (("specificity", "target share (%)", 100, 0, True),
                   ("lift", "lift", 1, 1, True),
                   ("amplitude", "amplitude (× real)", 1, 2, True),
                   ("fidelity", "fidelity (r)", 1, 2, True),
                   ("centroid", "centroid (Hz)", 1, 1, False),
                   ("realism_ratio", "realism / floor", 1, 1, True))


def write_table(table: pd.DataFrame, csv_path, tex_path):
    """The scored table as CSV; its target × method summaries (share, lift, amplitude, fidelity,
    spectral centroid, realism, each with its bootstrap interval, and whether the row is
    specific) as one booktabs LaTeX table."""
    with atomic_output(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    blocks, header = [], None
    for column, label, factor, digits, interval in SUMMARY_COLUMNS:
        pivot = summary(table, column)
        lo, hi = (summary(table, f"{column}_{end}") for end in ("lo", "hi"))
        header = header or ["score", "target", *pivot.columns]
        block = []
        for k, target in enumerate(pivot.index):
            cells = []
            for method in pivot.columns:
                v = pivot.loc[target, method]
                text = "--" if np.isnan(v) else f"{factor * v:.{digits}f}"
                if interval and not np.isnan(v):
                    text += (f" [{factor * lo.loc[target, method]:.{digits}f}, "
                             f"{factor * hi.loc[target, method]:.{digits}f}]")
                cells.append(text)
            block.append([label if k == 0 else "", str(target), *cells])
        blocks.append(block)
    bands = table.groupby("target")[["band_lo", "band_hi"]].first()
    blocks.append([["real band (Hz)" if k == 0 else "", str(t),
                    *[f"{b.band_lo:.1f}--{b.band_hi:.1f}"] * (len(header) - 2)]
                   for k, (t, b) in enumerate(bands.iterrows())])
    verdict = table.pivot_table(index="target", columns="method", values="specific",
                                aggfunc="first", dropna=False)
    blocks.append([["specific" if k == 0 else "", str(t),
                    *("--" if method not in verdict or pd.isna(verdict.loc[t, method])
                      else ("yes" if bool(verdict.loc[t, method]) else "no")
                      for method in header[2:])]
                   for k, t in enumerate(verdict.index)])
    with atomic_output(tex_path) as tmp:
        tmp.write_text(booktabs("ll" + "r" * (len(header) - 2), header, blocks))
