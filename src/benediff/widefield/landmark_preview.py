"""Drawing an atlas alignment: the mean frame under the atlas outlines, the brain contour and
the landmarks (:func:`draw_alignment`, used by the editor, the preview PNG and the widefield QC
figure), its title and the preview PNG (:func:`write_preview`)."""

import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.regions import outline

COLORS = {"OB_left": "#fc9d03", "OB_center": "#0367fc", "OB_right": "#fc9d03",
          "RSP_base": "#fc4103"}


def draw_alignment(ax, image, labels, brain=None, points=None, fit_points=None):
    """Mean frame (grey) under the atlas outlines (cyan), the brain contour (yellow) and the
    landmarks (session px: circles with names; ``fit_points``: where the fit puts them, x).
    Returns the artists an editor updates: ``outline`` (image) and ``points`` (name -> line)."""
    base = brain.astype(np.float32) if image is None and brain is not None else image
    if base is None:
        base = np.zeros(np.shape(labels), np.float32)
    base = np.asarray(base, np.float64)
    lo, hi = np.percentile(base, [1, 99.5]) if base.size else (0, 1)
    ax.imshow(base, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    artists = {"outline": ax.imshow(outline_rgba(labels), interpolation="nearest"), "points": {},
               "texts": {}}
    if brain is not None and np.any(brain) and not np.all(brain):
        ax.contour(np.asarray(brain, float), levels=[0.5], colors="yellow", linewidths=1)
    for name, (x, y) in (points or {}).items():
        (line,) = ax.plot([x], [y], "o", ms=8, mfc="none", mew=2, color=COLORS.get(name, "w"))
        artists["points"][name] = line
        artists["texts"][name] = ax.annotate(name, (x, y), xytext=(6, 6),
                                             textcoords="offset points", color="white",
                                             fontsize=7)
    for name, (x, y) in (fit_points or {}).items():
        ax.plot([x], [y], "x", ms=6, color=COLORS.get(name, "w"))
    ax.set_xlim(-0.5, base.shape[1] - 0.5)
    ax.set_ylim(base.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    return artists


def outline_rgba(labels):
    edge = outline(np.asarray(labels)) & (np.asarray(labels) != 0)
    rgba = np.zeros((*edge.shape, 4), np.float32)
    rgba[edge] = (0.0, 1.0, 1.0, 0.9)
    return rgba


def alignment_title(overlap, min_overlap=None) -> str:
    verdict = ""
    if min_overlap is not None:
        verdict = " OK" if overlap.overlap >= min_overlap else f" < min_overlap {min_overlap:.2f}"
    return (f"overlap {overlap.overlap:.2f}{verdict}  (atlas in brain {overlap.atlas_in_brain:.2f}, "
            f"brain covered {overlap.brain_covered:.2f})")


def write_preview(path, image, labels, brain, points, overlap, title="", min_overlap=None):
    """PNG of :func:`draw_alignment` (drawn with the Agg canvas, whatever the backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, w = np.shape(labels)
    fig = Figure(figsize=(8, 8 * h / w + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 * (8 * h / w) / (8 * h / w + 0.8)))
    draw_alignment(ax, image, labels, brain, points)
    fig.suptitle(f"{title}\n{alignment_title(overlap, min_overlap)}", fontsize=9)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
