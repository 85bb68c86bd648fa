import logging
import sys

from benediff.figures.lvm import figure4

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

figure4(list(snakemake.input), snakemake.output[0], snakemake.config, snakemake.config["seed"])
