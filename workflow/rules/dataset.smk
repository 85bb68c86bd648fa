rule split_trials:
    input:
        trials=trials_table,
    output:
        "results/{session}/split.json",
    log:
        "logs/split_trials/{session}.log",
    conda:
        "../../envs/benediff.yaml"
    threads: 1
    params:
        **rule_params("split_trials", "blocks", "seed"),
    script:
        "../../scripts/split_trials.py"


rule assemble_dataset:
    input:
        unpack(dataset_sources),
    output:
        "results/{session}/dataset.h5",
    log:
        "logs/assemble_dataset/{session}.log",
    wildcard_constraints:
        session=sessions_pattern(RECORDED_SESSIONS),
    conda:
        "../../envs/benediff.yaml"
    threads: 1
    params:
        **rule_params("assemble_dataset", "sources", "image_size", "config"),
    script:
        "../../scripts/assemble_dataset.py"


rule import_behavenet:
    input:
        behavenet_file,
    output:
        "results/{session}/dataset.h5",
    log:
        "logs/import_behavenet/{session}.log",
    wildcard_constraints:
        session=sessions_pattern(BEHAVENET_SESSIONS),
    conda:
        "../../envs/benediff.yaml"
    threads: 1
    params:
        **rule_params(
            "import_behavenet",
            "session_config",
            "behaviors",
            "regions",
            "split",
            "config",
        ),
    script:
        "../../scripts/import_behavenet.py"


# Trials in seconds (or an NWB movie's own trials table) as frames, for every stage
# (benediff.io.trials); trials_table() points the stages here for such sessions.
rule session_trials:
    input:
        trials=lambda wc: session_config(wc.session).get("trials") or [],
        movie=lambda wc: widefield_movie(wc) if is_nwb_movie(wc.session) else [],
        timestamps=lambda wc: session_timestamps(wc.session)["neural"] or [],
    output:
        "results/{session}/trials.csv",
    log:
        "logs/session_trials/{session}.log",
    wildcard_constraints:
        session=sessions_pattern([s for s in SESSIONS if trials_from_rule(s)]),
    conda:
        "../../envs/benediff.yaml"
    threads: 1
    params:
        **rule_params("session_trials", "rate", "channels", "nwb_series"),
    script:
        "../../scripts/session_trials.py"
