# Neural latent model stage: one fit per session × region × model × seed, then
# Tables 1–3 and Figures 4, 5, 7, 12. Which fits each artifact needs is decided by
# benediff.lvm.targets from config["lvm"], so asking for one artifact builds only its fits.
# Session "pooled" = one fit per region on the trials of all lvm.pool_sessions.

TABLE_CAPTIONS = {
    "1": "Neural reconstruction and disentanglement per region: baselines vs ours (mean ± std over seeds).",
    "2": "Standard VAE vs ours across sessions, one region (mean ± std over seeds).",
    "3": "Ablation: standard VAE, w/o behaviour, w/o TC, ours (mean ± std over seeds).",
}


rule lvm_fit:
    input:
        dataset=lambda wc: lvm_targets.fit_datasets(config, wc),
    output:
        model="results/lvm/{session}/{region}/{model}/seed{seed}/model.pt",
        latents="results/lvm/{session}/{region}/{model}/seed{seed}/latents.h5",
        metrics="results/lvm/{session}/{region}/{model}/seed{seed}/metrics.json",
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
        lvm=lambda wc: lvm_targets.fit_config(config, wc),
        seed=config["seed"],
        device=config["device"],
        gpu_fallback=config["gpu_fallback"],
        checkpoint_dir=lambda wc: lvm_targets.checkpoint_dir(config, wc),
        pooled=lvm_targets.is_pooled,
    script:
        "../../scripts/lvm_fit.py"


rule lvm_table:
    input:
        lambda wc: lvm_targets.table_metrics(config, int(wc.n)),
    output:
        csv=report(
            "results/tables/table{n}.csv",
            caption="../report/lvm_tables.rst",
            category="Neural latents",
        ),
        tex="results/tables/table{n}.tex",
    log:
        "logs/lvm_table/table{n}.log",
    wildcard_constraints:
        n="|".join(map(str, lvm_targets.TABLES)),
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        group=lambda wc: lvm_targets.TABLE_GROUP[int(wc.n)],
        models=lambda wc: lvm_targets.table_models(config, int(wc.n)),
        caption=lambda wc: TABLE_CAPTIONS[wc.n],
    script:
        "../../scripts/lvm_table.py"


rule lvm_fig4:
    input:
        lvm_targets.fig4_metrics(config),
    output:
        report(
            "results/figures/fig4.pdf",
            caption="../report/lvm_fig4.rst",
            category="Neural latents",
        ),
    log:
        "logs/lvm_fig4/fig4.log",
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        region=config["lvm"]["fig4"]["region"],
    script:
        "../../scripts/lvm_fig4.py"


rule lvm_fig5:
    input:
        **lvm_targets.fig5_inputs(config),
    output:
        report(
            "results/figures/fig5.pdf",
            caption="../report/lvm_fig5.rst",
            category="Neural latents",
        ),
    log:
        "logs/lvm_fig5/fig5.log",
    conda:
        "../../envs/lvm.yaml"
    threads: 1
    params:
        region=config["lvm"]["fig5"]["region"],
        models=config["lvm"]["fig5"]["models"],
        test_trial=config["lvm"]["fig5"]["test_trial"],
        n_dims=config["lvm"]["fig5"]["n_dims"],
        pooled=lvm_targets.fig5_pooled(config),
    script:
        "../../scripts/lvm_fig5.py"


rule lvm_trajectories:
    input:
        list(lvm_targets.trajectory_latents(config).values()),
    output:
        report(
            "results/figures/fig{n}.pdf",
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
        regions=list(config["regions"]),
        factors=config["lvm"]["trajectories"]["factors"],
        n_trials=lambda wc: config["lvm"]["trajectories"][f"fig{wc.n}_trials"],
    script:
        "../../scripts/lvm_trajectories.py"
