# Neural latent model stage: one fit per session × region × model × seed, its evaluation, then
# Tables 1–3 and Figures 4, 5, 7, 12. Which fits each artifact needs is decided by
# benediff.lvm.targets from config["lvm"], so asking for one artifact builds only its fits.
# Session "pooled" = one fit per region on the trials of all lvm.pool_sessions.


rule lvm_fit:
    input:
        dataset=lambda wc: lvm_targets.fit_datasets(config, wc),
    output:
        model=paths.lvm_fit("model.pt"),
        latents=paths.lvm_fit("latents.h5"),
        fit=paths.lvm_fit("fit.json"),
    log:
        "logs/lvm_fit/{session}/{region}/{model}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/lvm_fit/{session}/{region}/{model}/seed{seed}.tsv"
    wildcard_constraints:
        session=lvm_targets.fit_session_pattern(config),
        model="|".join(lvm_targets.MODELS),
        seed=r"\d+",
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        **rule_params(
            "lvm_fit",
            "lvm",
            "seed",
            "device",
            "gpu_fallback",
            "checkpoint_dir",
            "pooled",
        ),
    script:
        "../../scripts/lvm_fit.py"


# lvm.fit_seeds_together: one job per session × region × model a table reads fits all of
# lvm.seeds in one process (the torch start-up paid once), seed for seed the fits of lvm_fit;
# a rule naming its files wins over lvm_fit, which still makes every other fit.
for (_session, _region, _model), _seeds in lvm_targets.grouped_fits(config).items():

    rule:
        name:
            lvm_targets.fit_seeds_rule_name(_session, _region, _model)
        input:
            dataset=lvm_targets.session_datasets(config, _session),
        output:
            model=lvm_targets.fit_seeds_outputs(
                _session, _region, _model, _seeds, "model.pt"
            ),
            latents=lvm_targets.fit_seeds_outputs(
                _session, _region, _model, _seeds, "latents.h5"
            ),
            fit=lvm_targets.fit_seeds_outputs(
                _session, _region, _model, _seeds, "fit.json"
            ),
        log:
            f"logs/lvm_fit/{_session}/{_region}/{_model}/seeds.log",
        benchmark:
            f"logs/benchmarks/lvm_fit/{_session}/{_region}/{_model}/seeds.tsv"
        conda:
            "../../envs/lvm.yaml"
        threads: 1
        params:
            **rule_params(
                "lvm_fit_seeds",
                "lvm",
                "seeds",
                "seed",
                "device",
                "gpu_fallback",
                "checkpoint_dirs",
                "pooled",
                wildcards=lvm_targets.region_wildcards(_session, _region, _model),
            ),
        script:
            "../../scripts/lvm_fit_seeds.py"


# Evaluation (metrics.json) is its own job, so a metric setting (lvm.mig_binning) reruns no fit.
# One job per session x region evaluates every fit a table or Figure 4 reads there (dataset
# read and decoder reference computed once); rule lvm_evaluate evaluates any other fit alone.
for (_session, _region), _fits in lvm_targets.evaluated_fits(config).items():

    rule:
        name:
            lvm_targets.evaluation_rule_name(_session, _region)
        input:
            **lvm_targets.evaluation_inputs(config, _session, _region, _fits),
        output:
            [
                lvm_targets.fit_path(_session, _region, m, seed, "metrics.json")
                for m, seed in _fits
            ],
        log:
            f"logs/lvm_evaluate/{_session}/{_region}.log",
        conda:
            "../../envs/lvm.yaml"
        threads: 1
        params:
            **rule_params(
                "lvm_evaluate",
                "lvm",
                "device",
                "gpu_fallback",
                "fits",
                "pooled",
                wildcards=lvm_targets.region_wildcards(_session, _region),
            ),
        script:
            "../../scripts/lvm_evaluate.py"


rule lvm_evaluate:
    input:
        dataset=lambda wc: lvm_targets.fit_datasets(config, wc),
        model=paths.lvm_fit("model.pt"),
        fit=paths.lvm_fit("fit.json"),
    output:
        paths.lvm_fit("metrics.json"),
    log:
        "logs/lvm_evaluate/{session}/{region}/{model}/seed{seed}.log",
    wildcard_constraints:
        session=lvm_targets.fit_session_pattern(config),
        model="|".join(lvm_targets.MODELS),
        seed=r"\d+",
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        **rule_params("lvm_evaluate", "lvm", "device", "gpu_fallback", "fits", "pooled"),
    script:
        "../../scripts/lvm_evaluate.py"


rule lvm_table:
    input:
        lambda wc: lvm_targets.table_metrics(config, int(wc.n)),
    output:
        csv=report(
            paths.table("table{n}.csv"),
            caption="../report/lvm_tables.rst",
            category="Neural latents",
        ),
        tex=paths.table("table{n}.tex"),
    log:
        "logs/lvm_table/table{n}.log",
    wildcard_constraints:
        n="|".join(map(str, lvm_targets.TABLES)),
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        **rule_params("lvm_table", "group", "models", "caption", "seed", "config"),
    script:
        "../../scripts/lvm_table.py"


rule lvm_fig4:
    input:
        lvm_targets.fig4_metrics(config),
    output:
        report(
            paths.figure("fig4.pdf"),
            caption="../report/lvm_fig4.rst",
            category="Neural latents",
        ),
    log:
        "logs/lvm_fig4/fig4.log",
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        **rule_params("lvm_fig4", "region", "seed", "config"),
    script:
        "../../scripts/lvm_fig4.py"


rule lvm_fig5:
    input:
        **lvm_targets.fig5_inputs(config),
    output:
        report(
            paths.figure("fig5.pdf"),
            caption="../report/lvm_fig5.rst",
            category="Neural latents",
        ),
    log:
        "logs/lvm_fig5/fig5.log",
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        **rule_params(
            "lvm_fig5",
            "region",
            "models",
            "test_trial",
            "n_dims",
            "pooled",
            "seed",
            "config",
        ),
    script:
        "../../scripts/lvm_fig5.py"


rule lvm_trajectories:
    input:
        list(lvm_targets.trajectory_latents(config).values()),
    output:
        report(
            paths.figure("fig{n}.pdf"),
            caption="../report/lvm_trajectories.rst",
            category="Neural latents",
        ),
    log:
        "logs/lvm_trajectories/fig{n}.log",
    wildcard_constraints:
        n="|".join(map(str, lvm_targets.TRAJECTORY_FIGURES)),
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        **rule_params(
            "lvm_trajectories", "regions", "factors", "n_trials", "seed", "config"
        ),
    script:
        "../../scripts/lvm_trajectories.py"
