"""Specificity score (beyond the paper): does a guided video move the targeted behaviour, and
only it, along the trajectory it was asked for, at a real amplitude and pace, and does it still
look like the data?

Behaviour is read out of videos by one of two extractors:

* ``regressor``: a frame → behaviour regressor trained on real frames and their labels (training
  trials only), when no pose model is configured. By default a one-hidden-layer ReLU network on
  average-pooled pixels (``regressor: mlp``), so the read-out does not share the linear structure
  of the guidance encoder (a ridge on pixels, ``regressor: ridge``, can be moved by a pixel
  pattern along its weight vector that moves no body part);
* ``dlc``: the session's DeepLabCut model run on the clips pasted back into their view boxes
  (:func:`views_canvas`), the pose mapped to labels exactly as the behaviour stage does
  (:func:`pose_readouts`).

Generated videos *and* the real clips go through the same extractor, and every score is in units
of the real test clips' readouts (:func:`score_table`):

* **share** of behaviour d: Var(readout d) / Var_real(readout d), as a fraction of the sum over
  behaviours (1 = only the target moves, 1/B = no preference);
* **amplitude**: the target readout's std ÷ its std in real test trials, bounded on both sides
  (``amplitude_bounds``): a static video and a video moving 3× a real one are both out;
* **lift** of behaviour b: Var(readout b | guided toward d) / Var(readout b | unguided VDM, same
  seeds); ``lift_margin`` = the target's lift ÷ the largest other lift;
* **fidelity**: per video, the Pearson correlation of the target readout with the trajectory the
  video was asked to follow (``requested`` in the generated file: the baselines' condition, the
  guided latent's factor trajectory for the diffusion methods);
* **spectrum**: the target readout's spectral centroid (Hz), averaged over the videos, must lie
  within the band of single real trials' centroids (``band_quantiles`` of the real test and
  pool trials); white flicker lies far above it;
* **realism**: Fréchet distance between the readout trajectories' segment features of the videos
  and of the real test trials, ÷ the floor: the same distance for ``n`` real trials drawn from
  trials that are not scored (validation trials and training trials held out of the regressor's
  fit), ``n`` being the row's video count, averaged over ``floor_draws`` draws, so a few real
  trials score ≈ 1× whatever ``n`` is.

Every score has a seeded bootstrap confidence interval over the row's videos (``<score>_lo``,
``<score>_hi``). A row is ``specific`` when the target's lift is the largest, its amplitude is
within bounds, its fidelity's lower bound is above ``min_fidelity`` and its mean spectral
centroid is in band; ``specific_lo`` asks the same of the pessimistic end of every interval,
``specific_hi`` of the optimistic end (the claims in :mod:`benediff.video.claims` use both).

:func:`specificity` (rule ``specificity``) scores the videos and writes the table;
:func:`write_specificity_canvas` (rule ``specificity_canvas``) writes the pose model's input.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benediff.behavior.video import write_gray_video
from benediff.io import dataset as dataset_io
from benediff.io.atomic import atomic_output
from benediff.io.generated import read_attrs, read_generated
from benediff.latex import booktabs
from benediff.provenance import write_sidecar
from benediff.seeds import derive_seed
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


REGRESSORS = ("mlp", "ridge")


class BehaviorRegressor:
    """Frame → behaviour labels from average-pooled pixels of one frame.

    ``regressor="mlp"``: standardised pixels → their first ``components`` principal components
    → one hidden ReLU layer of ``hidden`` units → the B labels (Adam, up to
    ``max_iter`` epochs, seeded); ``"ridge"``: a ridge with penalty ``alpha``.
    """

    def __init__(self, regressor: str = "mlp", alpha: float = 10.0, pool: int = 2,
                 components: int = 128, hidden: int = 64, max_iter: int = 200, seed: int = 0):
        if regressor not in REGRESSORS:
            raise SpecificityError(f"video.specificity.regressor = {regressor!r}; allowed "
                                   f"values: {list(REGRESSORS)}")
        self.regressor, self.alpha, self.pool = regressor, float(alpha), int(pool)
        self.components, self.hidden = int(components), int(hidden)
        self.max_iter, self.seed = int(max_iter), int(seed)

    def fit(self, frames, labels, names):
        labels = np.asarray(labels, dtype=np.float64)
        if labels.shape != (len(frames), len(names)):
            raise SpecificityError(f"labels have shape {labels.shape}, expected "
                                   f"({len(frames)}, {len(names)}) for behaviours {list(names)}")
        if self.regressor == "ridge":
            self.model_ = Ridge(alpha=self.alpha)
        else:
            n_components = min(self.components, len(frames),
                               _pixels(frames[:1], self.pool).shape[1])
            self.model_ = make_pipeline(
                StandardScaler(), PCA(n_components, random_state=self.seed),
                MLPRegressor(hidden_layer_sizes=(self.hidden,), max_iter=self.max_iter,
                             batch_size=min(128, len(frames)), learning_rate_init=1e-3,
                             alpha=1e-3, random_state=self.seed, tol=1e-5, n_iter_no_change=20))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(_pixels(frames, self.pool), labels)
        self.names_ = list(names)
        return self

    def predict(self, frames) -> np.ndarray:
        out = self.model_.predict(_pixels(frames, self.pool))
        return out.reshape(len(frames), len(self.names_))

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


def pearson(a, b) -> float:
    """Pearson correlation of two trajectories (F,); 0 when either does not move (a static
    video follows nothing)."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    if len(a) != len(b):
        raise SpecificityError(f"a readout of {len(a)} frames and a requested trajectory of "
                               f"{len(b)} frames cannot be compared")
    norm = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / norm) if norm > 1e-12 * len(a) else 0.0


