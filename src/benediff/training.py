"""One training loop for every model: the VAE, the SSL and pi-VAE baselines, the frame
autoencoder, the VDM and CFG VDM, and the naive decoder.

A model plugs in a :class:`Fit`: its step (one optimisation step on one batch, with whatever
warm-up, EMA, AMP or classifier-free dropout it needs: those really differ), the batches of each
epoch, an optional end-of-epoch record (its validation loss) and its stateful objects (modules,
optimisers, scaler, torch / numpy generators). :func:`train` runs it as :class:`Loop` says:

- **resumable**: with a checkpoint path, the state (those objects, torch's, numpy's and python's
  global generators, the loop's position and history, the early-stopping state) is saved every
  ``checkpoint_every`` epochs and at the end, through :mod:`benediff.checkpoint`, whose
  :func:`~benediff.checkpoint.resume_from` decides whether a restarted run resumes. A resumed run
  ends with the same weights as an uninterrupted one (CPU): everything random is restored or
  stateless (:func:`epoch_order`), and the batches of an epoch in progress are saved with it, so a
  stateful sampler is not drawn twice;
- **SIGTERM-safe**: a SIGTERM is honoured after the batch in progress: the state is saved and the
  fit stops with :class:`TrainingInterrupted`; a rerun continues with the next batch;
- **early stopping** on the record's ``val_loss`` (:class:`EarlyStopping`), the best weights
  restored at the end;
- **one progress line** (:class:`benediff.jobs.Progress`) and, if asked, a tqdm bar.

A fit counted in steps (the diffusion models) is a fit of one-batch epochs with ``unit="step"``.
"""

import copy
import math
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from benediff.checkpoint import resume_from, save_atomic, with_code
from benediff.jobs import Progress


