"""One function per widefield rule: read inputs, run one step, write the output.

``cfg`` is the validated ``config["widefield"]`` section (defaults filled in). Each
intermediate file under ``results/{session}/widefield/`` has its reader and writer in
``benediff.io``: ``motion.h5`` (:mod:`benediff.io.motion`), ``atlas.h5``
(:mod:`benediff.io.session_atlas`), ``svd.h5`` (:mod:`benediff.io.svd`), ``hemo.h5``
(:mod:`benediff.io.hemo`), ``locanmf.h5`` (:meth:`benediff.widefield.locanmf.LocaNMF.save`) and
``neural.h5`` (:mod:`benediff.io.dataset`). Their readers are importable from here too.
"""

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io import atlas as atl
from benediff.io import trials as trials_io
from benediff.io.dataset import Dataset, write
from benediff.io.hemo import read_hemo, write_hemo
from benediff.io.motion import read_frame_quality, read_motion, write_motion, write_skipped
from benediff.io.regions import code_regions, consolidate, make_grouping, merge_regions
from benediff.io.session_atlas import (read_atlas_checks, read_atlas_h5, read_brain_mask,
                                       write_atlas_h5)
from benediff.io.svd import read_svd, write_svd
from benediff.widefield import registration as reg
from benediff.widefield.masks import check_overlap, drop_small_regions, recording_brain_mask
from benediff.widefield.readers import (ReaderError, SVD_FORMATS, channel_order, check_channels,
                                        movie_format, open_movie)
from benediff.widefield.svd_inputs import read_svd_input

log = logging.getLogger(__name__)


class WidefieldError(ValueError):
    """A widefield step got unusable input; the message names file/key and the fix."""


# ---------------------------------------------------------------- trials

def read_trials(path, n_frames_total=None) -> pd.DataFrame:
    """trials.csv (see :mod:`benediff.io.trials`), its problems raised as WidefieldError."""
    try:
        return trials_io.read_trials(path, n_frames_total)
    except trials_io.TrialTableError as err:
        raise WidefieldError(str(err)) from None


# ---------------------------------------------------------------- motion

def run_motion(movie, out, cfg, session_format="auto"):
    """Reference frames and per-frame shifts (zeros when motion correction is off)."""
    from benediff.widefield.stream import estimate_motion

    fmt = movie_format(movie, cfg, session_format)
    if fmt in SVD_FORMATS:
        write_skipped(out, f"input format {fmt} is already compressed")
        return
    reader = open_movie(movie, fmt)
    n_ch = cfg["channels"]
    n_t = check_channels(reader, n_ch)
    order = channel_order(reader, n_ch, cfg["channel_order"])
    quality = check_frames(movie, reader, n_ch, order, cfg)
    if cfg["motion"]["enabled"]:
        mcfg = cfg["motion"]
        refs, shifts = estimate_motion(reader, n_ch, order, mcfg["nref"], cfg["chunk_frames"],
                                       bad=quality.bad, fill=quality.fill,
                                       upsample_factor=mcfg["upsample_factor"],
                                       smooth_sigma=mcfg["smooth_sigma"])
    else:
        refs = np.zeros((n_ch, *reader.frame_shape), np.float32)
        shifts = np.zeros((n_ch, n_t, 2))
    write_motion(out, shifts, refs, quality.bad, quality.fill, quality.reasons, order,
                 reader.frame_shape)


def check_frames(movie, reader, n_ch, order, cfg):
    """Blank, constant, saturated frames and jumps: warn and mark them for interpolation, or
    stop above ``widefield.bad_frames.max_fraction`` of the recording."""
    from benediff.widefield.motion import reference_window
    from benediff.widefield.quality import assess

    n_t = check_channels(reader, n_ch)
    limits = cfg["bad_frames"]
    quality = assess(reader, n_ch, order, limits, cfg["chunk_frames"],
                     reference_window(n_t, cfg["motion"]["nref"]))
    cycles = np.flatnonzero(quality.bad_cycles)
    if len(cycles) == 0:
        return quality
    kinds = ", ".join(f"{n} {k}" for k, n in quality.reasons.items() if n)
    where = ", ".join(str(t) for t in cycles[:10]) + (" ..." if len(cycles) > 10 else "")
    fraction = len(cycles) / n_t
    if fraction > limits["max_fraction"]:
        raise WidefieldError(
            f"{movie}: {len(cycles)} of {n_t} frames ({100 * fraction:.1f} %) are unusable "
            f"({kinds}; frames {where}), more than widefield.bad_frames.max_fraction = "
            f"{limits['max_fraction']}; check the recording, cut the bad stretch out of "
            "trials.csv, or raise the fraction to interpolate over them")
    warnings.warn(f"{movie}: {len(cycles)} unusable frames ({kinds}; frames {where}) are "
                  "interpolated from their neighbours (listed in qc.pdf)")
    return quality


