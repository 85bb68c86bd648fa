from pathlib import Path

from benediff.jobs import start
from benediff.report import write_ledger

start(snakemake)

write_ledger(Path(snakemake.input.resolved).parent, snakemake.output[0],
             title=snakemake.params.title, note=snakemake.params.note,
             control=snakemake.params.control, workdir=".", stages=snakemake.params.stages,
             causes=snakemake.params.causes, figure6=tuple(snakemake.params.figure6),
             expected=snakemake.params.expected,
             include=list(zip(snakemake.params.include_titles, snakemake.input.include)))
