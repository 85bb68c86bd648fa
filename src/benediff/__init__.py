"""benediff: BeNeDiff (NeurIPS 2024) as a Snakemake pipeline."""

__version__ = "0.1.0"
