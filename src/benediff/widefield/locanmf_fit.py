"""LocaNMF factorisation engine (docs/WIDEFIELD.md §8): regions, initialisation, HALS, λ and rank searches.

All tensors live on one device. Spatial maps are pixel-major ``At`` (P, n); temporal factors
``C`` (n, K') are in the coordinates of ``W`` (K, K'): Rᵀ after the QR trick, V otherwise, so the
video is Y = Um W with Um (P, K) the in-mask spatial SVD rows.
"""

import logging
import math
import sys
from dataclasses import dataclass

import torch

from benediff.jobs import Progress
from benediff.widefield.locanmf_kernels import spatial_sweep, temporal_sweep

log = logging.getLogger(__name__)


@dataclass
class Problem:
    """The compressed video and the region metadata, on the compute device."""

    Um: torch.Tensor  # (P, K) spatial rows of the in-mask pixels
    W: torch.Tensor  # (K, K') temporal matrix
    distance: torch.Tensor  # (P, R) distance in px to the nearest pixel of region r
    support: torch.Tensor  # (P, R) bool, pixel inside region r
    nonneg: bool
    fused: bool
    relative: bool = False  # state.lam holds λ in units of each component's temporal energy ||c_k||²
    labels: list | None = None  # atlas code of each region (for messages)

    @property
    def n_regions(self):
        return self.support.shape[1]


@dataclass
class State:
    """Current factorisation: At (P, n) ≥ 0, C (n, K'), per-component λ and region index."""

    At: torch.Tensor
    C: torch.Tensor
    lam: torch.Tensor
    reg: torch.Tensor
    sweeps: int = 0  # HALS iterations run so far (for reporting)

    def take(self, idx):
        return State(self.At[:, idx].contiguous(), self.C[idx].contiguous(), self.lam[idx], self.reg[idx],
                     self.sweeps)

    @property
    def n(self):
        return self.C.shape[0]


@dataclass(frozen=True)
class Schedule:
    """A λ schedule (``widefield.locanmf.lambda_schedule``): whether λ is relative to each
    component's temporal energy ||c_k||² (see :func:`effective_lambda`), the LocaNMF parameters
    (config keys) of its initial value and step, and what to raise when components stay
    unlocalised."""

    relative: bool
    init: str
    step: str
    hint: str


SCHEDULES = {  # the only place that tells the schedules apart
    "scaled": Schedule(True, "lambda_scaled_init", "lambda_scaled_step", "lambda_scaled_step"),
    "reference": Schedule(False, "lambda_init", "lambda_step", "lambda_step, or set lambda_schedule: scaled"),
}


@dataclass
class Settings:
    min_rank: int
    max_rank: int
    rank_step: int
    loc_thresh: float
    r2_thresh: float
    lambda_init: float
    lambda_step: float
    maxiter_lambda: int
    maxiter_hals: int
    tol: float | None
    warm_start: bool
    seed: int
    schedule: str  # a key of SCHEDULES; lambda_init/step are that schedule's values
    verbose: bool
    progress: bool  # tqdm bar on stderr when not verbose


def hals(problem, state, maxiter, tol, penalise):
    """``maxiter`` HALS iterations (spatial sweep, prune + sort, normalise, temporal sweep, prune).

    With ``tol``, stop after the first iteration in which both sweeps change their factor by less
    than ``tol`` (relative Frobenius norm). The objective itself is no good test in float32: after
    the QR trick its fit term is a small difference of large numbers.
    """
    Um, W = problem.Um, problem.W
    done = 0
    for _ in range(maxiter):
        if state.n == 0:
            break
        done += 1
        Gt = Um @ (W @ state.C.T)
        if penalise:
            Gt.addcmul_(problem.distance[:, state.reg], effective_lambda(problem, state), value=-0.5)
        change_a = spatial_sweep(state.At, Gt, state.C @ state.C.T, problem.fused)
        moved_a = tol is None or change_a > tol**2 * float((state.At**2).sum())
        state = _prune_sort_normalise(state)
        SA = state.At.T @ state.At
        G = (state.At.T @ Um) @ W
        change_c = temporal_sweep(state.C, G, SA, problem.nonneg)
        moved_c = tol is None or change_c > tol**2 * float((state.C**2).sum())
        state = _prune_empty_traces(state)
        if not (moved_a or moved_c):
            break
    state.sweeps += done
    return state


