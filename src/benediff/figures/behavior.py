"""Figure 1B: mixed selectivity, cross-validated R² of decoding each behaviour per region."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benediff.behavior.decoding import mixed_selectivity  # noqa: E402
from benediff.io import dataset  # noqa: E402
from benediff.io.atomic import atomic_output  # noqa: E402
from benediff.provenance import write_sidecar  # noqa: E402


def plot_fig1b(table, path) -> None:
    """Grouped bars: one group per region, one bar per behaviour, R² on the y axis."""
    regions = list(dict.fromkeys(table["region"]))
    behaviors = list(dict.fromkeys(table["behavior"]))
    r2 = table.pivot(index="region", columns="behavior", values="r2").loc[regions, behaviors]
    width = 0.8 / len(behaviors)
    fig, ax = plt.subplots(figsize=(2.4 + 0.9 * len(regions), 3.2))
    for j, b in enumerate(behaviors):
        ax.bar(np.arange(len(regions)) + (j - (len(behaviors) - 1) / 2) * width,
               r2[b].to_numpy(), width, label=b)
    ax.set_xticks(np.arange(len(regions)), regions)
    ax.set_ylabel("cross-validated $R^2$")
    ax.set_ylim(min(0.0, float(np.nanmin(r2.to_numpy())) - 0.05), 1.0)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title("Mixed selectivity: decoding behaviour from each region")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def make_fig1b(dataset_h5, pdf, csv, *, regions, n_folds: int = 5, alpha: float = 1.0,
               seed: int = 0, config=None):
    """Read the session dataset, compute the R² table, write CSV + PDF + provenance sidecars."""
    ds = dataset.read(dataset_h5, groups=("neural", "labels"))
    table = mixed_selectivity(ds, regions, n_folds, alpha, seed)
    with atomic_output(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    plot_fig1b(table, pdf)
    for artifact in (csv, pdf):
        write_sidecar(artifact, config, seed, session=ds.session, source=str(dataset_h5))
    return table
