from benediff.assemble import split_from_trials_table
from benediff.jobs import start

start(snakemake)

split_from_trials_table(
    snakemake.input.trials,
    snakemake.output[0],
    blocks=snakemake.params.blocks,
    seed=snakemake.params.seed,
)
