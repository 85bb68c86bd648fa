rule split_trials:
    input:
        trials=trials_table,
    output:
        "results/{session}/split.json",
    log:
        "logs/split_trials/{session}.log",
    params:
        blocks=config["split"]["blocks"],
        seed=config["split"]["seed"],
    conda:
        "../../envs/benediff.yaml"
    threads: 1
    script:
        "../../scripts/split_trials.py"


rule assemble_dataset:
    input:
        unpack(dataset_sources),
    output:
        "results/{session}/dataset.h5",
    log:
        "logs/assemble_dataset/{session}.log",
    params:
        sources=config["dataset"],
        image_size=image_size(),
        config=stage_config("sessions", "simulate", "split", "dataset", "widefield", "behavior"),
    conda:
        "../../envs/benediff.yaml"
    threads: 1
    script:
        "../../scripts/assemble_dataset.py"
