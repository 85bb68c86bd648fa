import logging
import sys

from benediff.lvm.tables import write_table
from benediff.provenance import write_sidecar

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

write_table(
    snakemake.input,
    snakemake.params.group,
    snakemake.params.models,
    snakemake.params.caption,
    snakemake.output.csv,
    snakemake.output.tex,
)
write_sidecar(snakemake.output.csv, snakemake.config, snakemake.config["seed"],
              inputs=list(snakemake.input))
