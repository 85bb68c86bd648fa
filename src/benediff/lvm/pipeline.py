"""One fit of the LVM stage: dataset -> region data -> model -> model file, latents, metrics."""

import logging
import time
from pathlib import Path

import numpy as np
import torch

from benediff import seeds
from benediff.io import dataset as dataset_io
from benediff.io import latents as latents_io
from benediff.io.atomic import atomic_output
from benediff.io.metrics import read_fit_record, write_fit_record, write_metrics
from benediff.lvm.base import LatentModel, LatentModelError
from benediff.lvm.data import POOLED, RegionData, pooled_region_data, region_data
from benediff.lvm.model import BehaviorVAE
from benediff.lvm.names import BASELINES, MODELS, VAE_VARIANTS
from benediff.lvm.targets import HYPER_KEYS
from benediff.metrics import (calibrated, decoder_predictions, mig, mig_floor, mig_gaps,
                              mig_scale, reconstruction_metrics, single_latent_decoding)
from benediff.provenance import provenance

log = logging.getLogger(__name__)

NORMALISATION = ("neural and labels z-scored per dim with training-split mean/std (pooled fits: "
                 "each session with its own); R² (%) is the uniform average over dims on test "
                 "trials; RMSE is x100 in z-score units")


def derive_seed(base_seed: int, session: str, region: str, run_seed: int) -> int:
    """A 31-bit seed from config seed, session, region and run: same inputs, same seed."""
    return seeds.derive_seed(base_seed, run_seed, session, region, bits=31)


def vae_params(lvm_cfg: dict, region: str, model: str) -> dict:
    """Hyper-parameters of a VAE variant for one region (section values + region overrides)."""
    override = lvm_cfg.get("region_overrides", {}).get(region, {})
    unknown = sorted(set(override) - set(HYPER_KEYS))
    if unknown:
        raise LatentModelError(f"config key lvm.region_overrides.{region} has unknown key(s) "
                               f"{unknown}; allowed: {sorted(HYPER_KEYS)}")
    params = {k: lvm_cfg[k] for k in HYPER_KEYS if k in lvm_cfg} | override
    params["hidden"] = params.get("hidden") or None
    return params | VAE_VARIANTS[model]


def build_model(model: str, lvm_cfg: dict, region: str, seed: int, device: str,
                checkpoint_dir=None) -> LatentModel:
    if model in VAE_VARIANTS:
        every = {k: lvm_cfg[k] for k in ("checkpoint_every",) if k in lvm_cfg}  # else the class's
        return BehaviorVAE(**vae_params(lvm_cfg, region, model), seed=seed, device=device,
                           checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
                           **every)
    if model in BASELINES:
        try:
            from benediff.lvm.baselines import get_baseline
        except ImportError as exc:
            raise LatentModelError(f"model {model!r} needs benediff.lvm.baselines, which is not "
                                   f"importable ({exc}); drop it from the lvm tables") from exc
        return get_baseline(model, seed=seed, device=device, **lvm_cfg["baselines"].get(model, {}))
    raise LatentModelError(f"unknown lvm model {model!r}; allowed: {list(MODELS)}")


def decoder_reference(rd, binning: str = "quantile") -> dict:
    """The model-independent part of :func:`evaluate`: the MIG of a supervised linear decoder of
    the behaviours from the region (its value, shuffled-trials floor and per-behaviour gaps).
    A property of the data, computed once per region by :func:`evaluate_region`."""
    (x_tr, u_tr_trials), (x_te, u_te) = rd.part("train"), rd.part("test")
    u_te_all, names = np.concatenate(u_te), rd.label_names
    predicted = decoder_predictions(x_tr, u_tr_trials, x_te)
    out = {"mig_decoder": 100.0 * mig(predicted.T, u_te_all.T, factor_names=names, binning=binning)}
    # its own floor (its predictions against other trials' labels)
    starts = np.cumsum([0] + [len(u) for u in u_te])
    trials = [predicted[a:b] for a, b in zip(starts, starts[1:])]
    out["mig_decoder_floor"] = (100.0 * mig_floor(trials, u_te, factor_names=names, binning=binning)
                                if len(u_te) > 1 else float("nan"))
    out["mig_decoder_per_factor"] = dict(zip(names, 100.0 * mig_gaps(predicted.T, u_te_all.T,
                                                                     binning=binning)[0]))
    return out


