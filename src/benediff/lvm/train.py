"""Training loop of the sequential VAE: warm-up, early stopping, exact checkpoint/resume.

Resuming is exact on CPU because everything random is either restored (model, optimiser, torch /
numpy / python RNG states, early-stopping state) or stateless: the trial order of epoch e is a
permutation drawn from ``default_rng([seed, e])``. A checkpoint is written every
``checkpoint_every`` epochs and, at a SIGTERM, after the batch in progress (then the fit stops
with :class:`TrainingInterrupted`); a restart continues from the batch after it.
"""

import math
import random
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from benediff.checkpoint import CheckpointError, array_digest, resume_from, save_atomic, with_code  # noqa: F401 (CheckpointError re-exported)
from benediff.lvm.tc import total_correlation
from benediff.jobs import Progress
from benediff.training import EarlyStopping, epoch_order, seed_all

CHECKPOINT_NAME = "checkpoint.pt"


class TrainingInterrupted(RuntimeError):
    """The fit received SIGTERM; its state is checkpointed and a rerun resumes it."""


@dataclass
class TrainState:
    epoch: int = 0
    batch: int = 0  # next batch of ``epoch`` to run
    stopping: EarlyStopping | None = None
    finished: bool = False
    history: list = field(default_factory=list)


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
    state = TrainState(stopping=EarlyStopping(params.patience, params.min_delta))
    seed_all(params.seed)
    saved = resume_from(ckpt_path, fingerprint, progress_of=lambda s: s["state"]["epoch"],
                        total=params.max_epochs, unit="epoch", what="lvm fit")
    if saved is not None:
        state = restore_checkpoint(saved, net, optimizer)
    tensors = [None if a is None else torch.as_tensor(a, device=device) for a in (x, u, x_val, u_val)]
    with _sigterm_flag() as stop:
        _loop(net, optimizer, tensors, params, state, stop, ckpt_path, fingerprint)
    state.stopping.restore_best(net)
    return state.history


def _adam_options(params, device) -> dict:
    """The fused Adam kernel (one call per step instead of ~10 per parameter; same update up to
    float rounding) on CPU and CUDA; ``rnn="native"`` keeps the loop of before #27."""
    if params.rnn == "fused" and torch.device(device).type in ("cpu", "cuda"):
        return {"fused": True}
    return {}


def _loop(net, optimizer, tensors, params, state, stop, ckpt_path, fingerprint):
    x, u, x_val, u_val = tensors
    n_data = x.shape[0] * x.shape[1]
    n_batches = math.ceil(x.shape[0] / params.batch_size)
    show = sys.stderr.isatty() if params.progress is None else params.progress
    bar = tqdm(total=params.max_epochs, initial=state.epoch, disable=not show, desc="lvm fit")
    progress = Progress("lvm fit (epochs)", params.max_epochs, start=state.epoch)
    while not state.finished and state.epoch < params.max_epochs:
        order = epoch_order(params.seed, state.epoch, x.shape[0])
        net.train()
        while state.batch < n_batches:
            idx = torch.as_tensor(order[state.batch * params.batch_size:(state.batch + 1) * params.batch_size])
            terms = loss_terms(net, x[idx], u[idx], params, n_data, sample=True)
            loss = total_loss(terms, params, warmup(state.epoch, params))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state.batch += 1
            if stop["flag"]:
                where = "no checkpoint_dir, state not saved"
                if ckpt_path is not None:
                    save_checkpoint(ckpt_path, fingerprint, net, optimizer, state)
                    where = f"state saved to {ckpt_path}; rerun to resume"
                raise TrainingInterrupted(f"SIGTERM at epoch {state.epoch}, batch {state.batch}; {where}")
        _end_epoch(net, x_val if x_val is not None else x, u_val if u_val is not None else u,
                   params, state, n_data)
        bar.update(1)
        bar.set_postfix(val=f"{state.history[-1]['val_loss']:.3f}")
        progress.update(state.epoch, state.history[-1]["val_loss"], "validation")
        if ckpt_path is not None and (state.finished or state.epoch % params.checkpoint_every == 0
                                      or state.epoch >= params.max_epochs):
            save_checkpoint(ckpt_path, fingerprint, net, optimizer, state)
    bar.close()


@torch.no_grad()
def _end_epoch(net, x_val, u_val, params, state, n_data):
    net.eval()
    mu, logvar = net.encode(x_val)  # once: the loss, the TC and the posterior sd share it
    terms = loss_terms(net, x_val, u_val, params, n_data, sample=False, encoded=(mu, logvar))
    if params.beta > 0:  # select on the objective as trained, disentanglement term included
        terms["tc"] = _validation_tc(mu, logvar, params)
    val = float(total_loss(terms, params, 1.0))
    record = {"epoch": state.epoch, "val_loss": val} | {k: float(v) for k, v in terms.items()}
    record["posterior_sd"] = float(torch.exp(0.5 * logvar).mean())
    state.history.append(record)
    # early stopping starts once the warm-up is over: before it the objective keeps changing
    past_warmup = state.epoch + 1 >= params.warmup_epochs
    state.finished = state.stopping.update(val, net, grace=not past_warmup)
    state.epoch += 1
    state.batch = 0


def save_checkpoint(path, fingerprint, net, optimizer, state: TrainState) -> None:
    save_atomic({
        "fingerprint": with_code(fingerprint),
        "finished": state.finished,
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "state": vars(state) | {"stopping": vars(state.stopping)},
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                "python": random.getstate()},
    }, path)


def restore_checkpoint(blob, net, optimizer) -> TrainState:
    net.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["optimizer"])
    torch.set_rng_state(blob["rng"]["torch"])
    np.random.set_state(blob["rng"]["numpy"])
    random.setstate(blob["rng"]["python"])
    saved = blob["state"]
    return TrainState(**saved | {"stopping": EarlyStopping(**saved["stopping"])})


class _sigterm_flag:
    """Context manager: a SIGTERM sets a flag the loop checks after each batch."""

    def __enter__(self):
        self.flag = {"flag": False}
        self.previous = None
        try:
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return self.flag

    def _handle(self, signum, frame):
        self.flag["flag"] = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False
