"""Tables 1-3: mean ± std over seeds of R², RMSE and MIG, as CSV (long, numeric) and LaTeX."""

from pathlib import Path

import numpy as np
import pandas as pd

from benediff.io.atomic import atomic_output
from benediff.io.metrics import read_metrics
from benediff.latex import booktabs

METRICS = (("r2", "R² (%) ↑"), ("rmse", "RMSE ↓"), ("mig", "MIG (%) ↑"),
           ("mig_floor", "MIG floor, trials shuffled (%)"),
           ("mig_ceiling", "MIG ceiling, labels as code (%)"),
           ("mig_calibrated", "MIG calibrated, (MIG − floor)/(ceiling − floor) ↑"),
           ("mig_relative", "relative gap (I₁ − I₂)/I₁ (%), not Chen's MIG"),
           ("mig_decoder", "MIG, supervised linear decoder (%)"),
           ("mig_decoder_floor", "MIG floor of the decoder (%)"))
# metrics.json keys a fit from before a metric existed lacks: NaN in the tables
OPTIONAL = tuple(m for m, _ in METRICS if m.startswith("mig_"))
# the display name of each model (benediff.lvm.names.MODELS) in the tables and the figures' legends
MODEL_LABELS = {"ours": "Ours", "vae": "Standard VAE", "no_beha": "w/o Beha", "no_tc": "w/o TC",
                "ssl": "SSL", "cebra": "CEBRA", "pivae": "pi-VAE"}
READOUTS = (("ridge", "r2", "rmse"), ("mlp", "r2_mlp", "rmse_mlp"))  # CEBRA's two read-outs
READOUT_LABELS = {"ridge": "Ridge", "mlp": "MLP"}


def metric_rows(m: dict) -> list[dict]:
    """Table rows of one metrics.json: one, or one per read-out (``<model> (ridge|mlp)``) for a
    model without a decoder of its own (CEBRA), whose MIG is that of its embedding."""
    base = {k: m[k] for k in ("session", "region", "model", "run_seed", "mig")}
    base |= {k: m.get(k, np.nan) for k in OPTIONAL}
    if "r2_mlp" not in m:
        return [base | {"r2": m["r2"], "rmse": m["rmse"]}]
    return [base | {"model": f"{m['model']} ({name})", "r2": m[r2], "rmse": m.get(rmse, np.nan)}
            for name, r2, rmse in READOUTS]


def load_metrics(paths) -> pd.DataFrame:
    """Rows of session, region, model, run_seed and the metrics (``metric_rows`` per file)."""
    rows = [row for path in paths for row in metric_rows(read_metrics(path))]
    return pd.DataFrame(rows, columns=["session", "region", "model", "run_seed",
                                       *(m for m, _ in METRICS)])


def table_columns(models: list[str], summary: pd.DataFrame) -> list[str]:
    """``models`` with each one reported per read-out replaced by its ``(ridge)``/``(mlp)`` columns."""
    present = set(summary["model"])
    columns = []
    for model in models:
        split = [f"{model} ({name})" for name, _, _ in READOUTS]
        columns += [c for c in split if c in present] or [model]
    return columns


def model_label(column: str) -> str:
    model, _, readout = column.partition(" (")
    label = MODEL_LABELS.get(model, model)
    return f"{label} ({READOUT_LABELS.get(readout[:-1], readout[:-1])})" if readout else label


def summarise(df: pd.DataFrame, group: str) -> pd.DataFrame:
    """Long table: ``group`` (region or session), metric, model, mean, std (ddof 1), n_seeds."""
    long = df.melt(id_vars=[group, "model", "run_seed"],
                   value_vars=[m for m, _ in METRICS if m in df.columns], var_name="metric")
    stats = long.groupby([group, "metric", "model"], sort=False)["value"]
    out = stats.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                    n_seeds="count").reset_index()
    order = {m: i for i, (m, _) in enumerate(METRICS)}
    return out.sort_values([group, "metric"], key=lambda s: s.map(order) if s.name == "metric" else s,
                           kind="stable").reset_index(drop=True)


def to_latex(summary: pd.DataFrame, group: str, models: list[str], caption: str) -> str:
    """Paper-style table: rows (group, metric), columns models (CEBRA: one per read-out), cells
    mean ± std, best MIG bold."""
    labels = dict(METRICS)
    models = table_columns(models, summary)
    groups = []
    for key in dict.fromkeys(summary[group]):
        rows_out = []
        for metric, _ in METRICS:
            rows = summary[(summary[group] == key) & (summary["metric"] == metric)].set_index("model")
            best = rows["mean"].idxmax() if metric == "mig" and len(rows) else None
            cells = []
            for model in models:
                if model not in rows.index or not np.isfinite(rows.at[model, "mean"]):
                    cells.append("--")
                    continue
                cell = f"{rows.at[model, 'mean']:.2f} $\\pm$ {rows.at[model, 'std']:.2f}"
                cells.append(f"\\textbf{{{cell}}}" if model == best else cell)
            name = labels[metric].replace("²", "$^2$").replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")
            name = name.replace("%", r"\%").replace("₁", "$_1$").replace("₂", "$_2$").replace("−", "-")
            rows_out.append([key.replace('_', '-'), name, *cells])
        groups.append(rows_out)
    return booktabs("ll" + "c" * len(models), [group, "metric", *(model_label(m) for m in models)],
                    groups, caption=caption)


def write_table(metric_paths, group: str, models: list[str], caption: str, out_csv, out_tex) -> pd.DataFrame:
    summary = summarise(load_metrics(metric_paths), group)
    with atomic_output(out_csv) as tmp:
        summary.to_csv(tmp, index=False)
    with atomic_output(out_tex) as tmp:
        Path(tmp).write_text(to_latex(summary, group, models, caption))
    return summary
