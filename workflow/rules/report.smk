# Report stage: the results ledger (results/RESULTS.md), the run's Tables 1-3 beside the paper's,
# the guided-generation scores and every claim of benediff.claims. Not part of `all` (the demo's
# time budget); ask for it: snakemake results/RESULTS.md --configfile ...
# The cost of each stage comes from Snakemake's own job records in this working directory.


def reported_artifacts():
    """The tables and figures of the stages named in report.stages."""
    stages = config["report"]["stages"]
    out = (
        ["results/tables/fig1b.csv", "results/figures/fig1b.pdf"]
        if "behavior" in stages
        else []
    )
    out += lvm_targets.all_outputs(config) if "lvm" in stages else []
    out += video_targets.final_outputs() if "video" in stages else []
    return out


def ledger_inputs():
    """What the ledger waits for: the reported artifacts, or nothing with report.partial (a
    snapshot of a run in progress, which reports what exists and lists what is missing).
    """
    return [] if config["report"]["partial"] else reported_artifacts()


def rule_stages():
    """Each rule's stage: the name of the rules file it is defined in (the cost table)."""
    from pathlib import Path

    return {r.name: Path(str(r.snakefile)).stem for r in workflow.rules}


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
        title=config["report"]["title"],
        note=config["report"]["note"],
        control=config["simulate"]["behavior_coupling"] == "independent",
        causes=config["report"]["causes"],
        include_titles=[entry["title"] for entry in config["report"]["include"]],
        expected=reported_artifacts(),
        figure6=[
            config["video"]["figures"]["fig6"]["region"],
            config["video"]["figures"]["fig6"]["factor"],
        ],
        stages=lambda wildcards: rule_stages(),
    script:
        "../../scripts/report_ledger.py"
