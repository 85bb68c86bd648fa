from benediff.device import resolve_device
from benediff.jobs import start
from benediff.lvm.pipeline import fit_region, set_threads

start(snakemake)
set_threads(snakemake.threads)

fit_region(
    snakemake.input.dataset,
    snakemake.wildcards.region,
    snakemake.wildcards.model,
    int(snakemake.wildcards.seed),
    snakemake.params.lvm,
    base_seed=snakemake.params.seed,
    device=resolve_device(snakemake.params.device, snakemake.params.gpu_fallback),
    checkpoint_dir=snakemake.params.checkpoint_dir,
    out_model=snakemake.output.model,
    out_latents=snakemake.output.latents,
    out_fit=snakemake.output.fit,
    evaluate_fit=False,
    pooled=snakemake.params.pooled,
)
