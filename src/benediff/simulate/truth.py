"""Ground truth of a simulated session (``truth.h5``) and the per-trial truth dataset."""

import json
from pathlib import Path

import h5py
import numpy as np

from benediff.io.atomic import atomic_output
from benediff.io.dataset import Dataset, TrialArrays
from benediff.simulate.params import BEHAVIORS, SimParams, SimulationError
from benediff.simulate.render import KEYPOINTS, render_views

TRIAL_KEYS = ("trial_id", "start_frame", "video_start_frame", "n_frames")
ARRAYS = ("footprints", "activities", "behavior", "behavior_video", "latents", "haemodynamics",
          "hemo_map", "baseline_blue", "baseline_violet", "jitter", "transform", "session_labels")
DESIGN = ("weights", "lags", "behavior_fractions", "latent_loadings")
DESCRIPTIONS = {
    "footprints": "(n_comp, H, W) spatial footprints in the session frame, each peaking at 1",
    "activities": "(T, n_comp) ΔF/F amplitude multiplying each footprint, per-channel frame timeline",
    "behavior": "(T, 6) behaviour variables on the neural timeline (attr names)",
    "behavior_video": "(n_video_frames, 6) behaviour on the video timeline",
    "latents": "(T, n_latents) internal latent dynamics unrelated to behaviour",
    "haemodynamics": "(T, 2) multiplicative haemodynamic signal at blue / violet frame times",
    "hemo_map": "(H, W) spatial weight of the haemodynamic signal",
    "baseline_blue": "(H, W) blue baseline fluorescence (counts)",
    "baseline_violet": "(H, W) violet baseline fluorescence (counts)",
    "jitter": "(T, 2, 2) rigid shift (dy, dx) px per frame and channel (blue, violet): drift + "
              "lick/reach-locked + per-frame jitter",
    "transform": "(3, 3) similarity matrix, atlas px (x, y, 1) -> session px",
    "session_labels": "(H, W) signed atlas labels warped into the session frame",
}


def write_truth(path, gt: dict, params: SimParams) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        for key in ARRAYS:
            d = f.create_dataset(key, data=gt[key])
            d.attrs["description"] = DESCRIPTIONS[key]
        f["behavior"].attrs["names"] = list(BEHAVIORS)
        f["behavior_video"].attrs["names"] = list(BEHAVIORS)
        f.create_dataset("component_names", data=np.array(gt["component_names"], dtype="S"))
        for key in TRIAL_KEYS:
            f.create_dataset(f"trials/{key}", data=np.asarray(gt[key], np.int64))
        for key in DESIGN:
            f.create_dataset(f"design/{key}", data=gt[key])
        f.attrs["params"] = json.dumps(params.to_dict(), sort_keys=True)
        f.attrs["seed"] = params.seed
        f.attrs["frame_rate"] = params.frame_rate
        f.attrs["video_fps"] = params.video_fps
        f.attrs["keypoints"] = list(KEYPOINTS)
        for key, value in measured_coupling(gt, params).items():
            f.attrs[key] = value
        f.attrs["forward_model"] = ("blue = baseline_blue*(1+footprints·activities)*(1+hemo_map*hemo[:,0]); "
                                    "violet = baseline_violet*(1+hemo_map*hemo[:,1]); then the Gaussian PSF "
                                    "(params psf_sigma_px) and the jitter shift (exact, Fourier domain), "
                                    "Poisson noise, round to uint16")