def spectral_centroid(x, fs: float) -> float:
    """Power-weighted mean frequency (Hz) of a trajectory (F,): Σ f·P(f) / Σ P(f) over the
    one-sided periodogram of the mean-removed signal, DC excluded. NaN for a constant signal.

    A sine on frequency bin k (k·fs/F Hz) has centroid k·fs/F; white noise ≈ fs/4.
    """
    x = np.asarray(x, dtype=np.float64)
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2
    freqs = np.fft.rfftfreq(len(x), d=1.0 / fs)
    power, freqs = power[1:], freqs[1:]
    total = power.sum()
    return float(freqs @ power / total) if total > 1e-12 * len(x) else float("nan")


def trajectory_features(readouts, segment: int) -> np.ndarray:
    """Per-segment features of readout trajectories: the mean and std of every behaviour over
    each run of ``segment`` frames. list of (F, B) → (n_segments, 2B)."""
    return np.concatenate(_video_features(readouts, segment))


def _video_features(readouts, segment: int) -> list[np.ndarray]:
    rows = []
    for r in readouts:
        r = np.asarray(r, dtype=np.float64)
        n = len(r) // segment
        if n == 0:
            raise SpecificityError(f"videos of {len(r)} frames are shorter than one realism "
                                   f"segment ({segment} frames); lower video.specificity.segment")
        parts = r[:n * segment].reshape(n, segment, r.shape[1])
        rows.append(np.concatenate([parts.mean(axis=1), parts.std(axis=1)], axis=1))
    return rows


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


def realism_floor(pool, test_features, n: int, segment: int, draws: int, rng) -> np.ndarray:
    """Fréchet distances of ``n`` real trials drawn without replacement from ``pool`` (readouts
    of trials that are not scored) to the real test trials' features, ``draws`` times. (draws,)

    The distance of n videos is biased upward for small n (their covariance is estimated from
    few segments); comparing a row of n videos with this floor for the same n removes the bias.
    """
    if n > len(pool):
        raise SpecificityError(f"the realism floor draws {n} real trials (the videos per row) "
                               f"from {len(pool)} unscored real trials; raise "
                               "video.specificity.floor_trials or lower video.generation.n_videos")
    features = _video_features(pool, segment)
    return np.array([frechet_distance(np.concatenate([features[i] for i in
                                                      rng.choice(len(pool), n, replace=False)]),
                                      test_features) for _ in range(draws)])


