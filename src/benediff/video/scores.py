"""The specificity scores (beyond the paper), from behaviour readouts of videos: does a guided
video move the targeted behaviour, and only it, along the trajectory it was asked for, at a real
amplitude and pace, and does it still look like the data?

Every score is in units of the real test clips' readouts, read out by the same extractor
(:mod:`benediff.video.readout` or the DeepLabCut pose, :mod:`benediff.video.canvas`),
by :func:`score_table`:

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
"""

import numpy as np
import pandas as pd

from benediff.seeds import derive_seed
from benediff.video.methods import REAL, UNGUIDED


class SpecificityError(ValueError):
    """Inputs of the specificity score disagree in shape or names."""


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
                    for (r, m, t), videos in readouts.items() if m == UNGUIDED}
    rows = []
    for key, videos in sorted(readouts.items()):
        region, method, target = key
        reference = None if method == UNGUIDED else unguided_var.get((region, target))
        rows.append(_row(key, videos, requested[key], names, ref_var, test_features,
                         floor(len(videos)), bands, reference, fs, segment, s, seed))
    n_typical = max((len(v) for v in readouts.values()), default=len(real["test"]))
    for target in sorted({t for _, _, t in readouts}):
        d = names.index(target) if target in names else None
        if d is None:
            continue
        labels = [np.asarray(lab)[:, d] for lab in real["labels"]]
        rows.append(_row(("data", REAL, target), real["test"], labels, names, ref_var,
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
    scored = unguided is not None and method not in (UNGUIDED, REAL)
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


def summary(table: pd.DataFrame, value: str = "specificity") -> pd.DataFrame:
    """Target × method mean of one score column (over regions)."""
    return table.pivot_table(index="target", columns="method", values=value, aggfunc="mean",
                             dropna=False)

