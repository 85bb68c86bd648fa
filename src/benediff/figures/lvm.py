"""Figures of the LVM stage: per-latent decoding bars (Fig 4), reconstructions (Fig 5) and 2-D
latent trajectories across regions (Figs 7, 12). Each function writes one PDF."""


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benediff.io.atomic import atomic_output  # noqa: E402
from benediff.io.metrics import read_metrics  # noqa: E402
from benediff.lvm.tables import MODEL_LABELS  # noqa: E402  (the tables' names, in the legends too)


class LVMFigureError(ValueError):
    """A figure's inputs or settings are inconsistent; the message names the file or key."""


def _save(fig, path) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight")
    plt.close(fig)


def decoding_stats(metric_paths) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Mean and std over seeds of the (D, B) decoding matrices, factor and label names."""
    records = [read_metrics(p) for p in metric_paths]
    mats = np.array([r["decoding"] for r in records])
    std = mats.std(0, ddof=1) if len(mats) > 1 else np.zeros_like(mats[0])
    return mats.mean(0), std, records[0]["factor_names"], records[0]["label_names"]


def plot_decoding_bars(metric_paths, path, title="") -> None:
    """Fig 4: one panel per latent, one bar per behaviour (test R², mean ± std over seeds)."""
    mean, std, factors, labels = decoding_stats(metric_paths)
    n = len(factors)
    fig, axes = plt.subplots(1, n, figsize=(1.8 * n, 2.4), sharey=True, squeeze=False)
    colors = plt.cm.tab10(np.arange(len(labels)))
    low = min(0.0, float((mean - std).min()) - 5)
    for d, ax in enumerate(axes[0]):
        ax.bar(np.arange(len(labels)), mean[d], yerr=std[d], color=colors, capsize=2)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_title(f"latent {factors[d]}", fontsize=8)
        ax.set_ylim(low, 100)
        ax.axhline(0, color="k", lw=0.5)
    axes[0, 0].set_ylabel("single-latent decoding $R^2$ (%)")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_reconstructions(truth: np.ndarray, recons: dict, path, n_dims=4, frame_rate=30.0, title="") -> None:
    """Fig 5: ground truth (L, N) vs each model's reconstruction for the first ``n_dims`` dims."""
    n_dims = min(n_dims, truth.shape[1])
    t = np.arange(truth.shape[0]) / frame_rate
    fig, axes = plt.subplots(n_dims, 1, figsize=(6, 1.3 * n_dims), sharex=True, squeeze=False)
    for k, ax in enumerate(axes[:, 0]):
        ax.plot(t, truth[:, k], color="k", lw=1.5, label="ground truth")
        for model, rec in recons.items():
            ax.plot(t, rec[:, k], lw=1, label=MODEL_LABELS.get(model, model))
        ax.set_ylabel(f"dim {k + 1}", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].legend(fontsize=7, ncol=len(recons) + 1, frameon=False, loc="upper left",
                      bbox_to_anchor=(0, 1.45))
    fig.suptitle(title, fontsize=9, y=1.02)
    _save(fig, path)


def factor_columns(factor_names: list[str], wanted: list[str], source) -> list[int]:
    missing = [f for f in wanted if f not in factor_names]
    if missing:
        raise LVMFigureError(f"{source}: factors {missing} not among the latents {factor_names}; "
                             "set lvm.trajectories.factors to two behaviour names")
    return [factor_names.index(f) for f in wanted]


def plot_trajectories(per_region: dict, factors: list[str], path, title="") -> None:
    """Figs 7/12: per region a panel of 2-D latent trajectories; ``per_region`` maps region ->
    list of (L, 2) arrays (one per trial)."""
    n = len(per_region)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.4 * rows), squeeze=False)
    for ax, (region, trials) in zip(axes.flat, per_region.items()):
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(trials)))
        for traj, c in zip(trials, colors):
            ax.plot(traj[:, 0], traj[:, 1], color=c, lw=1)
            ax.plot(*traj[0], "o", color=c, ms=3)
        ax.set_title(region, fontsize=9)
        ax.set_xlabel(f"z ({factors[0]})", fontsize=8)
        ax.set_ylabel(f"z ({factors[1]})", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _test_positions(attrs, source) -> np.ndarray:
    test = np.asarray(attrs["split"].get("test", []))
    if test.size == 0:
        raise LVMFigureError(f"{source}: no test trials recorded in the latents file")
    return test


def figure4(metric_paths, path, config=None, seed=None) -> None:
    from benediff.provenance import write_sidecar

    first = read_metrics(metric_paths[0])
    plot_decoding_bars(metric_paths, path, title=f"{first['session']} {first['region']}: "
                       f"single-latent decoding ({first['model']}, {len(metric_paths)} seeds)")
    write_sidecar(path, config, seed, inputs=[str(p) for p in metric_paths])


def figure5(dataset_path, region: str, latents_by_model: dict, path, test_trial=0, n_dims=4,
            config=None, seed=None, pooled=False) -> None:
    """Ground truth (z-scored with training stats, as the models saw it) vs reconstructions.

    ``pooled``: the fits are pooled across sessions and ``dataset_path`` lists their datasets.
    """
    from benediff.io.latents import read_latents
    from benediff.lvm.pipeline import load_region
    from benediff.provenance import write_sidecar

    rd = load_region(dataset_path, region, pooled=pooled)
    recons, attrs = {}, None
    for model, lat_path in latents_by_model.items():
        arrays, attrs = read_latents(lat_path, "reconstruction")
        recons[model] = arrays
    test = _test_positions(attrs, dataset_path)
    if test_trial >= len(test):
        raise LVMFigureError(f"config key lvm.fig5.test_trial = {test_trial}, but the test split "
                             f"has {len(test)} trials; use 0..{len(test) - 1}")
    trial = int(test[test_trial])
    plot_reconstructions(rd.X[trial], {m: r[trial] for m, r in recons.items()}, path, n_dims,
                         title=f"{rd.session} {region}, test trial position {trial}")
    write_sidecar(path, config, seed, trial_position=trial)


def trajectory_figure(latents_by_region: dict, factors: list[str], n_trials: int, path,
                      draw_seed=0, config=None, seed=None) -> None:
    """Figs 7/12: the same ``n_trials`` test trials (seeded draw) in every region."""
    from benediff.io.latents import read_latents
    from benediff.provenance import write_sidecar

    per_region, chosen = {}, None
    for region, lat_path in latents_by_region.items():
        arrays, attrs = read_latents(lat_path)
        cols = factor_columns(attrs["factor_names"], factors, lat_path)
        if chosen is None:
            test = _test_positions(attrs, lat_path)
            rng = np.random.default_rng(draw_seed)
            chosen = np.sort(rng.choice(test, size=min(n_trials, len(test)), replace=False))
        per_region[region] = [arrays[i][:, cols] for i in chosen]
    plot_trajectories(per_region, factors, path,
                      title=f"latent trajectories, test trials {chosen.tolist()}")
    write_sidecar(path, config, seed, trials=chosen.tolist())