SCORE_DEFAULTS = {"amplitude_bounds": (0.5, 2.0), "min_fidelity": 0.5,
                  "band_quantiles": (0.05, 0.95), "n_boot": 1000, "ci": 0.95,
                  "floor_draws": 200}


def score_table(readouts: dict, requested: dict, real: dict, names, *, segment: int, fs: float,
                seed: int = 0, **settings) -> pd.DataFrame:
    """The specificity table from behaviour readouts (each a list of per-video (F, B) arrays).

    ``readouts[(region, method, target)]``: generated videos (``method == "unguided"``: the VDM
    without guidance, sampled with the seeds of that target's guided videos);
    ``requested[key]``: per video the (F,) trajectory it was asked to follow; ``real["test"]``:
    the real test trials read out by the same extractor, ``real["labels"]`` their labels (F, B),
    ``real["pool"]``: unscored real trials (the realism floor's). ``fs``: frames per second.
    ``settings``: :data:`SCORE_DEFAULTS` keys (``video.specificity``).

    Per row, mean over videos with ``_std`` and bootstrap ``_lo``/``_hi``: ``specificity`` (the
    target's share), ``amplitude``, ``lift`` (``lift_<b>`` for every behaviour, ``lift_margin``),
    ``fidelity``, ``centroid`` (``spectrum_ok`` when in the real band ``band_lo``..``band_hi``:
    quantiles of the real test and pool trials' centroids), ``realism``
    and ``realism_ratio`` (÷ ``realism_floor`` for the same number of real trials); ``specific``,
    ``specific_lo``, ``specific_hi``. Rows of method ``real`` (region ``data``) score the real
    test trials against their labels (fidelity = the extractor's temporal agreement with them).
    """
    s = {**SCORE_DEFAULTS, **settings}
    names = list(names)
    ref_var = within_trial_variance(real["test"]) + 1e-12
    test_features = trajectory_features(real["test"], segment)
    bands = {b: np.quantile([spectral_centroid(np.asarray(r)[:, k], fs)
                             for r in [*real["test"], *real["pool"]]], s["band_quantiles"])
             for k, b in enumerate(names)}
    floors: dict[int, np.ndarray] = {}

    def floor(n):
        if n not in floors:
            floors[n] = realism_floor(real["pool"], test_features, n, segment, s["floor_draws"],
                                      np.random.default_rng(derive_seed(seed, "floor", n)))
        return floors[n]

    unguided_var = {(r, t): np.stack([np.var(v, axis=0) for v in videos])
                    for (r, m, t), videos in readouts.items() if m == "unguided"}
    rows = []
    for key, videos in sorted(readouts.items()):
        region, method, target = key
        reference = None if method in ("unguided",) else unguided_var.get((region, target))
        rows.append(_row(key, videos, requested[key], names, ref_var, test_features,
                         floor(len(videos)), bands, reference, fs, segment, s, seed))
    n_typical = max((len(v) for v in readouts.values()), default=len(real["test"]))
    for target in sorted({t for _, _, t in readouts}):
        d = names.index(target) if target in names else None
        if d is None:
            continue
        labels = [np.asarray(lab)[:, d] for lab in real["labels"]]
        rows.append(_row(("data", "real", target), real["test"], labels, names, ref_var,
                         test_features, floor(min(n_typical, len(real["pool"]))), bands, None,
                         fs, segment, s, seed, real_row=True))
    return pd.DataFrame(rows)


def _interval(values, ci) -> tuple[float, float]:
    lo, hi = np.nanquantile(values, [(1 - ci) / 2, (1 + ci) / 2]) if np.isfinite(
        values).any() else (np.nan, np.nan)
    return float(lo), float(hi)


