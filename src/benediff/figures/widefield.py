"""QC figure of the widefield stage (one multi-page PDF per session)."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from benediff.io.atlas import consolidate, make_grouping, outline, region_key  # noqa: E402
from benediff.io.atomic import atomic_output  # noqa: E402

MAX_PANELS = 48


def code_label(atlas, code) -> str:
    return f"{atlas.name(code)}_{'L' if code > 0 else 'R'}"


def run_qc(locanmf_path, atlas_h5, motion_h5, hemo_h5, out, session, cfg, config=None):
    """Rule widefield_qc: the QC PDF of one session plus its provenance sidecar."""
    from benediff.provenance import write_sidecar
    from benediff.widefield.locanmf import LocaNMF
    from benediff.widefield.pipeline import (read_atlas_checks, read_atlas_h5, read_frame_quality,
                                             read_hemo, read_motion)

    model = LocaNMF.load(locanmf_path)
    shifts, _ = read_motion(motion_h5)
    r_map = read_hemo(hemo_h5)["r"]
    checks = read_atlas_checks(atlas_h5)
    bad, _ = read_frame_quality(motion_h5)
    checks["bad_frames"] = [] if bad is None else np.flatnonzero(bad.any(0)).tolist()
    qc_figure(out, model, read_atlas_h5(atlas_h5), session, shifts=shifts, r_map=r_map,
              grouping=make_grouping(cfg["grouping"]), checks=checks)
    write_sidecar(out, config, (config or {}).get("seed"), session=session)


def qc_figure(path, model, atlas, session, shifts=None, r_map=None, grouping=consolidate,
              checks=None):
    """Write the QC PDF: the alignment (mean frame under the atlas, brain mask, landmarks,
    overlap), component maps on the atlas outline, R² per region, flags, motion/hemo."""
    checks = checks or {}
    with atomic_output(path) as tmp, PdfPages(tmp) as pdf:
        pdf.savefig(_alignment_page(atlas, session, checks))
        pdf.savefig(_component_page(model, atlas, session))
        pdf.savefig(_fit_page(model, atlas, session, grouping, checks))
        if shifts is not None or r_map is not None:
            pdf.savefig(_preprocessing_page(shifts, r_map, atlas, session))
        plt.close("all")


def _alignment_page(atlas, session, checks):
    """The mean blue frame under the aligned atlas outlines, the recording's brain-mask contour
    and the landmarks (o: the file's points, x: where the fitted transform puts them)."""
    from benediff.widefield.landmarks import draw_alignment

    labels = checks.get("labels_aligned")
    labels = atlas.labels if labels is None else labels
    h, w = labels.shape
    fig = plt.figure(figsize=(8.27, 8.27 * h / w + 1.6))
    ax = fig.add_axes((0.02, 0.12, 0.96, 0.74))
    lm = checks.get("landmarks") or {}
    points = {n: (x, y) for n, x, y in zip(lm.get("name", []), lm.get("x", []), lm.get("y", []))}
    fits = {n: (x, y) for n, x, y in zip(lm.get("name", []), lm.get("x_fit", []),
                                           lm.get("y_fit", []))}
    draw_alignment(ax, checks.get("mean_frame"), labels, checks.get("brain_mask"), points, fits)
    if checks.get("overlap") is not None:
        ok = checks["overlap"] >= (checks.get("min_overlap") or 0)
        title = (f"overlap {checks['overlap']:.2f} ({'passes' if ok else 'below'} min_overlap "
                 f"{checks.get('min_overlap') or 0:.2f}): atlas inside brain "
                 f"{checks['atlas_in_brain']:.2f}, brain covered {checks['brain_covered']:.2f}")
        if not checks.get("brain_found", True):
            title += "\nno dark surround found: brain mask = whole frame"
    else:
        title = "overlap not measured (atlas.h5 from an older version: rerun widefield_atlas)"
    ax.set_title(title, fontsize=8)
    residuals = checks.get("residuals")
    lines = []
    if residuals is not None and len(residuals) and points:
        lines.append("landmark-fit residuals (px): " + ", ".join(
            f"{n} {r:.1f}" for n, r in zip(points, residuals)))
    dropped = checks.get("dropped_outside") or []
    fractions = checks.get("inside_fraction") or {}
    lines.append(f"regions dropped, mostly outside the imaged brain ({len(dropped)}): " + (
        ", ".join(f"{code_label(atlas, c)} ({fractions.get(c, float('nan')):.0%} inside)"
                  for c in dropped) or "none"))
    fig.text(0.02, 0.02, "\n".join(lines), fontsize=7, family="monospace", va="bottom", wrap=True)
    fig.suptitle(f"{session}: atlas alignment — mean blue frame, atlas outlines (cyan), brain "
                 "mask of the recording (yellow), landmarks", fontsize=9)
    return fig


def _component_page(model, atlas, session):
    spatial = np.asarray(model.spatial_)
    n = len(spatial)
    show = min(n, MAX_PANELS)
    cols = max(4, math.ceil(math.sqrt(show + 1)))
    rows = math.ceil((show + 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.0 * rows + 0.6), squeeze=False)
    edge = np.ma.masked_where(~outline(atlas.labels), np.ones(atlas.shape))
    overview = np.where(np.all(np.isnan(spatial), 0), np.nan,
                        np.nanargmax(np.nan_to_num(spatial, nan=-1), 0)) if n else None
    ax = axes.flat[0]
    if overview is not None:
        ax.imshow(overview, cmap="tab20", interpolation="nearest")
    ax.imshow(edge, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{n} components\n(argmax)", fontsize=7)
    localized = np.asarray(getattr(model, "localized_", np.ones(n, bool)), bool)
    frac = np.asarray(getattr(model, "in_region_fraction_", np.full(n, np.nan)))
    for i in range(show):
        ax = axes.flat[i + 1]
        ax.imshow(spatial[i], cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        ax.imshow(edge, cmap="gray", vmin=0, vmax=1, alpha=0.6, interpolation="nearest")
        flag = "" if localized[i] else " UNLOCALISED"
        ax.set_title(f"#{i} {code_label(atlas, model.regions_[i])}\nin-region {frac[i]:.2f}{flag}",
                     fontsize=6, color="black" if localized[i] else "red")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[show + 1:]:
        ax.axis("off")
    more = f" (first {show} of {n})" if n > show else ""
    fig.suptitle(f"{session}: LocaNMF spatial components{more}", fontsize=9)
    fig.tight_layout()
    return fig


def _fit_page(model, atlas, session, grouping, checks=None):
    fig, (ax_r2, ax_loc) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [2, 1]})
    r2 = dict(sorted(getattr(model, "r2_region_", {}).items()))
    names = [code_label(atlas, c) for c in r2]
    ax_r2.bar(range(len(r2)), list(r2.values()), color="tab:blue")
    ax_r2.set_xticks(range(len(r2)), names, rotation=90, fontsize=6)
    if hasattr(model, "r2_"):
        ax_r2.axhline(float(model.r2_), color="k", ls="--", lw=1,
                      label=f"overall centred R² = {float(model.r2_):.4f}")
        ax_r2.legend(fontsize=7, loc="lower right")
    ax_r2.set_ylabel("centred R² per region")
    ax_r2.set_ylim(min([0.0, *r2.values()]), 1.0)
    frac = np.asarray(getattr(model, "in_region_fraction_", []))
    localized = np.asarray(getattr(model, "localized_", np.ones(len(frac), bool)), bool)
    lambdas = np.asarray(getattr(model, "lambdas_", np.full(len(frac), np.nan)))
    ax_loc.scatter(np.log10(np.maximum(lambdas, 1e-30)), frac, c=np.where(localized, "tab:green", "red"), s=12)
    loc_thresh = getattr(model, "loc_thresh", None)
    if loc_thresh is not None:
        ax_loc.axhline(loc_thresh / 100, color="k", ls=":", lw=1)
    ax_loc.set_xlabel("log10 final λ")
    ax_loc.set_ylabel("in-region energy fraction")
    flags = _flag_text(model, atlas, grouping, localized, (checks or {}).get("dropped_outside"),
                       (checks or {}).get("bad_frames"))
    fig.text(0.01, 0.01, flags, fontsize=7, va="bottom", family="monospace", wrap=True)
    fig.suptitle(f"{session}: fit quality and localisation", fontsize=9)
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    return fig


def _flag_text(model, atlas, grouping, localized, dropped_outside=None, bad_frames=None):
    bad = [f"#{i} {code_label(atlas, model.regions_[i])}" for i in np.flatnonzero(~localized)]
    dropped = [code_label(atlas, c) for c in getattr(model, "dropped_regions_", [])]
    outside = [code_label(atlas, c) for c in (dropped_outside or [])]
    groups = sorted({region_key(g, int(c)) for c in model.regions_
                     if (g := grouping(atlas.name(c))) is not None})
    return (f"unlocalised components ({len(bad)}): {', '.join(bad) or 'none'}\n"
            f"dropped regions (too few pixels) ({len(dropped)}): {', '.join(dropped) or 'none'}\n"
            f"dropped regions (mostly outside the imaged brain) ({len(outside)}): "
            f"{', '.join(outside) or 'none'}\n"
            f"interpolated frames (blank, saturated or jumps) ({len(bad_frames or [])}): "
            f"{_frames_text(bad_frames or [])}\n"
            f"consolidated regions: {', '.join(groups)}")


def _frames_text(frames, limit=20) -> str:
    shown = ", ".join(str(t) for t in frames[:limit])
    return (shown + (f" ... (+{len(frames) - limit})" if len(frames) > limit else "")) or "none"


def _preprocessing_page(shifts, r_map, atlas, session):
    fig, (ax_s, ax_r) = plt.subplots(1, 2, figsize=(11, 4))
    if shifts is not None:
        for c, name in enumerate(["blue", "violet"][:len(shifts)]):
            ax_s.plot(shifts[c, :, 0], lw=0.5, label=f"{name} dy")
            ax_s.plot(shifts[c, :, 1], lw=0.5, label=f"{name} dx")
        ax_s.legend(fontsize=7)
    ax_s.set_xlabel("frame (per channel)")
    ax_s.set_ylabel("displacement (px)")
    ax_s.set_title("motion correction", fontsize=8)
    if r_map is not None:
        im = ax_r.imshow(np.where(atlas.labels != 0, r_map, np.nan), cmap="viridis")
        fig.colorbar(im, ax=ax_r, fraction=0.046)
        ax_r.set_title("haemodynamic regression coefficient r", fontsize=8)
    ax_r.set_xticks([])
    ax_r.set_yticks([])
    fig.suptitle(f"{session}: preprocessing", fontsize=9)
    fig.tight_layout()
    return fig