def evaluate(model: LatentModel, rd, binning: str = "quantile", reference: dict | None = None) -> dict:
    """Test-split reconstruction, MIG with its scale (shuffled-trials floor, the labels' own MIG
    as ceiling, the calibrated score between them, the relative gap), a supervised linear
    decoder's MIG as reference (``reference``: :func:`decoder_reference` of ``rd``, computed
    here when not given), and the single-latent decoding matrix."""
    (x_tr, u_tr_trials), (x_te, u_te) = rd.part("train"), rd.part("test")
    z_te_trials = model.transform(x_te)
    z_tr, z_te = np.concatenate(model.transform(x_tr)), np.concatenate(z_te_trials)
    u_tr, u_te_all = np.concatenate(u_tr_trials), np.concatenate(u_te)
    out = reconstruction_metrics(x_te, model.reconstruct(x_te))
    if hasattr(model, "decoder"):
        # CEBRA has no decoder of its own: report the MLP read-out beside the Ridge one
        mlp = reconstruction_metrics(x_te, model.reconstruct(x_te, decoder="mlp"))
        out["r2_mlp"], out["rmse_mlp"] = mlp["r2"], mlp["rmse"]
    names = rd.label_names
    scale = mig_scale(z_te_trials, u_te, factor_names=names, binning=binning)
    out["mig"] = 100.0 * scale["mig"]
    # chance level: the same test latents against the labels of other test trials
    out["mig_floor"] = 100.0 * scale["floor"]
    # ceiling: the labels used as the code, on the same frames
    out["mig_ceiling"] = 100.0 * scale["ceiling"]
    out["mig_calibrated"] = scale["calibrated"]  # (MIG − floor) / (ceiling − floor), a fraction
    out["mig_relative"] = 100.0 * scale["relative_gap"]  # not Chen's MIG: scale vs the paper only
    out["mig_binning"] = binning
    # per behaviour: the gap MIG averages, for the latents and for the supervised decoder below
    out["mig_per_factor"] = dict(zip(names, 100.0 * scale["per_factor"]))
    out["mig_ceiling_per_factor"] = dict(zip(names, 100.0 * scale["ceiling_per_factor"]))
    # reference: the MIG of a supervised linear decoder of the behaviours from this region
    ref = decoder_reference(rd, binning) if reference is None else reference
    out["mig_decoder"] = ref["mig_decoder"]
    out["mig_decoder_floor"] = ref["mig_decoder_floor"]
    out["mig_decoder_calibrated"] = calibrated(out["mig_decoder"], out["mig_decoder_floor"],
                                               out["mig_ceiling"])
    out["mig_decoder_per_factor"] = dict(ref["mig_decoder_per_factor"])
    out["decoding"] = single_latent_decoding(z_tr, u_tr, z_te, u_te_all).tolist()
    return out


def factor_names(label_names: list[str], n_latents: int) -> list[str]:
    extra = [f"u{i + 1}" for i in range(max(0, n_latents - len(label_names)))]
    return (list(label_names) + extra)[:n_latents]


def write_latents(path, model: LatentModel, rd, names: list[str]) -> None:
    """``latents.h5`` of a fit (layout: :mod:`benediff.io.latents`)."""
    latents_io.write_latents(
        path, model.transform(rd.X), model.reconstruct(rd.X), factor_names=names,
        label_names=rd.label_names, session=rd.session, region=rd.region, split=rd.split,
        normalisation=NORMALISATION, members=[(m.session, len(m.X)) for m in rd.members or ()])


