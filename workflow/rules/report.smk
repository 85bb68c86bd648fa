# Report stage: the results ledger (results/RESULTS.md), the run's Tables 1-3 beside the paper's,
# the guided-generation scores and every claim of benediff.claims. Not part of `all` (the demo's
# time budget); ask for it: snakemake results/RESULTS.md --configfile ...


rule results_ledger:
    input:
        [
            p
            for p in get_final_output()
            if p.startswith(("results/tables/", "results/figures/"))
        ],
        resolved="results/config.resolved.yaml",
    output:
        "results/RESULTS.md",
    log:
        "logs/results_ledger.log",
    conda:
        "../../envs/benediff.yaml"
    params:
        title=config["report"]["title"],
        note=config["report"]["note"],
        control=config["simulate"]["behavior_coupling"] == "independent",
    script:
        "../../scripts/report_ledger.py"
