from pathlib import Path

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.lvm.pipeline import evaluate_region, set_threads

start(snakemake)
set_threads(snakemake.threads)

# outputs: results/lvm/<session>/<region>/<model>/seed<seed>/metrics.json, one per fit, in order
outputs = [Path(p) for p in snakemake.output]
evaluate_region(
    snakemake.input.dataset,
    outputs[0].parents[2].name,
    [{"model": model, "model_path": out.with_name("model.pt"), "fit_path": out.with_name("fit.json"),
      "metrics_path": out} for (model, _), out in zip(snakemake.params.fits, outputs)],
    snakemake.params.lvm["mig_binning"],
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
    pooled=snakemake.params.pooled,
)