def dataset_paths(paths) -> list:
    """One dataset path or a list of them, as a list."""
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def select_region(datasets: list, sources: list, region: str, n_latents: int | None = None,
                  pooled: bool = False) -> RegionData:
    """One session's region data, or (``pooled``) the region pooled over several sessions."""
    if not pooled and len(datasets) != 1:
        raise LatentModelError(f"{len(datasets)} dataset files given for a single-session fit of "
                               f"region {region!r}; pass one, or pool them (session {POOLED!r})")
    parts = [region_data(ds, region, n_latents, source=src) for ds, src in zip(datasets, sources)]
    return pooled_region_data(parts) if pooled else parts[0]


def load_region(paths, region: str, n_latents: int | None = None, pooled: bool = False) -> RegionData:
    """``select_region`` on dataset files (one path, or a list when ``pooled``)."""
    paths = dataset_paths(paths)
    datasets = [dataset_io.read(p, groups=("neural", "labels")) for p in paths]
    return select_region(datasets, paths, region, n_latents, pooled)


def evaluate_sessions(model: LatentModel, rd: RegionData, binning: str = "quantile",
                      references: dict | None = None) -> dict:
    """Test metrics of every session of a pooled fit, each on its own split and z-scoring
    (``references``: session -> :func:`decoder_reference`, filled in as computed)."""
    references = {} if references is None else references
    out = {}
    for m in rd.members:
        if m.session not in references:
            references[m.session] = decoder_reference(m, binning)
        out[m.session] = evaluate(model, m, binning, references[m.session]) | {
            "n_train_trials": len(m.split["train"]), "n_test_trials": len(m.split["test"])}
    return out


def fit_model(dataset_path, region: str, model_name: str, run_seed: int, lvm_cfg: dict,
              base_seed: int = 0, device: str = "cpu", checkpoint_dir=None,
              pooled: bool = False) -> tuple[LatentModel, RegionData, dict]:
    """Fit one model on one region of one session (or of pooled sessions).

    Returns the fitted model, the region data and the fit record (:func:`write_fit_record`).
    """
    paths = dataset_paths(dataset_path)
    datasets = [dataset_io.read(p, groups=("neural", "labels")) for p in paths]
    n_latents = len(datasets[0].label_names or []) + lvm_cfg.get("n_unsupervised", 0)
    rd = select_region(datasets, paths, region, n_latents if model_name in VAE_VARIANTS else None,
                       pooled)
    seed = derive_seed(base_seed, rd.session, region, run_seed)
    model = build_model(model_name, lvm_cfg, region, seed, device, checkpoint_dir)
    start = time.perf_counter()
    model.fit(*rd.part("train"), *rd.part("val"))
    fit_seconds = time.perf_counter() - start
    z0 = model.transform(rd.X[:1])[0]
    record = {"session": rd.session, "region": region, "model": model_name, "run_seed": run_seed,
              "seed": seed, "fit_seconds": fit_seconds,
              "factor_names": factor_names(rd.label_names, z0.shape[1]),
              "epochs": trained_epochs(model),
              "provenance": provenance(lvm_cfg, seed=seed, device=device)}
    log.info("%s %s %s seed %d: fitted in %.1f s (%d epochs)", rd.session, region, model_name,
             run_seed, fit_seconds, record["epochs"])
    return model, rd, record


def fit_metrics(model: LatentModel, rd: RegionData, record: dict, binning: str,
                pooled: bool = False, references: dict | None = None) -> dict:
    """metrics.json of one fit: :func:`evaluate` on the test trials (pooled: also per session)
    plus the fit record. ``references``: decoder references shared by the fits of a region."""
    references = {} if references is None else references
    if rd.session not in references:
        references[rd.session] = decoder_reference(rd, binning)
    metrics = evaluate(model, rd, binning, references[rd.session])
    if pooled:
        metrics["sessions"] = [m.session for m in rd.members]
        metrics["per_session"] = evaluate_sessions(model, rd, binning, references)
    metrics |= {"session": rd.session, "region": record["region"], "model": record["model"],
                "run_seed": record["run_seed"], "seed": record["seed"],
                "fit_seconds": record["fit_seconds"], "label_names": rd.label_names,
                "factor_names": record["factor_names"], "n_train_trials": len(rd.split["train"]),
                "n_test_trials": len(rd.split["test"]), "normalisation": NORMALISATION,
                "epochs": record["epochs"], "provenance": record["provenance"]}
    log.info("%s %s %s seed %d: R2 %.2f RMSE %.2f MIG %.2f", rd.session, record["region"],
             record["model"], record["run_seed"], metrics["r2"], metrics["rmse"], metrics["mig"])
    return metrics


