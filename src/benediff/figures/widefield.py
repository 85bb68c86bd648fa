"""QC figure of the widefield stage (one multi-page PDF per session)."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from benediff.io.atlas import consolidate, make_grouping, outline, region_key  # noqa: E402
from benediff.io.atomic import atomic_output  # noqa: E402
from benediff.widefield.denoise import noisy_kept  # noqa: E402

MAX_PANELS = 48


def code_label(atlas, code) -> str:
    return f"{atlas.name(code)}_{'L' if code > 0 else 'R'}"


def run_qc(locanmf_path, atlas_h5, motion_h5, hemo_h5, out, session, cfg, config=None,
           labels_h5=None, trials_csv=None):
    """Rule widefield_qc: the QC PDF of one session plus its provenance sidecar.

    ``labels_h5`` (the behaviour stage's labels, optional) and ``trials_csv`` feed the motion
    page's correlation of the shifts with each behaviour label.
    """
    from benediff.provenance import write_sidecar
    from benediff.widefield.locanmf import LocaNMF
    from benediff.widefield.pipeline import (read_atlas_checks, read_atlas_h5, read_frame_quality,
                                             read_hemo, read_motion)

    model = LocaNMF.load(locanmf_path)
    shifts, _ = read_motion(motion_h5)
    hemo = read_hemo(hemo_h5)
    checks = read_atlas_checks(atlas_h5)
    bad, _ = read_frame_quality(motion_h5)
    checks["bad_frames"] = [] if bad is None else np.flatnonzero(bad.any(0)).tolist()
    atlas = read_atlas_h5(atlas_h5)
    grouping = make_grouping(cfg["grouping"])
    motion = None
    if shifts is not None and np.any(shifts):
        motion = motion_summary(shifts, model, atlas, hemo, grouping,
                                *_labels_by_trial(labels_h5, trials_csv))
    qc_figure(out, model, atlas, session, shifts=shifts, r_map=hemo["r"], grouping=grouping,
              checks=checks, motion=motion, frame_rate=cfg["frame_rate"],
              flag_r=cfg["motion"]["flag_r"])
    write_sidecar(out, config, (config or {}).get("seed"), session=session)


def _labels_by_trial(labels_h5, trials_csv):
    """(per-trial label arrays, their start frames, label names) or (None, None, None)."""
    if not labels_h5 or not trials_csv:
        return None, None, None
    from benediff.io import dataset as dataset_io
    from benediff.io.trials import read_trials

    ds = dataset_io.read(labels_h5, groups=("labels",))
    starts = read_trials(trials_csv).set_index("trial_id")["start_frame"]
    return list(ds.labels), starts.loc[ds.trial_ids].to_numpy(), list(ds.label_names)


def motion_summary(shifts, model, atlas, hemo, grouping=consolidate, labels=None, starts=None,
                   label_names=None) -> dict:
    """What the motion page shows (docs/WIDEFIELD.md §2.3): the shifts, |r| of the blue
    regressors with each behaviour label (None without labels), and per region the largest
    |r| of its components with the motion regressors now and before they were regressed out."""
    from benediff.widefield.motion import (component_motion, label_correlation,
                                           motion_regressors, region_motion)
    from benediff.widefield.pipeline import component_regions

    out = {"shifts": shifts, "label_r": None, "label_names": label_names, "regressors": None}
    if labels is not None:
        out["label_r"], out["regressors"] = label_correlation(shifts, labels, starts)
    regions = component_regions(model.regions_, atlas, grouping)
    reg = hemo.get("motion")
    if reg is not None:
        X = reg["regressors"]
        removed = component_motion(model.spatial_, hemo["U"], reg["coef"], X)
    else:
        X, _ = motion_regressors(shifts[:, :np.shape(model.temporal_)[1]])
        removed = None
    out["regions"] = region_motion(model.temporal_, regions, X, removed)
    return out


def qc_figure(path, model, atlas, session, shifts=None, r_map=None, grouping=consolidate,
              checks=None, motion=None, frame_rate=30.0, flag_r=0.2):
    """Write the QC PDF: the alignment (mean frame under the atlas, brain mask, landmarks,
    overlap), component maps on the atlas outline, R² per region, flags, motion/hemo, and the
    motion page (``motion`` from :func:`motion_summary`)."""
    checks = checks or {}
    with atomic_output(path) as tmp, PdfPages(tmp) as pdf:
        pdf.savefig(_alignment_page(atlas, session, checks))
        pdf.savefig(_component_page(model, atlas, session))
        pdf.savefig(_fit_page(model, atlas, session, grouping, checks))
        if shifts is not None or r_map is not None:
            pdf.savefig(_preprocessing_page(shifts, r_map, atlas, session))
        if motion is not None:
            pdf.savefig(_motion_page(motion, session, frame_rate, flag_r))
        plt.close("all")


def motion_flags(motion, flag_r) -> list[str]:
    """The motion page's flags: shifts locked to a behaviour label, regions whose components
    follow the motion (now, or before the regressors were taken out)."""
    flags = []
    if motion.get("label_r") is not None:
        for i, j in zip(*np.nonzero(motion["label_r"] > flag_r)):
            flags.append(f"motion locked to behaviour: {motion['regressors'][i]} vs "
                         f"{motion['label_names'][j]} |r| = {motion['label_r'][i, j]:.2f}")
    regions = motion.get("regions", {})
    for region, entry in regions.items():
        if entry["max_r"] > flag_r:
            flags.append(f"{region} components follow the motion: max |r| {entry['max_r']:.2f}")
    shares = {r: e["share_before"] for r, e in regions.items() if "share_before" in e}
    if shares:
        top = max(shares, key=shares.get)
        flags.append(f"(the motion regressors took out {100 * min(shares.values()):.1f}–"
                     f"{100 * shares[top]:.1f} % of the regions' component variance, most in "
                     f"{top}; components before them followed the motion up to max |r| "
                     f"{max(e.get('max_r_before', 0) for e in regions.values()):.2f})")
    return flags


def _motion_page(motion, session, frame_rate, flag_r):
    from scipy.signal import welch

    shifts = motion["shifts"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.27))
    ax = axes[0, 0]
    t = np.arange(shifts.shape[1]) / frame_rate
    for c, name in enumerate(["blue", "violet"][:len(shifts)]):
        ax.plot(t, shifts[c, :, 0], lw=0.4, label=f"{name} dy")
        ax.plot(t, shifts[c, :, 1], lw=0.4, label=f"{name} dx")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("displacement (px)")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("shift traces", fontsize=8)
    ax = axes[0, 1]
    for k, name in enumerate(("dy", "dx")):
        x = shifts[0, :, k]
        f, pxx = welch(x - x.mean(), fs=frame_rate, nperseg=min(256, len(x)))
        ax.semilogy(f, np.maximum(pxx, 1e-12), lw=0.8, label=f"blue {name}")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("power (px²/Hz)")
    ax.legend(fontsize=7)
    ax.set_title("shift spectrum (peaks at licking ~7 Hz or breathing ~3 Hz: behaviour-locked)",
                 fontsize=8)
    ax = axes[1, 0]
    if motion.get("label_r") is not None:
        r = motion["label_r"]
        ax.imshow(r, cmap="magma", vmin=0, vmax=max(0.5, float(r.max())), aspect="auto")
        ax.set_yticks(range(len(r)), motion["regressors"], fontsize=6)
        ax.set_xticks(range(r.shape[1]), motion["label_names"], rotation=45, fontsize=6)
        for i, j in np.ndindex(r.shape):
            ax.text(j, i, f"{r[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="red" if r[i, j] > flag_r else "white")
        ax.set_title(f"|r| of the blue shifts with each behaviour label (red > {flag_r})",
                     fontsize=8)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "no behaviour labels for this session\n(dataset.labels is not pose)",
                ha="center", va="center", fontsize=8)
    ax = axes[1, 1]
    regions = motion.get("regions", {})
    names = list(regions)
    x = np.arange(len(names))
    if any("max_r_before" in e for e in regions.values()):
        ax.bar(x - 0.2, [regions[n].get("max_r_before", np.nan) for n in names], 0.4,
               color="tab:gray", label="before the regressors")
    ax.bar(x + 0.2, [regions[n]["max_r"] for n in names], 0.4, color="tab:blue",
           label="components used")
    ax.axhline(flag_r, color="red", ls=":", lw=1)
    ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.set_ylabel("max |r|, component vs motion regressor")
    ax.legend(fontsize=7)
    ax.set_title("each region's components vs the motion regressors", fontsize=8)
    flags = motion_flags(motion, flag_r)
    shown = flags[:8] + ([f"... (+{len(flags) - 8})"] if len(flags) > 8 else [])
    fig.text(0.01, 0.01, "flags:\n" + ("\n".join(shown) or "none"), fontsize=7,
             family="monospace", va="bottom", wrap=True)
    fig.suptitle(f"{session}: motion", fontsize=9)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


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
            f"{_whiteness_text(model, atlas)}"
            f"consolidated regions: {', '.join(groups)}")


def _whiteness_text(model, atlas) -> str:
    """The whiteness test's line (widefield.whiteness): dropped / fitted components and the
    regions that kept noise-dominated ones to reach min_components; '' when it did not run."""
    w = getattr(model, "whiteness_", None)
    if not w:
        return ""
    lag1, kept = np.asarray(w["lag1"]), np.asarray(w["kept"], bool)
    forced = noisy_kept(lag1[kept], model.regions_, w["min_lag1"])
    noisy = ", ".join(f"{code_label(atlas, c)} {len(v)}" for c, v in forced.items()) or "none"
    return (f"whiteness test: dropped {int((~kept).sum())} of {len(kept)} components with lag-1 < "
            f"{w['min_lag1']:g}; kept below it for min_components = {w['min_components']}: {noisy}\n")


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