# ---------------------------------------------------------------- atlas

def frame_shape(movie, cfg, session_format="auto"):
    fmt = movie_format(movie, cfg, session_format)
    if fmt in SVD_FORMATS:
        return read_svd_input(movie, fmt).U.shape[:2]
    return open_movie(movie, fmt).frame_shape


def run_atlas(atlas_path, landmarks, movie, out, cfg, session_format="auto", motion_h5=None):
    """Warp the atlas with the landmarks, check it against the recording's brain, drop regions.

    Stops with one :class:`~benediff.io.atlas.AtlasError` naming the landmarks file when the
    warped atlas and the brain mask of the recording overlap less than
    ``widefield.atlas.min_overlap`` (see :class:`benediff.widefield.registration.Overlap`).
    Regions with less than ``widefield.atlas.min_inside`` of their area inside the brain are
    dropped (warned, listed in the QC). Writes labels, the brain mask, the mean frame, the transform, landmark
    residuals and the overlap to atlas.h5.
    """
    acfg = cfg["atlas"]
    shape = frame_shape(movie, cfg, session_format)
    atlas = atl.load_atlas(atlas_path)
    kind = None if acfg["transform"] == "file" else acfg["transform"]
    tform = atl.fit_transform(landmarks, kind)
    residuals = reg.landmark_residuals(landmarks, tform)
    points = _landmark_points(landmarks, tform)
    log.info("%s: %s transform, landmark residuals %s px", landmarks, kind or "file",
             ", ".join(f"{n} {r:.2f}" for n, r in zip(points["name"], residuals)))
    aligned_full = reg.warp_atlas(atlas, tform, shape)
    image, brain, found = recording_brain_mask(movie, cfg, session_format, motion_h5)
    if brain.shape != tuple(shape):
        raise WidefieldError(f"{movie}: brain mask {brain.shape} differs from the frame {shape}")
    overlap = reg.alignment_overlap(atlas, aligned_full.labels, tform, brain, found)
    if overlap.overlap < acfg["min_overlap"] or not np.any(aligned_full.labels):
        raise atl.AtlasError(
            f"{landmarks}: the atlas {Path(atlas_path).name} warped with these landmarks does "
            f"not overlap the imaged brain of {Path(movie).name}: {overlap.describe()} < "
            f"widefield.atlas.min_overlap = {acfg['min_overlap']:.2f}. The landmarks "
            f"(landmarks_match, session px) are misplaced (landmark-fit residuals up to "
            f"{residuals.max():.1f} px). " + LANDMARKS_FIX.format(movie=movie, atlas=atlas_path,
                                                                   landmarks=landmarks))
    if not found:
        warnings.warn(f"{movie}: no dark surround around the brain in the mean frame; the brain "
                      "mask is the whole frame, so the landmark check only tests that the atlas "
                      "lies inside the frame", stacklevel=2)
    log.info("%s: %s", landmarks, overlap.describe())
    if residuals.max() > 0.05 * max(shape):
        warnings.warn(f"{landmarks}: landmark-fit residuals up to {residuals.max():.1f} px "
                      f"(> 5 % of the frame); a landmark is probably misplaced", stacklevel=2)
    used = atlas
    if cfg["merge_regions"]:
        used = merge_regions(atlas, make_grouping(cfg["grouping"]))
    aligned = reg.warp_atlas(used, tform, shape) if used is not atlas else aligned_full
    fractions = reg.region_inside_fractions(used, aligned, tform, brain)
    kept, dropped = reg.drop_regions_outside(aligned, fractions, acfg["min_inside"],
                                             source=str(landmarks))
    write_atlas_h5(out, kept, tform.params, residuals, extras=dict(
        labels_aligned=aligned.labels, brain_mask=brain, mean_frame=image, overlap=overlap,
        dropped_outside=dropped, inside_fraction=fractions, landmarks=points,
        min_overlap=acfg["min_overlap"]))


