from pathlib import Path

from benediff.jobs import start
from benediff.report import write_ledger

start(snakemake)

write_ledger(Path(snakemake.input.resolved).parent, snakemake.output[0],
             title=snakemake.params.title, note=snakemake.params.note,
             control=snakemake.params.control)
