"""Figures of the video stage: generated frame strips and frame differences (Figs 6, 8–11, 13),
and the specificity bars.

Every function reads generated-video files (see :mod:`benediff.video.pipeline`) and writes one
PDF; the caller writes the provenance sidecar.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benediff.io.atomic import atomic_output  # noqa: E402
from benediff.io.generated import GeneratedFileError, read_strip  # noqa: E402
from benediff.provenance import write_sidecar  # noqa: E402
from benediff.video.methods import DISPLAY_ORDER  # noqa: E402

VIEWS = {"side": 0, "bottom": 1}
METHOD_LABELS = {"naive": "Naive manipulation", "cfg": "Classifier-free guidance",
                 "ours": "BeNeDiff (ours)", "ours_literal": "BeNeDiff, Algorithm 1 as written",
                 "unguided": "VDM, no guidance", "real": "real test trials"}
# panels of the specificity figure: column, y label, reference line (label)
SPECIFICITY_PANELS = (
    ("specificity", "target share of\nbehaviour variance", None),
    ("lift", "target lift\n(var ÷ unguided)", (1.0, "no lift")),
    ("amplitude", "target amplitude\n(std ÷ real)", (1.0, "real")),
    ("realism_ratio", "realism: Fréchet\ndistance ÷ floor", (1.0, "real val vs test")),
)


class FigureError(ValueError):
    """A figure's inputs or settings are inconsistent."""


def read_strips(path, view: str, video: int = 0):
    """Every-k-th frames (n, S, S) in [0, 1] of one view, their differences and frame indices."""
    if view not in VIEWS:
        raise FigureError(f"view {view!r} is not one of {list(VIEWS)}")
    try:
        return read_strip(path, VIEWS[view], video)
    except GeneratedFileError as err:
        raise FigureError(f"{err} (view {view!r})") from None


def busiest_window(rows, n_columns: int) -> slice:
    """The ``n_columns`` consecutive strip positions with the most summed |difference| over rows,
    so every row of a figure shows the same, most active, stretch of the trial."""
    energy = sum(np.abs(diffs).reshape(len(diffs), -1).sum(axis=1) for _, _, diffs, _ in rows)
    if len(energy) <= n_columns:
        return slice(0, len(energy))
    totals = np.convolve(energy, np.ones(n_columns), mode="valid")
    start = int(np.argmax(totals))
    return slice(start, start + n_columns)


def _windowed(rows, n_columns):
    window = busiest_window(rows, n_columns)
    return [(label, frames[window], diffs[window], index[window])
            for label, frames, diffs, index in rows]


def brightest_change(diffs: np.ndarray, threshold: float = 0.5):
    """Per difference frame, the (row, col) of the largest |change|, or None where the change is
    below ``threshold`` × the strip's largest change: a model-free marker of paw appearances."""
    peak = np.abs(diffs).reshape(len(diffs), -1)
    top = peak.max()
    marks = []
    for d, p in zip(diffs, peak):
        if top == 0 or p.max() < threshold * top:
            marks.append(None)
        else:
            marks.append(np.unravel_index(np.argmax(np.abs(d)), d.shape))
    return marks


def strip_figure(rows, out_path, title: str, show_frames: bool = True, mark: bool = False):
    """``rows`` = [(label, frames, diffs, index)]; one frame row and one difference row each."""
    n_cols = max(len(r[1]) for r in rows)
    kinds = ("frames", "diff") if show_frames else ("diff",)
    n_rows = len(rows) * len(kinds)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.1 * n_cols, 1.2 * n_rows + 0.6),
                             squeeze=False)
    lim = max(np.abs(r[2]).max() for r in rows) or 1.0
    for i, (label, frames, diffs, index) in enumerate(rows):
        marks = brightest_change(diffs) if mark else [None] * len(diffs)
        for j, kind in enumerate(kinds):
            axrow = axes[i * len(kinds) + j]
            for c, ax in enumerate(axrow):
                ax.set_xticks([]), ax.set_yticks([])
                if c >= len(frames):
                    ax.axis("off")
                    continue
                if kind == "frames":
                    ax.imshow(frames[c], cmap="gray", vmin=0, vmax=1)
                else:
                    ax.imshow(diffs[c], cmap="RdBu_r", vmin=-lim, vmax=lim)
                    if marks[c] is not None:
                        ax.plot(marks[c][1], marks[c][0], "o", color="red", ms=3)
                if i == 0 and j == 0:
                    ax.set_title(f"t={int(index[c])}", fontsize=7)
            axrow[0].set_ylabel(f"{label}\n{'frames' if kind == 'frames' else 'Δ frames'}",
                                fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, out_path)