LANDMARKS_FIX = ("Fix: run `benediff landmarks {movie} --atlas {atlas} --start {landmarks} -o "
                 "{landmarks}` and drag OB_left/OB_center/OB_right/RSP_base onto the mean frame "
                 "(without a display it writes a starting guess + preview PNG; the "
                 "widefield_landmarks rule does the same under results/<session>/widefield/); "
                 "or lower widefield.atlas.min_overlap if the cranial window really shows less "
                 "of the brain than the atlas")


def _landmark_points(landmarks, tform) -> dict:
    """{name, x, y (session px, the file's), x_fit, y_fit (atlas point through the fit)}."""
    data = atl.read_landmarks(landmarks)
    src = atl.landmark_points(data["landmarks_im"], "landmarks_im", str(landmarks))
    dst = atl.landmark_points(data["landmarks_match"], "landmarks_match", str(landmarks))
    names = sorted(src)
    fit = tform(np.array([src[n] for n in names]))
    return {"name": names, "x": [dst[n][0] for n in names], "y": [dst[n][1] for n in names],
            "x_fit": fit[:, 0].tolist(), "y_fit": fit[:, 1].tolist()}


# ---------------------------------------------------------------- SVD

def svd_mask(cfg, atlas_h5, shape):
    """Pixels entering the SVD: ``brain`` (recording's brain mask, stored in atlas.h5),
    ``atlas`` (inside the aligned atlas) or ``none`` (every pixel)."""
    mode = cfg["svd"]["mask"]
    if mode == "none":
        return np.ones(shape, bool)
    mask = read_brain_mask(atlas_h5) if mode == "brain" else None
    if mask is None:
        if mode == "brain":
            warnings.warn(f"{atlas_h5} has no brain_mask (written by an older version); "
                          "using the atlas as the SVD mask. Rerun widefield_atlas for the "
                          "recording's brain mask", stacklevel=2)
        mask = read_atlas_h5(atlas_h5).labels != 0
    if mask.shape != tuple(shape):
        raise WidefieldError(f"{atlas_h5}: mask shape {mask.shape} != movie frame {shape}")
    return mask


def run_svd(movie, motion_h5, atlas_h5, trials_csv, out, cfg, device="cpu",
            session_format="auto"):
    """ΔF/F + approximate SVD of the (motion-corrected) movie; or load a compressed input."""
    from benediff.widefield.svd import compress

    fmt = movie_format(movie, cfg, session_format)
    if fmt in SVD_FORMATS:
        data = read_svd_input(movie, fmt)
        write_svd(out, np.nan_to_num(data.U), data.V, None, data.mask, None, n_channels=1)
        return
    reader = open_movie(movie, fmt)
    shifts, order = read_motion(motion_h5)
    bad, fill = read_frame_quality(motion_h5)
    trials = read_trials(trials_csv, check_channels(reader, cfg["channels"]))
    res = compress(reader, cfg["channels"], order, svd_mask(cfg, atlas_h5, reader.frame_shape),
                   k=cfg["svd"]["rank"], shifts=shifts, baseline=cfg["baseline"]["mode"],
                   baseline_frames=cfg["baseline"]["frames"],
                   trial_starts=trials["start_frame"].to_numpy(),
                   bin_size=cfg["svd"]["bin_size"], max_bins=cfg["svd"]["max_bins"],
                   chunk=cfg["chunk_frames"], device=device, bad=bad, fill=fill)
    write_svd(out, res.U, res.SVT, res.F0, res.mask, res.eigenvalues, cfg["channels"],
              blue_first=order[0] == 0)


# ---------------------------------------------------------------- haemodynamics

