import logging

from benediff.config import config_hash, write_resolved
from benediff.jobs import start

start(snakemake)

path = write_resolved(snakemake.params.config, snakemake.output[0])
logging.info("wrote %s (config hash %s)", path, config_hash(snakemake.params.config))
