# Widefield stage: raw movie -> motion -> dF/F + SVD -> haemodynamics -> LocaNMF -> neural.h5.
# Logic in benediff.widefield.pipeline (one function per rule); intermediates under
# results/{session}/widefield/.


rule widefield_motion:
    input:
        movie=widefield_movie,
    output:
        "results/{session}/widefield/motion.h5",
    log:
        "logs/widefield_motion/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_motion", "cfg", "fmt"),
    script:
        "../../scripts/widefield_motion.py"


rule widefield_atlas:
    input:
        atlas=widefield_atlas,
        landmarks=lambda wc: raw_path(wc.session, "landmarks"),
        movie=widefield_movie,
        motion="results/{session}/widefield/motion.h5",
    output:
        "results/{session}/widefield/atlas.h5",
    log:
        "logs/widefield_atlas/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_atlas", "cfg", "fmt"),
    script:
        "../../scripts/widefield_atlas.py"


# Not part of `all`: a starting guess for a session's landmarks.json (from the brain mask of
# the recording) and a preview PNG; edit it with `benediff landmarks` on a display.
rule widefield_landmarks:
    input:
        atlas=widefield_atlas,
        movie=widefield_movie,
        motion="results/{session}/widefield/motion.h5",
    output:
        json="results/{session}/widefield/landmarks_guess.json",
        png="results/{session}/widefield/landmarks_guess.png",
    log:
        "logs/widefield_landmarks/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_landmarks", "cfg", "fmt"),
    script:
        "../../scripts/widefield_landmarks.py"


rule widefield_svd:
    input:
        movie=widefield_movie,
        motion="results/{session}/widefield/motion.h5",
        atlas="results/{session}/widefield/atlas.h5",
        trials=trials_table,
    output:
        "results/{session}/widefield/svd.h5",
    log:
        "logs/widefield_svd/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_svd", "cfg", "fmt", "device", "gpu_fallback"),
    script:
        "../../scripts/widefield_svd.py"


rule widefield_hemo:
    input:
        "results/{session}/widefield/svd.h5",
        motion="results/{session}/widefield/motion.h5",  # motion regressors (widefield.motion.regress)
    output:
        "results/{session}/widefield/hemo.h5",
    log:
        "logs/widefield_hemo/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_hemo", "cfg", "device", "gpu_fallback"),
    script:
        "../../scripts/widefield_hemo.py"


rule widefield_locanmf:
    input:
        hemo="results/{session}/widefield/hemo.h5",
        atlas="results/{session}/widefield/atlas.h5",
    output:
        "results/{session}/widefield/locanmf.h5",
    log:
        "logs/widefield_locanmf/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_locanmf", "cfg", "device", "gpu_fallback", "seed"),
    script:
        "../../scripts/widefield_locanmf.py"


rule widefield_neural:
    input:
        locanmf="results/{session}/widefield/locanmf.h5",
        atlas="results/{session}/widefield/atlas.h5",
        trials=trials_table,
    output:
        "results/{session}/widefield/neural.h5",
    log:
        "logs/widefield_neural/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_neural", "cfg", "config", "regions"),
    script:
        "../../scripts/widefield_neural.py"


rule widefield_qc:
    input:
        locanmf="results/{session}/widefield/locanmf.h5",
        atlas="results/{session}/widefield/atlas.h5",
        motion="results/{session}/widefield/motion.h5",
        hemo="results/{session}/widefield/hemo.h5",
        labels=widefield_qc_labels,  # motion page: shifts vs behaviour ([] without pose labels)
        trials=trials_table,
    output:
        report(
            "results/{session}/widefield/qc.pdf",
            caption="../report/widefield_qc.rst",
            category="Widefield QC",
            subcategory="{session}",
        ),
    log:
        "logs/widefield_qc/{session}.log",
    conda:
        "../../envs/widefield.yaml"
    threads: 1
    params:
        **rule_params("widefield_qc", "cfg", "config"),
    script:
        "../../scripts/widefield_qc.py"