def run_hemo(svd_h5, out, cfg, device="cpu", motion_h5=None):
    """Haemodynamic correction of a 2-channel SVD (a 1-channel SVD passes through unchanged),
    then the motion regressors of ``motion_h5`` regressed out (``widefield.motion.regress``)."""
    from benediff.widefield.hemo import hemo_correct, interpolate_violet

    svd = read_svd(svd_h5)
    U, SVT, mask = svd["U"], svd["SVT"], svd["mask"]
    n_ch, blue_first = svd["n_channels"], svd["blue_first"]
    hemo = cfg["hemo"]
    r = T = None
    if n_ch == 1 or not hemo["enabled"]:
        V = SVT[:, ::n_ch]
    else:
        violet = SVT[:, 1::n_ch]
        if hemo["interpolate_violet"]:
            violet = interpolate_violet(violet, blue_first)
        res = hemo_correct(U, SVT[:, 0::n_ch], violet, fs=cfg["frame_rate"],
                           highpass=hemo["highpass_hz"], lowpass=hemo["lowpass_hz"],
                           order=hemo["order"], padlen=hemo["padlen"], device=device)
        V, r, T = res.SVT, res.r.reshape(U.shape[:2]), res.T
    motion = remove_motion(V, motion_h5, cfg, filtered=n_ch > 1 and hemo["enabled"])
    if motion is not None:
        V = motion.pop("V")
    write_hemo(out, U, V, mask, r, T, motion)


def remove_motion(V, motion_h5, cfg, filtered=True):
    """{V, regressors (m, T), coef (k, m), names} after regressing the motion regressors out
    of V (k, T), or None (regression off, no motion file, or no motion).

    The regressors are every channel's shifts and their derivatives
    (:func:`benediff.widefield.motion.motion_regressors`), high-passed like the temporal
    components when the haemodynamic step filtered them (``filtered``).
    """
    from benediff.widefield.motion import highpass, motion_regressors, regress_out

    if motion_h5 is None:
        return None
    mcfg = cfg["motion"]
    if not mcfg["regress"]:
        return None
    shifts, _ = read_motion(motion_h5)
    if shifts is None or not np.any(shifts):
        return None
    if shifts.shape[1] != V.shape[1]:
        raise WidefieldError(f"{motion_h5}: {shifts.shape[1]} frames of shifts but the temporal "
                             f"components have {V.shape[1]}; rerun widefield_motion")
    X, names = motion_regressors(shifts, mcfg["regress_squares"])
    hemo = cfg["hemo"]
    if filtered and hemo["highpass_hz"] and hemo["highpass_hz"] > 0:
        X = highpass(X, cfg["frame_rate"], hemo["highpass_hz"], hemo["order"], hemo["padlen"])
        X -= X.mean(1, keepdims=True)
    clean, coef = regress_out(V, X)
    removed = 1 - np.var(clean, axis=1).sum() / max(np.var(V, axis=1).sum(), 1e-30)
    log.info("motion regressors (%d) removed %.2f %% of the temporal components' variance",
             len(X), 100 * removed)
    return {"V": clean, "regressors": X, "coef": coef, "names": names}


# ---------------------------------------------------------------- LocaNMF

def locanmf_params(cfg, device="cpu", seed=0) -> dict:
    params = dict(cfg["locanmf"])
    params.update(min_pixels=cfg["min_pixels"], device=device, seed=seed)
    return params


def prepare_locanmf_input(hemo_h5, atlas_h5, cfg, source="atlas"):
    """U (H, W, K) NaN outside the final mask, V (K, T), atlas labels with small regions dropped."""
    hemo = read_hemo(hemo_h5)
    U, V, mask = hemo["U"], hemo["V"], hemo["mask"]
    atlas = read_atlas_h5(atlas_h5)
    # the alignment itself was gated in the atlas step (widefield.atlas.min_overlap against the
    # recording's brain); here the SVD mask (brain, atlas or the whole frame) only needs atlas
    final = check_overlap(atlas, mask, 0.0, source=source)
    atlas = atl.Atlas(np.where(final, atlas.labels, 0), atlas.names)
    atlas, dropped = drop_small_regions(atlas, final, cfg["min_pixels"], source=source)
    U = np.where(final[..., None], U, np.nan).astype(np.float32)
    return U, V, atlas, final, dropped


def run_locanmf(hemo_h5, atlas_h5, out, cfg, device="cpu", seed=0):
    from benediff.widefield.locanmf import LocaNMF

    U, V, atlas, mask, dropped = prepare_locanmf_input(hemo_h5, atlas_h5, cfg, str(atlas_h5))
    model = LocaNMF(**locanmf_params(cfg, device, seed)).fit(U, V, atlas.labels, mask=mask)
    whiteness = cfg["whiteness"]  # the rule's config slice must carry it (rule_config.py)
    if whiteness["enabled"]:
        from benediff.widefield.denoise import drop_white_components

        drop_white_components(model, U, V, atlas.labels, whiteness["min_lag1"],
                              whiteness["min_components"], names=_region_names(atlas))
    earlier = [int(c) for c in getattr(model, "dropped_regions_", [])]
    model.dropped_regions_ = np.array(sorted(set(earlier) | set(dropped)), np.int64)
    model.save(out)  # atomic itself


