"""Training of the sequential VAE: its step, warm-up and validation record, run by the one loop
of :mod:`benediff.training` (early stopping after the warm-up, a checkpoint every
``checkpoint_every`` epochs and at a SIGTERM, exact resume).

Resuming is exact on CPU because everything random is either restored (model, optimiser, torch /
numpy / python RNG states, early-stopping state) or stateless: the trial order of epoch e is a
permutation drawn from ``default_rng([seed, e])``. At a SIGTERM the fit saves after the batch in
progress and stops with :class:`TrainingInterrupted`; a restart continues from the batch after it.
"""

import math
import sys
from pathlib import Path

import torch

from benediff.checkpoint import CheckpointError, array_digest  # noqa: F401 (CheckpointError re-exported)
from benediff.lvm.tc import total_correlation
from benediff.training import Fit, Loop, TrainingInterrupted, epoch_order, seed_all
from benediff.training import train as run

__all__ = ["CHECKPOINT_NAME", "CheckpointError", "TrainingInterrupted", "loss_terms", "train"]

CHECKPOINT_NAME = "checkpoint.pt"


def loss_terms(net, x, u, params, n_data: int, sample: bool, encoded=None) -> dict:
    """Per-frame loss terms: none of them grows with batch size or trial length.

    ``encoded``: ``net.encode(x)`` if already computed (validation reuses it)."""
    mu, logvar = net.encode(x) if encoded is None else encoded
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
    terms = {
        "recon": params.x_weight * (net.decode(z) - x).pow(2).mean(),
        "behavior": (net.predict_behavior(z) - u).pow(2).sum(-1).mean(),
        "kl": 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1).mean(),
    }
    if sample and params.beta > 0:
        terms["tc"] = _batch_tc(z, mu, logvar, params, n_data)
    return terms


def _batch_tc(z, mu, logvar, params, n_data):
    z, mu, logvar = (t.reshape(-1, t.shape[-1]) for t in (z, mu, logvar))
    if z.shape[0] > params.tc_max_samples:
        # a random subset of frames bounds the (M, M, D) pairwise tensor
        keep = torch.randperm(z.shape[0], device=z.device)[: params.tc_max_samples]
        z, mu, logvar = z[keep], mu[keep], logvar[keep]
    return total_correlation(z, mu, logvar, n_data, params.tc_estimator)


def _validation_tc(mu, logvar, params):
    """TC of the validation posteriors at their means, on evenly spaced frames (at most
    ``tc_max_samples``; no random draw, so validation leaves the training RNG alone)."""
    mu, logvar = mu.reshape(-1, mu.shape[-1]), logvar.reshape(-1, logvar.shape[-1])
    if mu.shape[0] > params.tc_max_samples:
        keep = torch.linspace(0, mu.shape[0] - 1, params.tc_max_samples, device=mu.device).long()
        mu, logvar = mu[keep], logvar[keep]
    return total_correlation(mu, mu, logvar, mu.shape[0], params.tc_estimator)


def warmup(epoch: int, params) -> float:
    return 1.0 if params.warmup_epochs <= 0 else min(1.0, (epoch + 1) / params.warmup_epochs)


def total_loss(terms, params, ramp: float):
    beh_weight = params.behavior_weight if params.use_behavior else 0.0
    loss = terms["recon"] + ramp * beh_weight * terms["behavior"] + params.kl_weight * terms["kl"]
    if "tc" in terms:
        loss = loss + ramp * params.beta * terms["tc"]
    return loss


def train(net, x, u, x_val, u_val, params, device) -> list[dict]:
    """Fit ``net`` in place (best validation weights at the end); return the per-epoch history."""
    ckpt_path = Path(params.checkpoint_dir) / CHECKPOINT_NAME if params.checkpoint_dir else None
    fingerprint = params.fingerprint() | {"data": array_digest(x, u, x_val, u_val)}
    optimizer = torch.optim.Adam(net.parameters(), lr=params.lr, **_adam_options(params, device))
    seed_all(params.seed)
    x, u, x_val, u_val = (None if a is None else torch.as_tensor(a, device=device)
                          for a in (x, u, x_val, u_val))
    x_val, u_val = (x, u) if x_val is None else (x_val, u_val)
    n_data = x.shape[0] * x.shape[1]
    n_batches, size = math.ceil(x.shape[0] / params.batch_size), params.batch_size

    def batches(epoch):
        order = epoch_order(params.seed, epoch, x.shape[0])
        return [torch.as_tensor(order[b * size:(b + 1) * size]) for b in range(n_batches)]

    def step(epoch, idx):
        terms = loss_terms(net, x[idx], u[idx], params, n_data, sample=True)
        loss = total_loss(terms, params, warmup(epoch, params))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def end(epoch, _losses):
        return _validation_record(net, x_val, u_val, params, epoch, n_data)

    show = sys.stderr.isatty() if params.progress is None else params.progress
    # early stopping starts once the warm-up is over: before it the objective keeps changing
    loop = Loop("lvm fit", params.max_epochs, checkpoint=ckpt_path,
                checkpoint_every=params.checkpoint_every, fingerprint=fingerprint,
                patience=params.patience, min_delta=params.min_delta,
                grace=lambda epoch: epoch + 1 < params.warmup_epochs, show="val_loss",
                note="validation", bar=show)
    return run(loop, Fit(step, batches, {"model": net, "optimizer": optimizer}, net, end))


def _adam_options(params, device) -> dict:
    """The fused Adam kernel (one call per step instead of ~10 per parameter; same update up to
    float rounding) on CPU and CUDA; ``rnn="native"`` keeps the loop of before #27."""
    if params.rnn == "fused" and torch.device(device).type in ("cpu", "cuda"):
        return {"fused": True}
    return {}


@torch.no_grad()
def _validation_record(net, x_val, u_val, params, epoch, n_data) -> dict:
    net.eval()
    mu, logvar = net.encode(x_val)  # once: the loss, the TC and the posterior sd share it
    terms = loss_terms(net, x_val, u_val, params, n_data, sample=False, encoded=(mu, logvar))
    if params.beta > 0:  # select on the objective as trained, disentanglement term included
        terms["tc"] = _validation_tc(mu, logvar, params)
    val = float(total_loss(terms, params, 1.0))
    record = {"epoch": epoch, "val_loss": val} | {k: float(v) for k, v in terms.items()}
    record["posterior_sd"] = float(torch.exp(0.5 * logvar).mean())
    return record
