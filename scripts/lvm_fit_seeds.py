from pathlib import Path

from benediff.device import resolve_device
from benediff.jobs import start
from benediff.lvm.pipeline import fit_region, set_threads

start(snakemake)
set_threads(snakemake.threads)

p = snakemake.params
# outputs: results/lvm/<session>/<region>/<model>/seed<seed>/model.pt, one per seed, in order
first = Path(snakemake.output.model[0])
region, model = first.parents[2].name, first.parents[1].name
device = resolve_device(p.device, p.gpu_fallback)
for i, seed in enumerate(p.seeds):
    fit_region(
        snakemake.input.dataset,
        region,
        model,
        seed,
        p.lvm,
        base_seed=p.seed,
        device=device,
        checkpoint_dir=p.checkpoint_dirs[i],
        out_model=snakemake.output.model[i],
        out_latents=snakemake.output.latents[i],
        out_fit=snakemake.output.fit[i],
        evaluate_fit=False,
        pooled=p.pooled,
    )