def fit_region(dataset_path, region: str, model_name: str, run_seed: int, lvm_cfg: dict,
               base_seed: int = 0, device: str = "cpu", checkpoint_dir=None,
               out_model=None, out_latents=None, out_metrics=None, pooled: bool = False,
               out_fit=None, evaluate_fit: bool = True) -> dict:
    """Fit one model on one region of one session (or of pooled sessions); write its outputs.

    ``pooled``: ``dataset_path`` is a list of session datasets; the model is fitted on all their
    training trials (early stopping on all validation trials) and evaluated on the pooled test
    trials (top-level metrics) and on each session's test trials (``per_session``).

    The rule ``lvm_fit`` passes ``evaluate_fit=False`` and ``out_fit``: the evaluation is its own
    job (:func:`evaluate_region`), so a metric-only setting reruns no fit. Returns the metrics
    (or, without evaluation, the fit record).
    """
    model, rd, record = fit_model(dataset_path, region, model_name, run_seed, lvm_cfg,
                                  base_seed, device, checkpoint_dir, pooled)
    if out_model is not None:
        with atomic_output(out_model) as tmp:
            model.save(tmp)
    if out_latents is not None:
        write_latents(out_latents, model, rd, record["factor_names"])
    if out_fit is not None:
        write_fit_record(out_fit, record)
    if not evaluate_fit:
        return record
    metrics = fit_metrics(model, rd, record, lvm_cfg["mig_binning"], pooled)
    if out_metrics is not None:
        write_metrics(out_metrics, metrics)
    return metrics


def load_model(model_name: str, path, device: str = "cpu") -> LatentModel:
    """A fitted model written by :func:`fit_region` (``model.pt``)."""
    if model_name in VAE_VARIANTS:
        return BehaviorVAE.load(path, device=device)
    if model_name in BASELINES:
        from benediff.lvm.baselines import baseline_class
        return baseline_class(model_name).load(path)
    raise LatentModelError(f"unknown lvm model {model_name!r}; allowed: {list(MODELS)}")


def evaluate_region(dataset_path, region: str, fits: list[dict], binning: str,
                    device: str = "cpu", pooled: bool = False) -> list[dict]:
    """Evaluate every fit of one region of one session (or of the pooled sessions).

    ``fits``: one dict per fit with ``model``, ``model_path``, ``fit_path`` and ``metrics_path``
    (written when given). The datasets are read once and the decoder reference computed once
    per session, so one job serves all models and seeds of the region. Returns the metrics.
    """
    paths = dataset_paths(dataset_path)
    datasets = [dataset_io.read(p, groups=("neural", "labels")) for p in paths]
    rd = select_region(datasets, paths, region, None, pooled)
    references: dict = {}
    out = []
    for fit in fits:
        record = read_fit_record(fit["fit_path"])
        if (record["session"], record["region"], record["model"]) != (rd.session, region,
                                                                        fit["model"]):
            raise LatentModelError(f"{fit['fit_path']}: a fit of {record['session']}/"
                                   f"{record['region']}/{record['model']}, not of {rd.session}/"
                                   f"{region}/{fit['model']}; rerun its lvm_fit job")
        model = load_model(fit["model"], fit["model_path"], device)
        metrics = fit_metrics(model, rd, record, binning, pooled, references)
        if fit.get("metrics_path") is not None:
            write_metrics(fit["metrics_path"], metrics)
        out.append(metrics)
    return out


def trained_epochs(model) -> int:
    """Epochs a fit ran: the VAE keeps a list of epoch records, the torch baselines a dict of
    per-epoch "train" losses, CEBRA none (0)."""
    history = getattr(model, "history_", None) or []
    return len(history["train"]) if isinstance(history, dict) else len(history)


def set_threads(n: int) -> None:
    torch.set_num_threads(max(1, int(n)))
