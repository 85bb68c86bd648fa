# Simulation stage: raw inputs of simulated sessions under resources/sessions/{session}/.
# Logic in benediff.simulate; outputs are named by benediff.simulate.raw_paths.

from benediff.simulate import atlas_input, params_from_config, raw_paths


rule simulate_session:
    input:
        atlas=lambda wildcards: atlas_input(config),
    output:
        **raw_paths("{session}", config),
    log:
        "logs/simulate_session/{session}.log",
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    params:
        **rule_params("simulate_session", "sim"),
    script:
        "../../scripts/simulate.py"
