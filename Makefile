# The README's two commands: `make demo` (the demo DAG) and `make test` (the test suite).
# Both create the virtual environments they need on first use.

PYTHON ?= python3
VENV := .venv
DLC_VENV := .venv-dlc
CORES ?= 2

.PHONY: demo test control study study-locanmf results results-parts ledger env dlc-env report lint config-docs clean

demo: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --configfile=config/demo.yaml

test: $(VENV)/.installed $(DLC_VENV)/.installed
	$(VENV)/bin/pytest

# the independent-behaviour control: Tables 1-3 and the video stage's specificity score of the
# demo with uncorrelated behaviours, in runs/independent/, then the claims check on them (with
# one more, set before any control ran: ours' calibrated MIG >= 0.5, half-way from chance to the
# labels' own MIG) and its snapshot in docs/control
CONTROL_TABLES := results/config.resolved.yaml results/tables/table1.csv results/tables/table2.csv results/tables/table3.csv \
	results/tables/specificity.csv results/figures/specificity.pdf results/RESULTS.md

control: $(VENV)/.installed
	$(VENV)/bin/snakemake -s workflow/Snakefile $(CONTROL_TABLES) --cores $(CORES) \
		--configfile config/demo.yaml config/independent.yaml --directory runs/independent
	$(VENV)/bin/python benchmarks/check_claims.py --results runs/independent/results --control --min-calibrated 0.5
	$(VENV)/bin/python -m benediff.report snapshot runs/independent/results docs/control

# the paper-scale study (config/study.yaml, runs/study/): its LVM part, Tables 1-3 and Figs 4, 5,
# 7, 12 at the paper's sizes (about 6 CPU-hours of fits, 3-4 h on 2 cores; a stopped run resumes). The
# LocaNMF variant runs the whole chain at the paper's frame size on shorter recordings.
STUDY_TARGETS := results/tables/table1.csv results/tables/table2.csv results/tables/table3.csv \
	results/figures/fig4.pdf results/figures/fig5.pdf results/figures/fig7.pdf results/figures/fig12.pdf

study: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --configfile config/study.yaml --directory runs/study $(STUDY_TARGETS)

study-locanmf: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --configfile config/study_locanmf.yaml \
		--directory runs/study_locanmf results/tables/table1.csv results/tables/table2.csv \
		results/tables/table3.csv results/S1/widefield/qc.pdf results/S2/widefield/qc.pdf

# results as data: each run's tables, fits' metrics.json and job costs are committed as a
# snapshot (docs/demo, docs/control, docs/study/part*), and docs/RESULTS.md is written from the
# snapshots alone (`make ledger`), with today's claims and causes, without rerunning anything.
# `make results` runs the demo (if it has not run), snapshots it into docs/demo, then `make ledger`.
SNAPSHOTS := docs/demo docs/control docs/study/noisy docs/study/locanmf docs/study/part1 docs/study/part2

results: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --configfile config/demo.yaml config/causes.yaml \
		--forcerun results_ledger -- results/RESULTS.md
	$(VENV)/bin/python -m benediff.report snapshot results docs/demo
	$(MAKE) ledger

LEDGER_PREAMBLE := This file holds every run this project reports, each generated from its committed \
	snapshot (docs/demo, docs/control, docs/study/part*: tables, resolved config, per-fit metrics, job costs) \
	by make ledger, with the claims of benediff.claims and the causes of config/causes.yaml as they are today.

ledger: $(VENV)/.installed
	$(VENV)/bin/python -m benediff.report ledger $(wildcard $(SNAPSHOTS)) --causes config/causes.yaml \
		--preamble "$(LEDGER_PREAMBLE)" -o docs/RESULTS.md

# the study's ledger as it stands, layered with $(1), copied to docs/RESULTS.md
study_ledger = $(VENV)/bin/snakemake --cores $(CORES) --configfile config/study.yaml config/causes.yaml \
	config/partial.yaml $(1) --directory runs/study --forcerun results_ledger -- results/RESULTS.md \
	&& cp runs/study/results/RESULTS.md docs/RESULTS.md

# the same for a study run in parts whose earlier run directories are gone: this part's ledger,
# then the earlier parts' ledgers as they were generated (config/study_parts.yaml, docs/study/)
results-parts: $(VENV)/.installed
	$(call study_ledger,config/study_parts.yaml)

report: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --configfile=config/demo.yaml --report report.html

lint: $(VENV)/.installed
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check workflow/

# the key tables of config/README.md, rewritten from workflow/schemas (edit the schema, then run
# this; tests/test_config_docs.py fails while a table differs from the schema)
config-docs: $(VENV)/.installed
	$(VENV)/bin/python -m benediff.config_docs

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	# the CPU wheel of torch first: an unpinned torch would pull a multi-GB CUDA build
	$(VENV)/bin/pip install torch==2.13.0
	$(VENV)/bin/pip install -e '.[workflow,baselines,nwb,test]'
	$(VENV)/bin/pip install --no-deps pi-vae-pytorch==1.1.0
	touch $@

# DeepLabCut lives in its own venv: its packaging>=26 pin conflicts with Snakemake's.
dlc-env: $(DLC_VENV)/.installed

$(DLC_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DLC_VENV)
	$(DLC_VENV)/bin/pip install --upgrade pip
	$(DLC_VENV)/bin/pip install torch==2.13.0 torchvision==0.28.0 deeplabcut==3.0.2
	$(DLC_VENV)/bin/pip install --no-deps -e .
	touch $@

clean:
	rm -rf results resources logs .snakemake report.html runs