class TrainingInterrupted(RuntimeError):
    """The fit received SIGTERM; its state is checkpointed (if it has a checkpoint path) and a
    rerun resumes it."""


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of ``n`` training items in ``epoch``: a permutation fixed by (seed, epoch), so
    a resumed run sees the same batches as an uninterrupted one."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def seed_all(seed: int) -> None:
    """Seed torch, numpy's global generator and python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def significant_improvement(val: float, reference: float, min_delta: float) -> bool:
    """``val`` beats ``reference`` by more than the relative margin ``min_delta``."""
    if not math.isfinite(reference):
        return True
    return val < reference - min_delta * abs(reference)


@dataclass
class EarlyStopping:
    """Keep the weights of the best validation epoch; stop after ``patience`` epochs in which
    the loss did not beat the one at the last restart by the relative margin ``min_delta``
    (Keras-style min_delta; the kept weights still follow every improvement).

    Its fields are plain values, so ``vars(stopping)`` goes into a checkpoint and
    ``EarlyStopping(**saved)`` restores it.
    """

    patience: int
    min_delta: float = 0.0
    best_loss: float = math.inf
    best_state: dict | None = None
    stall_loss: float = math.inf  # the loss at the last restart of the patience count
    bad_epochs: int = 0

    def update(self, loss: float, module: torch.nn.Module, grace: bool = False) -> bool:
        """Record one epoch's validation ``loss``; True when training should stop.

        During ``grace`` (e.g. a warm-up in which the objective itself changes) every epoch's
        weights are kept and patience does not run.
        """
        if grace or self.best_state is None or loss < self.best_loss:
            self.best_loss, self.best_state = loss, copy.deepcopy(module.state_dict())
        if grace or significant_improvement(loss, self.stall_loss, self.min_delta):
            self.stall_loss, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
        return not grace and self.bad_epochs >= self.patience

    def restore_best(self, module: torch.nn.Module) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


@dataclass
class Loop:
    """How a fit runs: its length, checkpoints, early stopping and progress report."""

    what: str  # names the fit in console lines ("lvm fit: resuming from epoch 3 of 20")
    total: int  # epochs (or steps)
    unit: str = "epoch"
    checkpoint: str | Path | None = None  # the checkpoint file; None: nothing saved
    checkpoint_every: int = 1  # epochs (steps) between checkpoints; the last is always saved
    fingerprint: dict = field(default_factory=dict)  # settings + data digests (checkpoint.py)
    patience: int | None = None  # None: no early stopping
    min_delta: float = 0.0
    grace: Callable[[int], bool] | None = None  # epochs in which early stopping keeps all
    show: str | None = None  # the record's value on the progress line and bar
    note: str = ""  # said after that value on the progress line ("validation")
    bar: bool = False  # a tqdm bar


@dataclass
class Fit:
    """What a model plugs into :func:`train`.

    ``step(epoch, batch)`` runs one optimisation step and returns its loss as a float (kept for
    ``end``) or None; ``batches(epoch)`` lists the epoch's batches (drawn once per epoch);
    ``end(epoch, losses)`` returns the epoch's history record (with ``val_loss`` when the loop
    stops early), ``losses`` being the steps' returns; ``state`` names every stateful object of
    the fit (``nn.Module``, optimiser, ``GradScaler``, ``torch.Generator``,
    ``np.random.Generator``); ``module`` is set to train mode at each epoch's start and is the
    one whose best weights early stopping keeps.
    """

    step: Callable[[int, Any], float | None]
    batches: Callable[[int], Sequence]
    state: dict
    module: torch.nn.Module | None = None
    end: Callable[[int, list], dict] | None = None


@dataclass
class LoopState:
    """Where a fit is: everything of the loop a checkpoint holds."""

    done: int = 0  # finished epochs (steps)
    batch: int = 0  # next batch of the epoch in progress
    batches: list | None = None  # the batches of the epoch in progress, once drawn
    losses: list = field(default_factory=list)  # the step returns of the epoch in progress
    history: list = field(default_factory=list)  # one record per finished epoch
    stopping: EarlyStopping | None = None
    finished: bool = False  # stopped early


def train(loop: Loop, fit: Fit) -> list[dict]:
    """Run ``fit`` to its end (or resume it from ``loop.checkpoint``); return the history.

    With early stopping the module ends with its best weights."""
    stopping = None if loop.patience is None else EarlyStopping(loop.patience, loop.min_delta)
    state = LoopState(stopping=stopping)
    saved = resume_from(loop.checkpoint, loop.fingerprint, progress_of=lambda s: _done(s, loop),
                        total=loop.total, unit=loop.unit, what=loop.what)
    if saved is not None:
        state = _restore(saved, fit)
    with _sigterm_flag() as stop:
        _run(loop, fit, state, stop)
    if state.stopping is not None:
        state.stopping.restore_best(fit.module)
    return state.history


def _done(saved: dict, loop: Loop) -> int:
    """Epochs (steps) a checkpoint has done; one of a trainer before this loop counts as
    finished, so it is refitted instead of misread."""
    return saved["loop"]["done"] if "loop" in saved else loop.total


def _run(loop: Loop, fit: Fit, state: LoopState, stop: dict) -> None:
    bar = tqdm(total=loop.total, initial=state.done, disable=not loop.bar, desc=loop.what)
    line = Progress(f"{loop.what} ({loop.unit}s)", loop.total, start=state.done)
    step = fit.step
    while not state.finished and state.done < loop.total:
        if state.batches is None:
            state.batches = list(fit.batches(state.done))
        if fit.module is not None:
            fit.module.train()
        batches, losses = state.batches, state.losses
        while state.batch < len(batches):
            loss = step(state.done, batches[state.batch])
            if loss is not None:
                losses.append(loss)
            state.batch += 1
            if stop["flag"]:
                _interrupt(loop, fit, state)
        record = fit.end(state.done, losses) if fit.end is not None else {}
        state.history.append(record)
        if state.stopping is not None:
            grace = loop.grace is not None and loop.grace(state.done)
            state.finished = state.stopping.update(record["val_loss"], fit.module, grace=grace)
        state.done, state.batch, state.batches, state.losses = state.done + 1, 0, None, []
        value = record.get(loop.show) if loop.show else None
        bar.update(1)
        if value is not None:
            bar.set_postfix({loop.show: f"{value:.4g}"})
        line.update(state.done, value, loop.note)
        if loop.checkpoint is not None and (state.finished or state.done >= loop.total
                                            or state.done % loop.checkpoint_every == 0):
            save_checkpoint(loop, fit, state)
    bar.close()


def _interrupt(loop: Loop, fit: Fit, state: LoopState):
    where = "no checkpoint path, state not saved"
    if loop.checkpoint is not None:
        save_checkpoint(loop, fit, state)
        where = f"state saved to {loop.checkpoint}; rerun to resume"
    raise TrainingInterrupted(f"{loop.what}: SIGTERM at {loop.unit} {state.done}, "
                              f"batch {state.batch}; {where}")


def save_checkpoint(loop: Loop, fit: Fit, state: LoopState) -> None:
    """The fit's whole state, atomically (a kill mid-write leaves the previous checkpoint)."""
    save_atomic({
        "fingerprint": with_code(loop.fingerprint),
        "finished": state.finished,
        "loop": vars(state) | {"stopping": None if state.stopping is None else vars(state.stopping)},
        "state": {name: _state_of(obj) for name, obj in fit.state.items()},
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                "python": random.getstate()},
    }, loop.checkpoint)


def _restore(saved: dict, fit: Fit) -> LoopState:
    for name, obj in fit.state.items():
        _load_into(obj, saved["state"][name])
    torch.set_rng_state(saved["rng"]["torch"])
    np.random.set_state(saved["rng"]["numpy"])
    random.setstate(saved["rng"]["python"])
    loop = dict(saved["loop"])
    if loop["stopping"] is not None:
        loop["stopping"] = EarlyStopping(**loop["stopping"])
    return LoopState(**loop)


def _state_of(obj):
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if isinstance(obj, np.random.Generator):
        return obj.bit_generator.state
    return obj.state_dict()  # modules, optimisers, GradScaler


def _load_into(obj, saved) -> None:
    if isinstance(obj, torch.Generator):
        obj.set_state(saved)
    elif isinstance(obj, np.random.Generator):
        obj.bit_generator.state = saved
    else:
        obj.load_state_dict(saved)


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
