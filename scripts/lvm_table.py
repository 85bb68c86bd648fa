from benediff.jobs import start
from benediff.lvm.tables import write_table
from benediff.provenance import write_sidecar

start(snakemake)

write_table(
    snakemake.input,
    snakemake.params.group,
    snakemake.params.models,
    snakemake.params.caption,
    snakemake.output.csv,
    snakemake.output.tex,
)
write_sidecar(snakemake.output.csv, snakemake.params.config, snakemake.params.seed,
              inputs=list(snakemake.input))