def methods_figure(paths: dict, out_path, view: str, factor: str, region: str, n_columns=10):
    """Fig 6 / 9–11: frames + differences of one factor for each method (``paths[method]``)."""
    rows = [(METHOD_LABELS.get(m, m), *read_strips(p, view)) for m, p in paths.items()]
    strip_figure(_windowed(rows, n_columns), out_path, f"{view} view, factor {factor}, region {region}")


def regions_figure(paths: dict, out_path, view: str, n_columns=10):
    """Figs 8 / 13: frame differences per (region, factor), brightest-change points marked."""
    rows = [(f"{region}\n{factor}", *read_strips(p, view)) for (region, factor), p in paths.items()]
    strip_figure(_windowed(rows, n_columns), out_path, f"generated frame differences ({view} view)",
                 show_frames=False, mark=True)


def specificity_figure(table, out_path):
    """Share, lift, amplitude and realism per target (bars: mean over videos, whiskers: std)."""
    methods = [m for m in DISPLAY_ORDER if m in set(table["method"])]
    methods += sorted(set(table["method"]) - set(methods))
    targets = sorted(set(table["target"]))
    n_behaviours = sum(c.startswith("share_") for c in table.columns)
    fig, axes = plt.subplots(len(SPECIFICITY_PANELS), 1, sharex=True,
                             figsize=(1.3 * len(targets) + 2.5, 2.1 * len(SPECIFICITY_PANELS)))
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(targets))
    for ax, (column, ylabel, ref) in zip(axes, SPECIFICITY_PANELS):
        for k, method in enumerate(methods):
            rows = table[table["method"] == method].groupby("target")
            mean = rows[column].mean().reindex(targets)
            std_col = f"{column}_std"
            err = rows[std_col].mean().reindex(targets) if std_col in table else None
            style = {"color": "0.7", "hatch": "//"} if method == "real" else {}
            ax.bar(x + k * width, mean.to_numpy(dtype=float), width,
                   yerr=None if err is None else err.to_numpy(dtype=float), capsize=1.5,
                   label=METHOD_LABELS.get(method, method), **style)
        if column == "specificity":
            ax.axhline(1 / max(n_behaviours, 1), color="gray", ls="--", lw=0.8, label="chance")
            ax.set_ylim(0, 1)
        elif ref is not None:
            ax.axhline(ref[0], color="gray", ls=":", lw=0.8)
        if column in ("lift", "realism_ratio"):
            ax.set_yscale("log")
        ax.set_ylabel(ylabel, fontsize=8)
    axes[0].legend(fontsize=6, ncol=2)
    axes[-1].set_xticks(x + width * (len(methods) - 1) / 2, targets)
    axes[-1].set_xlabel("targeted behaviour")
    fig.tight_layout()
    _save(fig, out_path)


def _save(fig, out_path):
    with atomic_output(out_path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def make_figure(kind: str, inputs: dict, out_path, settings: dict, *, config: dict, seed: int):
    """Draw one video-stage figure and write its provenance sidecar.

    kind ``methods`` (Figs 6, 9–11): inputs {method: generated file}; ``regions`` (Figs 8, 13):
    inputs {"region|factor": generated file}; ``specificity``: inputs {"table": csv}.
    """
    if kind == "methods":
        methods_figure(inputs, out_path, settings["view"], settings["factor"], settings["region"],
                       settings["n_columns"])
    elif kind == "regions":
        paths = {tuple(key.split("|")): path for key, path in inputs.items()}
        regions_figure(paths, out_path, settings["view"], settings["n_columns"])
    elif kind == "specificity":
        specificity_figure(pd.read_csv(inputs["table"]), out_path)
    else:
        raise FigureError(f"figure kind {kind!r} is unknown; use methods, regions or specificity")
    write_sidecar(out_path, config, seed, inputs={k: str(v) for k, v in inputs.items()})