def _region_names(atlas: atl.Atlas) -> dict:
    """Signed code → region key ("VIS_L") for log messages (the code itself if ungrouped)."""
    return {code: key or code for code, key in code_regions(atlas).items()}


# ---------------------------------------------------------------- per-trial signals

def component_regions(codes, atlas: atl.Atlas, grouping=consolidate) -> dict[str, np.ndarray]:
    """0-based component indices per consolidated region key ("VIS_L"), sorted keys."""
    keys = code_regions(atlas, codes=[int(c) for c in codes], grouping=grouping)
    regions: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        key = keys[int(code)]
        if key is not None:
            regions.setdefault(key, []).append(i)
    return {k: np.array(v, np.int64) for k, v in sorted(regions.items())}


def cut_trials(temporal: np.ndarray, trials: pd.DataFrame, source="trials.csv") -> list[np.ndarray]:
    """Per-trial (L, n) arrays of the temporal components (n, T) cut by start_frame/n_frames."""
    n_t = temporal.shape[1]
    out = []
    for row in trials.itertuples():
        start, stop = int(row.start_frame), int(row.start_frame) + int(row.n_frames)
        if start < 0 or stop > n_t:
            raise WidefieldError(f"{source}: trial {row.trial_id} spans frames {start}..{stop} "
                                 f"but the recording has {n_t} frames per channel; fix the table")
        out.append(np.ascontiguousarray(temporal[:, start:stop].T, np.float32))
    return out


def assemble_dataset(temporal, region_codes, atlas, trials, session, frame_rate,
                     grouping=consolidate, provenance=None, source="trials.csv") -> Dataset:
    """Session Dataset with the LocaNMF components per trial and their region index groups."""
    return Dataset(session=session, frame_rate=float(frame_rate),
                   trial_ids=trials["trial_id"].to_numpy(np.int64),
                   neural=cut_trials(np.asarray(temporal), trials, source),
                   regions=component_regions(region_codes, atlas, grouping),
                   provenance=provenance or {})


def run_neural(locanmf_path, atlas_h5, trials_csv, out, session, cfg, config=None,
               regions=()):
    """neural.h5 of a session; every analysis region in ``regions`` must have components."""
    from benediff.provenance import provenance as make_provenance
    from benediff.widefield.locanmf import LocaNMF

    provenance = make_provenance(config, (config or {}).get("seed"), stage="widefield")

    model = LocaNMF.load(locanmf_path)
    grouping = make_grouping(cfg["grouping"])
    ds = assemble_dataset(model.temporal_, model.regions_, read_atlas_h5(atlas_h5),
                          read_trials(trials_csv), session, cfg["frame_rate"], grouping,
                          provenance, str(trials_csv))
    missing = [r for r in regions if len(ds.regions.get(r, ())) == 0]
    if missing:
        raise WidefieldError(
            f"session {session!r}: analysis region(s) {missing} of config key regions have no "
            f"LocaNMF component (regions with components: {sorted(ds.regions)}); the QC "
            f"({Path(out).parent / 'qc.pdf'} after a run without them, or the warnings in "
            "logs/widefield_atlas/) says whether they fall outside the imaged brain, have too "
            "few pixels or are not in the atlas: fix the landmarks, lower widefield.min_pixels "
            "or widefield.atlas.min_inside, or remove them from regions")
    write(out, ds)


def warn_to_log():
    """Route ``warnings`` into logging (scripts log to snakemake.log[0])."""
    logging.captureWarnings(True)
    warnings.simplefilter("default")


__all__ = ["WidefieldError", "ReaderError", "read_trials", "run_motion", "run_atlas", "run_svd",
           "run_hemo", "run_locanmf", "run_neural", "assemble_dataset",
           "component_regions", "cut_trials", "prepare_locanmf_input", "locanmf_params",
           # the readers of the stage's files, from their owners in benediff.io
           "read_motion", "read_frame_quality", "read_atlas_h5", "read_atlas_checks",
           "read_hemo", "write_atlas_h5"]