def effective_lambda(problem, state):
    """λ as it enters the spatial update. With ``problem.relative``, λ_k = state.lam_k · ||c_k||².

    The spatial HALS step of a unit-peak map a_k is a_k ← max(0, a_k + (g_k − λ_k d/2 − S_k·a)/S_kk)
    with S_kk = ||c_k||², so a relative λ lowers a pixel at distance d (px) from its region by
    λ_rel·d/2 of the map's peak whatever the scale of the data: U → αU leaves the maps unchanged.
    """
    if not problem.relative:
        return state.lam
    return state.lam * (state.C.double() ** 2).sum(1).to(state.lam.dtype)


def _prune_sort_normalise(state):
    """Drop all-zero maps, order by spatial norm (descending), scale maps to unit peak (C absorbs it)."""
    norms = torch.linalg.vector_norm(state.At, dim=0)
    peak = state.At.max(dim=0).values
    order = torch.argsort(-norms, stable=True)[: int((peak > 0).sum())]
    if order.numel() != state.n or bool((order != torch.arange(state.n, device=order.device)).any()):
        state, peak = state.take(order), peak[order]
    state.At /= peak
    state.C *= peak[:, None]
    return state


def _prune_empty_traces(state):
    alive = (state.C != 0).any(dim=1)
    return state if bool(alive.all()) else state.take(torch.nonzero(alive).squeeze(1))


def in_region_fraction(problem, state):
    """Fraction of each component's squared spatial energy inside its birth region."""
    sq = state.At**2
    inside = (sq * problem.support[:, state.reg]).sum(0)
    return inside / sq.sum(0)


def lambda_search(problem, state, settings, report=None):
    """Grow λ (only for badly localised components) until every component is localised.

    ``report(round, state, fraction)`` is called after every λ round (progress / verbose log).
    """
    limit = 100.0 / settings.loc_thresh if settings.loc_thresh > 0 else math.inf
    for iteration in range(settings.maxiter_lambda):
        state = hals(problem, state, settings.maxiter_hals, settings.tol, penalise=True)
        fraction = in_region_fraction(problem, state)
        bad = fraction * limit < 1
        if report is not None:
            report(iteration + 1, state, fraction)
        if not bool(bad.any()):
            return state, iteration + 1
        state.lam = torch.where(bad, state.lam * settings.lambda_step, state.lam)
    n_bad = int((in_region_fraction(problem, state) * limit < 1).sum())
    log.warning(
        "LocaNMF: maxiter_lambda=%d reached with %d of %d components below loc_thresh=%g%%; "
        "raise widefield.locanmf.maxiter_lambda or %s",
        settings.maxiter_lambda, n_bad, state.n, settings.loc_thresh,
        SCHEDULES[settings.schedule].hint,
    )
    return state, settings.maxiter_lambda


def region_init(problem, r, rank, settings):
    """Randomised SVD of region r's video, then unpenalised HALS on that video alone (§8.4)."""
    idx = torch.nonzero(problem.support[:, r]).squeeze(1)
    Um_r = problem.Um[idx]
    gen = torch.Generator(device=Um_r.device).manual_seed(settings.seed * 100_003 + r)
    q = min(rank, idx.numel())
    u, s, vt = _randomized_svd(Um_r, problem.W, q, gen)
    scale = u.mean(0) * s
    sub = Problem(Um_r, problem.W, Um_r.new_zeros(idx.numel(), 1), Um_r.new_ones(idx.numel(), 1, dtype=torch.bool),
                  problem.nonneg, problem.fused)
    state = State(
        torch.ones(idx.numel(), q, dtype=Um_r.dtype, device=Um_r.device),
        (scale[:, None] * vt).to(Um_r.dtype).contiguous(),
        Um_r.new_zeros(q),
        torch.zeros(q, dtype=torch.long, device=Um_r.device),
    )
    state = hals(sub, state, settings.maxiter_hals, settings.tol, penalise=False)
    At = problem.Um.new_zeros(problem.Um.shape[0], state.n)
    At[idx] = state.At
    return State(At, state.C, state.lam.fill_(settings.lambda_init), torch.full_like(state.reg, r))


