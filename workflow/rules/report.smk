# Report stage: the results ledger (results/RESULTS.md), the run's Tables 1-3 beside the paper's,
# the guided-generation scores and every claim of benediff.claims. Not part of `all` (the demo's
# time budget); ask for it: snakemake results/RESULTS.md --configfile ...
# The cost of each stage comes from Snakemake's own job records in this working directory.
# Its input functions are in common.smk.


rule results_ledger:
    input:
        ledger_inputs(),
        resolved="results/config.resolved.yaml",
        include=[entry["ledger"] for entry in config["report"]["include"]],
    output:
        "results/RESULTS.md",
    log:
        "logs/results_ledger.log",
    conda:
        "../../envs/benediff.yaml"
    params:
        **rule_params(
            "results_ledger",
            "title",
            "note",
            "control",
            "causes",
            "include_titles",
            "expected",
            "figure6",
        ),
        # not config: which rules file defines each rule (the cost table's stages)
        stages=lambda wildcards: rule_stages(),
    script:
        "../../scripts/report_ledger.py"
