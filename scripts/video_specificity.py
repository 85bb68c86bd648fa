import logging
import sys

from benediff.video.pipeline import specificity

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

specificity(
    snakemake.input.dataset,
    {tuple(key.split("|")): path for key, path in zip(snakemake.params.entries, snakemake.input.generated)},
    snakemake.output.csv,
    snakemake.output.tex,
    snakemake.params.cfg,
    config=snakemake.params.config,
    seed=snakemake.params.seed,
)