def _randomized_svd(Um_r, W, q, gen, n_iter=2, oversample=10):
    """Top-q SVD of Um_r @ W without forming it (power iterations with QR), in float64."""
    Um_r, W = Um_r.double(), W.double()
    width = min(q + oversample, Um_r.shape[0], W.shape[1])
    omega = torch.randn(W.shape[1], width, generator=gen, device=W.device, dtype=torch.float64)
    basis = torch.linalg.qr(Um_r @ (W @ omega)).Q
    for _ in range(n_iter):
        z = torch.linalg.qr(W.T @ (Um_r.T @ basis)).Q
        basis = torch.linalg.qr(Um_r @ (W @ z)).Q
    ub, s, vt = torch.linalg.svd((basis.T @ Um_r) @ W, full_matrices=False)
    return (basis @ ub)[:, :q], s[:q], vt[:q]


def region_r2_internal(problem, state):
    """Per-region 1 − mean(resid²)/mean_pixels(var(Y_p)) on the compressed video (the reference's R²)."""
    Y_energy, Y_mean = _pixel_moments(problem)
    proj = problem.Um @ (problem.W @ state.C.T)
    resid = Y_energy - 2 * (proj * state.At).sum(1) + ((state.At @ (state.C @ state.C.T)) * state.At).sum(1)
    width = problem.W.shape[1]
    var = Y_energy / width - Y_mean**2
    sup = problem.support.to(resid.dtype)
    return 1 - (resid @ sup) / width / (var @ sup)


def global_r2_internal(problem, state):
    """1 − Σ resid² / Σ_pixels T'·var(Y_p) over the whole FOV, as ``region_r2_internal`` (one extra product)."""
    Y_energy, Y_mean = _pixel_moments(problem)
    proj = problem.Um @ (problem.W @ state.C.T)
    resid = Y_energy - 2 * (proj * state.At).sum(1) + ((state.At @ (state.C @ state.C.T)) * state.At).sum(1)
    width = problem.W.shape[1]
    return float(1 - resid.sum() / (Y_energy - width * Y_mean**2).sum())


def _pixel_moments(problem):
    Y_energy = ((problem.Um @ (problem.W @ problem.W.T)) * problem.Um).sum(1)
    Y_mean = problem.Um @ problem.W.mean(1)
    return Y_energy, Y_mean


def component_caps(problem, settings):
    """Per-region maximum ranks whose total never exceeds the rank of the compressed video.

    The video Um·W (K' = W.shape[1] = min(K, T) columns after the QR trick) has rank at most
    min(K, K'), so more than K' components cannot all carry
    signal. When ``n_regions × max_rank`` exceeds it, the K' slots go first to every region's first
    ``min_rank`` components, then to the components with the largest singular values of their
    region's video: regions with little signal get fewer (possibly none if K' < n_regions).
    Returns (caps, requested, allowed).
    """
    sizes = problem.support.sum(0).tolist()
    caps = [min(settings.max_rank, int(n)) for n in sizes]
    allowed = min(problem.Um.shape[1], problem.W.shape[1])
    requested = sum(caps)
    if requested <= allowed:
        return caps, requested, allowed
    candidates = []
    for r in range(problem.n_regions):
        idx = torch.nonzero(problem.support[:, r]).squeeze(1)
        gen = torch.Generator(device=problem.Um.device).manual_seed(settings.seed * 100_003 + r)
        values = _randomized_svd(problem.Um[idx], problem.W, caps[r], gen)[1].tolist()
        candidates += [(j >= settings.min_rank, -value, r, j) for j, value in enumerate(values)]
    capped = [0] * problem.n_regions
    for *_, r, _j in sorted(candidates)[:allowed]:
        capped[r] += 1
    return capped, requested, allowed


