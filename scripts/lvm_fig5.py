from benediff.figures.lvm import figure5
from benediff.jobs import start

start(snakemake)

figure5(
    snakemake.input.dataset,
    snakemake.params.region,
    {m: snakemake.input[m] for m in snakemake.params.models},
    snakemake.output[0],
    test_trial=snakemake.params.test_trial,
    n_dims=snakemake.params.n_dims,
    config=snakemake.params.config,
    seed=snakemake.params.seed,
    pooled=snakemake.params.pooled,
)