def measured_coupling(gt: dict, params: SimParams) -> dict:
    """What the planted session looks like to an analyst, measured (``truth.h5`` attributes):

    - ``behavior_share/<region>``: cross-validated share of the region's true component
      activity that the six behaviours explain linearly with lags of −0.5..+0.5 s
      (:func:`benediff.metrics.behavior_share`, 5 trial folds, fewer for fewer trials; an upper bound for what the
      LocaNMF components show, which add imaging noise and mixing);
    - ``behavior_abs_r_median`` / ``behavior_abs_r_max``: pairwise |Pearson r| of the six
      behaviours within trials.
    """
    from benediff.metrics import behavior_share, label_correlations

    starts, n = gt["start_frame"], params.frames_per_trial
    labels = [gt["behavior"][s:s + n] for s in starts]
    step = max(1, int(round(params.frame_rate / 10)))  # lags every ~0.1 s up to ±0.5 s
    half = int(round(0.5 * params.frame_rate))
    lags = range(-half, half + 1, step)
    out = {}
    folds = min(5, len(starts))
    for region, idx in region_indices(gt["component_names"]).items():
        acts = [gt["activities"][s:s + n, idx] for s in starts]
        share = behavior_share(acts, labels, lags, n_folds=folds) if folds > 1 else np.nan
        out[f"behavior_share/{region}"] = round(float(share), 4)
    median, top = label_correlations(labels)
    out["behavior_abs_r_median"], out["behavior_abs_r_max"] = round(median, 4), round(top, 4)
    return out


def read_measured_coupling(path) -> dict[str, float]:
    """The ``behavior_share/<region>`` attributes of a ``truth.h5`` as {region: share}."""
    with h5py.File(path, "r") as f:
        return {k.split("/", 1)[1]: float(v) for k, v in f.attrs.items()
                if k.startswith("behavior_share/")}


def read_truth(path) -> dict:
    """Every truth array plus ``params`` (SimParams) and ``component_names`` (list of str)."""
    path = Path(path)
    if not path.exists():
        raise SimulationError(f"{path}: ground-truth file missing; run the simulate_session rule "
                              "(only sessions with source: simulate have ground truth)")
    with h5py.File(path, "r") as f:
        gt = {k: f[k][()] for k in ARRAYS}
        gt.update({k: f[f"trials/{k}"][()] for k in TRIAL_KEYS})
        gt.update({k: f[f"design/{k}"][()] for k in DESIGN})
        gt["component_names"] = [n.decode() for n in f["component_names"][()]]
        gt["params"] = SimParams.from_dict(json.loads(f.attrs["params"]))
    return gt


def region_indices(component_names) -> dict[str, np.ndarray]:
    """0-based component indices per region name, in first-appearance order."""
    names = np.asarray(component_names)
    return {r: np.flatnonzero(names == r) for r in dict.fromkeys(component_names)}


def load_truth_dataset(session_dir, image_size: int) -> Dataset:
    """Per-trial ground-truth dataset: activities, raw behaviour, noise-free re-rendered views."""
    session_dir = Path(session_dir)
    with h5py.File(_truth_file(session_dir), "r") as f:
        acts, beh = f["activities"], f["behavior"][()]
        starts, lengths = f["trials/start_frame"][()], f["trials/n_frames"][()]
        neural = [acts[s:s + n].astype(np.float32) for s, n in zip(starts, lengths)]
        ids = f["trials/trial_id"][()]
        names = [n.decode() for n in f["component_names"][()]]
        params = SimParams.from_dict(json.loads(f.attrs["params"]))
    labels = [beh[s:s + n].astype(np.float32) for s, n in zip(starts, lengths)]
    return Dataset(
        session=session_dir.name, frame_rate=params.frame_rate, trial_ids=ids,
        neural=neural, labels=labels, label_names=list(BEHAVIORS),
        # rendered per trial on access (one trial in memory at a time; issue #27)
        images=TrialArrays(len(labels), lambda i: render_views(labels[i].astype(np.float64),
                                                               image_size)),
        regions=region_indices(names),
        provenance={"source": "simulate truth", "seed": params.seed, "image_size": image_size},
    )


def _truth_file(session_dir):
    path = session_dir / "truth.h5"
    if not path.exists():
        raise SimulationError(f"{path}: ground-truth file missing; config dataset.* = truth needs a "
                              "simulated session (sessions.<name>.source: simulate)")
    return path
