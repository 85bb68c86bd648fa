#!/usr/bin/env bash
# Snakemake (--sdm conda) runs this inside the new env: install this checkout of benediff without
# its dependencies (the env file lists the ones its rules import; tests/test_envs.py checks).
# BENEDIFF_REPO is exported by workflow/Snakefile; an env file cannot use a relative path
# because Snakemake copies it under .snakemake/conda/.
set -euo pipefail
python -m pip install --no-deps -e "${BENEDIFF_REPO:?run through workflow/Snakefile, which sets it}"
