from benediff.figures.lvm import figure4
from benediff.jobs import start

start(snakemake)

figure4(list(snakemake.input), snakemake.output[0], snakemake.params.config,
        snakemake.params.seed)