def _row(key, videos, requested, names, ref_var, test_features, floor, bands, unguided, fs,
         segment, s, seed, real_row=False):
    region, method, target = key
    if target not in names:
        raise SpecificityError(f"target behaviour {target!r} is not among the extractor's "
                               f"labels {names}; check the factor names")
    if len(requested) != len(videos):
        raise SpecificityError(f"{region}/{method}/{target}: {len(videos)} videos but "
                               f"{len(requested)} requested trajectories")
    d, n, ci = names.index(target), len(videos), s["ci"]
    rng = np.random.default_rng(derive_seed(seed, *key))
    shares = np.stack([behaviour_shares(v, ref_var) for v in videos])
    amps = np.stack([amplitudes(v, ref_var) for v in videos])
    fid = np.array([pearson(np.asarray(v)[:, d], r) for v, r in zip(videos, requested)])
    cent = np.array([spectral_centroid(np.asarray(v)[:, d], fs) for v in videos])
    idx = [rng.integers(0, n, n) for _ in range(s["n_boot"])]
    row = {"region": region, "method": method, "target": target, "n_videos": n}
    for name, per_video in (("specificity", shares[:, d]), ("amplitude", amps[:, d]),
                            ("fidelity", fid), ("centroid", cent)):
        boots = np.array([per_video[i].mean() for i in idx])
        row.update({name: per_video.mean(), f"{name}_std": per_video.std()})
        row[f"{name}_lo"], row[f"{name}_hi"] = _interval(boots, ci)
    lo_amp, hi_amp = s["amplitude_bounds"]
    row["band_lo"], row["band_hi"] = (float(x) for x in bands[target])
    lift = np.full(len(names), np.nan)
    scored = unguided is not None and method not in ("unguided", "real")
    if scored:
        var = np.stack([np.var(v, axis=0) for v in videos])
        if var.shape != unguided.shape:
            raise SpecificityError(f"{region}/{method}/{target}: {len(var)} videos but the "
                                   f"unguided reference has {len(unguided)}; generate both with "
                                   "the same video.generation.n_videos")
        others = [b for b in range(len(names)) if b != d]

        def lifts(i):
            return var[i].mean(axis=0) / (unguided[i].mean(axis=0) + 1e-12)

        lift = lifts(np.arange(n))
        boots = np.stack([lifts(i) for i in idx])
        margins = boots[:, d] / np.maximum(boots[:, others].max(axis=1), 1e-12)
        paired = var[:, d] / (unguided[:, d] + 1e-12)
        row.update(lift=lift[d], lift_std=paired.std())
        row["lift_lo"], row["lift_hi"] = _interval(boots[:, d], ci)
        row["lift_margin"] = lift[d] / max(lift[others].max(), 1e-12)
        row["lift_margin_lo"], row["lift_margin_hi"] = _interval(margins, ci)
    else:
        row.update({k: np.nan for k in ("lift", "lift_std", "lift_lo", "lift_hi", "lift_margin",
                                         "lift_margin_lo", "lift_margin_hi")})
    features = _video_features(videos, segment)
    realism = frechet_distance(np.concatenate(features), test_features)
    base = float(np.mean(floor))
    if real_row:  # the real trials: n of them scored like videos, i.e. the floor itself
        realism, boots = base, floor
    else:
        boots = np.array([frechet_distance(np.concatenate([features[j] for j in i]),
                                           test_features) for i in idx])
    row.update(realism=realism, realism_floor=base, realism_ratio=realism / max(base, 1e-12))
    lo, hi = _interval(boots / max(base, 1e-12), ci)
    row.update(realism_ratio_lo=lo, realism_ratio_hi=hi)
    row.update(_verdicts(row, lo_amp, hi_amp, s["min_fidelity"]) if scored else
               {"amplitude_ok": None, "fidelity_ok": None, "spectrum_ok": None,
                "specific": None, "specific_lo": None, "specific_hi": None})
    row.update({f"share_{b}": float(x) for b, x in zip(names, shares.mean(axis=0))})
    row.update({f"lift_{b}": float(x) for b, x in zip(names, lift)})
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in row.items()}