def rank_search(problem, settings):
    """Grow the rank of regions whose R² is below r2_thresh (§8.7). Returns (state, info dict)."""
    n_reg = problem.n_regions
    caps, requested, allowed = component_caps(problem, settings)
    if requested > allowed:
        names = problem.labels if problem.labels is not None else list(range(n_reg))
        full = [min(settings.max_rank, int(n)) for n in problem.support.sum(0).tolist()]
        fewer = {int(names[r]): caps[r] for r in range(n_reg) if caps[r] < full[r]}
        log.warning(
            "LocaNMF: %d regions x max_rank=%d request up to %d components but the video's SVD rank is %d; "
            "fitting at most %d components in total, fewer in the regions with the least signal (region: max "
            "components) %s. Raise widefield.svd.rank (or record more frames) or lower widefield.locanmf.max_rank",
            n_reg, settings.max_rank, requested, allowed, allowed, fewer,
        )
    ranks = [min(settings.min_rank, caps[r]) for r in range(n_reg)]
    active = [r for r in range(n_reg) if caps[r] > 0]
    inits = {}
    flagged = list(active)
    state, history = None, []
    progress = _Progress(problem, settings, len(active))
    try:
        while True:
            for r in flagged:
                inits[r] = region_init(problem, r, ranks[r], settings)
            state = _assemble(problem, inits, state, flagged if settings.warm_start else None, settings.lambda_init,
                              active)
            progress.start_rank_round(len(history) + 1, len(flagged), state.n)
            state, lambda_rounds = lambda_search(problem, state, settings, progress.lambda_round)
            r2 = region_r2_internal(problem, state)
            history.append({"components": state.n, "lambda_rounds": lambda_rounds, "hals_iterations": state.sweeps})
            flagged = [r for r in active if ranks[r] < caps[r] and float(r2[r]) < settings.r2_thresh]
            progress.end_rank_round(history[-1], r2, len(flagged))
            if not flagged:
                return state, {"r2_region_internal": r2, "ranks": ranks, "caps": caps, "history": history}
            for r in flagged:
                ranks[r] = min(ranks[r] + settings.rank_step, caps[r])
    finally:
        progress.close()


class _Progress:
    """A log line per rank and λ round (``verbose``), else a tqdm bar of λ rounds on stderr."""

    def __init__(self, problem, settings, n_regions):
        self.problem, self.settings, self.n_regions, self.bar = problem, settings, n_regions, None
        self.rank_round = 0
        if not settings.verbose and settings.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc="LocaNMF", unit=" λ rounds", file=sys.stderr, mininterval=2.0, dynamic_ncols=True)

    def start_rank_round(self, number, refit, components):
        self.rank_round = number
        self.line = Progress(f"LocaNMF rank round {number} (λ rounds)", self.settings.maxiter_lambda)
        if self.settings.verbose:
            log.info("LocaNMF rank round %d: %d regions (%d refitted), %d components, λ search (%s schedule, "
                     "maxiter_lambda=%d)", number, self.n_regions, refit, components, self.settings.schedule,
                     self.settings.maxiter_lambda)

    def lambda_round(self, number, state, fraction):
        localised = 100.0 * float((fraction * 100 >= self.settings.loc_thresh).double().mean()) if state.n else 100.0
        self.line.update(number, note=f"{state.n} components, {localised:.0f}% localised")
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"rank round {self.rank_round}, {state.n} comps, {localised:.0f}% localised",
                                     refresh=False)
        if self.settings.verbose:
            lam = state.lam.double()
            unit = " (x||c||^2)" if self.problem.relative else ""
            log.info("LocaNMF rank round %d, λ round %d: %d regions, %d components, λ%s median %.3g max %.3g, "
                     "%.1f%% localised (min in-region %.1f%%), R² %.4f", self.rank_round, number, self.n_regions,
                     state.n, unit, float(lam.median()) if state.n else 0.0, float(lam.max()) if state.n else 0.0,
                     localised, 100 * float(fraction.min()) if state.n else 100.0,
                     global_r2_internal(self.problem, state))

    def end_rank_round(self, entry, r2, n_flagged):
        if self.settings.verbose:
            log.info("LocaNMF rank round %d done: %d components, %d λ rounds, %d HALS iterations, region R² "
                     "median %.4f min %.4f, %d regions below r2_thresh=%g get more components", self.rank_round,
                     entry["components"], entry["lambda_rounds"], entry["hals_iterations"], float(r2.median()),
                     float(r2.min()), n_flagged, self.settings.r2_thresh)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _assemble(problem, inits, previous, refit, lambda_init, active):
    """Full-FOV state from the region inits; with warm start, unflagged regions keep the previous fit."""
    parts = []
    for r in active:
        if previous is not None and refit is not None and r not in refit:
            kept = previous.take(torch.nonzero(previous.reg == r).squeeze(1))
            kept.lam = torch.full_like(kept.lam, lambda_init)  # λ restarts every rank round (§8.6)
            parts.append(kept)
        else:
            parts.append(inits[r])
    return State(
        torch.cat([p.At for p in parts], dim=1).contiguous(),
        torch.cat([p.C for p in parts], dim=0).contiguous(),
        torch.cat([p.lam.clone() for p in parts]),
        torch.cat([p.reg for p in parts]),
    )