def _verdicts(r: dict, lo_amp: float, hi_amp: float, min_fidelity: float) -> dict:
    """The three conditions besides lift, and ``specific`` at the estimate and at both ends of
    the intervals (NaN compares False: a static video has no spectrum and is never in band)."""
    amp_ok = lo_amp <= r["amplitude"] <= hi_amp
    fid_ok = r["fidelity_lo"] > min_fidelity
    spec_ok = r["band_lo"] <= r["centroid"] <= r["band_hi"]
    return {
        "amplitude_ok": bool(amp_ok), "fidelity_ok": bool(fid_ok), "spectrum_ok": bool(spec_ok),
        "specific": bool(r["lift_margin"] > 1 and amp_ok and fid_ok and spec_ok),
        "specific_lo": bool(r["lift_margin_lo"] > 1 and lo_amp <= r["amplitude_lo"]
                            and r["amplitude_hi"] <= hi_amp and fid_ok
                            and r["band_lo"] <= r["centroid_lo"]
                            and r["centroid_hi"] <= r["band_hi"]),
        "specific_hi": bool(r["lift_margin_hi"] > 1 and r["amplitude_hi"] >= lo_amp
                            and r["amplitude_lo"] <= hi_amp and r["fidelity_hi"] > min_fidelity
                            and r["centroid_hi"] >= r["band_lo"]
                            and r["centroid_lo"] <= r["band_hi"]),
    }


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
    the extractor is the frame → behaviour regressor trained on real training frames (of the
    training trials not held out for the realism floor); with it, the DeepLabCut pose of the
    canvas video (``pose``: ``pose_h5``, ``index_json``, ``labels_h5`` and the behaviour stage's
    ``labels`` and ``pcutoff`` settings). Either way the real test trials (scored against) and
    the floor's pool (validation + held-out training trials, :func:`floor_pool`) are read out by
    the same extractor as the generated videos. Only the test trials are scored against.
    """
    ds = dataset_io.read(dataset_path, groups=("images", "labels"))
    if ds.label_names is None:
        raise VideoPipelineError(f"{dataset_path}: labels have no names; the specificity score "
                                 "needs to know which behaviour each label column is")
    targets = {key: _target(key, path, ds.label_names) for key, path in generated.items()}
    if not any(m == "unguided" for _, m, _ in generated):
        raise VideoPipelineError("the specificity score needs the unguided videos (method "
                                 "'unguided') as the reference of the lift")
    files = {key: read_generated(path) for key, path in generated.items()}
    if pose is None:
        readouts, real, names, extra = _regressor_readouts(ds, files, cfg, seed)
    else:
        readouts, real, names, extra = _pose_readouts(ds, generated, pose)
    if list(names) != list(ds.label_names):
        raise SpecificityError(f"the extractor reads {list(names)} but the labels are "
                               f"{list(ds.label_names)}")
    real["labels"] = [np.asarray(ds.labels[i]) for i in split_trials(ds, "test")]
    requested = {(r, m, targets[(r, m, f)]): list(files[(r, m, f)]["requested"])
                 for (r, m, f) in generated}
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


def floor_pool(ds, floor_trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool, fit): the realism floor's unscored real trials — every validation trial and
    ``floor_trials`` training trials (at most half of them) drawn with ``seed`` — and the
    training trials left to fit the regressor. Test trials are in neither."""
    train = np.asarray(split_trials(ds, "train"))
    held = np.random.default_rng(derive_seed(seed, "floor_pool")).choice(
        len(train), min(floor_trials, len(train) // 2), replace=False)
    val = np.asarray(ds.split.get("val", []), dtype=int)
    return np.concatenate([val, np.sort(train[held])]).astype(int), np.delete(train, held)


def real_clips(ds, split: str) -> list[np.ndarray]:
    """The real clips (F, C, S, S) uint8 of a split's trials."""
    return [np.asarray(ds.images[i]) for i in split_trials(ds, split)]


def fit_regressor(ds, cfg: dict, rng, trials=None, seed: int = 0) -> BehaviorRegressor:
    """The frame → behaviour regressor (``video.specificity`` settings ``cfg``) on up to
    ``max_train_frames`` frames of ``trials`` (default: the training split) drawn with ``rng``."""
    trials = split_trials(ds, "train") if trials is None else trials
    frames, labels = _frames_and_labels(ds, trials, cfg["max_train_frames"], rng)
    return BehaviorRegressor(regressor=cfg["regressor"], alpha=cfg["alpha"], pool=cfg["pool"],
                             components=cfg["components"], hidden=cfg["hidden"],
                             max_iter=cfg["max_iter"], seed=seed).fit(
        frames, labels, ds.label_names)


def _regressor_readouts(ds, files, cfg, seed):
    rng = np.random.default_rng(seed)
    pool, fit = floor_pool(ds, cfg["floor_trials"], seed)
    regressor = fit_regressor(ds, cfg, rng, fit, seed)
    r2_test = regressor.score(*frames_and_labels(ds, "test", cfg["max_train_frames"], rng))
    readouts = {key: [regressor.predict(clip) for clip in f["frames"]] for key, f in files.items()}
    real = {"test": [regressor.predict(clip) for clip in real_clips(ds, "test")],
            "pool": [regressor.predict(np.asarray(ds.images[i])) for i in pool]}
    extra = {"extractor": "regressor", "regressor": cfg["regressor"],
             "regressor_r2_test": dict(zip(ds.label_names, r2_test)),
             "regressor_fit_trials": len(fit)}
    return readouts, real, list(ds.label_names), extra


REAL_KEYS = ("test", "pool")  # canvas keys ("data", "real", k) of the real trials


def _pose_readouts(ds, generated, pose):
    """DeepLabCut extractor: pose of the canvas video → labels in the real labels' units."""
    from benediff.io.pose import read_pose

    index = json.loads(Path(pose["index_json"]).read_text())
    real_keys = {("data", "real", k) for k in REAL_KEYS}
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
    real = {k: readouts.pop(("data", "real", k)) for k in REAL_KEYS}
    extra = {"extractor": "dlc", "pose": str(pose["pose_h5"]),
             "tracked": {k: v for k, v in tracked.items() if k not in real_keys},
             "tracked_real": {k: tracked[("data", "real", k)] for k in REAL_KEYS}}
    return readouts, real, names, extra


def write_specificity_canvas(generated: dict, views, out_mp4, out_json, fps: float,
                             dataset_path=None, floor_trials: int = 8, seed: int = 0) -> list[dict]:
    """All generated videos, each view pasted back into its box, as one video for the pose model.

    ``generated[(region, method, factor)]`` = generated-video file; with ``dataset_path`` the real
    test clips and the realism floor's pool (:func:`floor_pool` with ``floor_trials``, ``seed``)
    follow (keys ``data|real|test`` and ``data|real|pool``), so the pose model reads them out
    exactly as it reads the generated ones. ``out_json`` indexes the concatenated videos in
    order (key, n_videos, n_frames).
    """
    sources = [(list(key), read_generated(path)["frames"]) for key, path in sorted(generated.items())]
    if dataset_path is not None:
        ds = dataset_io.read(dataset_path, groups=("images",))
        pool, _ = floor_pool(ds, floor_trials, seed)
        sources += [(["data", "real", "test"], real_clips(ds, "test")),
                    (["data", "real", "pool"], [np.asarray(ds.images[i]) for i in pool])]
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
    return _frames_and_labels(ds, split_trials(ds, split), limit, rng)


def _frames_and_labels(ds, trials, limit, rng):
    frames = np.concatenate([ds.images[i] for i in trials])
    labels = np.concatenate([ds.labels[i] for i in trials])
    if len(frames) != len(labels):
        raise VideoPipelineError(f"session {ds.session!r}: {len(frames)} frames but {len(labels)} "
                                 "label rows in the same trials")
    keep = np.sort(rng.choice(len(frames), min(limit, len(frames)), replace=False))
    return frames[keep], labels[keep]


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
