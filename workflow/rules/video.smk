# Video stage: frame autoencoder → latent clips → unconditional VDM (shared by regions);
# per region: linear encoder (eq. 7), CFG and naive baselines; generation per
# region × factor × method; specificity table; Figures 6, 8–11, 13.
# Path logic lives in benediff.video.targets (imported in common.smk as video_targets).
# Priorities: the stage is one long chain after the datasets (AE -> frame latents -> VDM ->
# sampling), so its jobs go before the LVM fits that can wait (AE, latents, VDM first).


rule train_video_ae:
    input:
        dataset=video_dataset,  # refuses a session without a behaviour video, naming why
    output:
        model=paths.video("ae/model.pt"),
        metrics=paths.video("ae/metrics.json"),
    log:
        "logs/train_video_ae/{session}.log",
    priority: 20
    conda:
        "../../envs/video.yaml"
    threads: 2
    params:
        **rule_params(
            "train_video_ae",
            "cfg",
            "seed",
            "device",
            "gpu_fallback",
            "checkpoint_dir",
        ),
    script:
        "../../scripts/video_train_ae.py"


rule encode_frame_latents:
    input:
        dataset=paths.dataset(),
        ae=paths.video("ae/model.pt"),
    output:
        paths.video("frame_latents.h5"),
    log:
        "logs/encode_frame_latents/{session}.log",
    priority: 20
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params("encode_frame_latents", "device", "gpu_fallback"),
    script:
        "../../scripts/video_encode_frame_latents.py"


rule train_vdm:
    input:
        latents=paths.video("frame_latents.h5"),
    output:
        paths.video("vdm/model.pt"),
    log:
        "logs/train_vdm/{session}.log",
    priority: 20
    conda:
        "../../envs/video.yaml"
    threads: 2
    params:
        **rule_params(
            "train_vdm",
            "cfg",
            "seed",
            "device",
            "gpu_fallback",
            "checkpoint_dir",
        ),
    script:
        "../../scripts/video_train_vdm.py"


rule fit_linear_encoder:
    input:
        latents=paths.video("frame_latents.h5"),
        vae=lambda wc: video_targets.vae_latents(config, wc.session, wc.region),
    output:
        encoder=paths.video("encoder.h5", region="{region}"),
        metrics=paths.video("encoder_metrics.json", region="{region}"),
    log:
        "logs/fit_linear_encoder/{session}/{region}.log",
    priority: 10
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params("fit_linear_encoder", "cfg"),
    script:
        "../../scripts/video_fit_linear_encoder.py"


rule train_cfg_vdm:
    input:
        latents=paths.video("frame_latents.h5"),
        vae=lambda wc: video_targets.vae_latents(config, wc.session, wc.region),
    output:
        paths.video("cfg/model.pt", region="{region}"),
    log:
        "logs/train_cfg_vdm/{session}/{region}.log",
    priority: 10
    conda:
        "../../envs/video.yaml"
    threads: 2
    params:
        **rule_params(
            "train_cfg_vdm",
            "cfg",
            "cfg_cfg",
            "seed",
            "device",
            "gpu_fallback",
            "checkpoint_dir",
        ),
    script:
        "../../scripts/video_train_cfg_vdm.py"


rule train_naive_decoder:
    input:
        latents=paths.video("frame_latents.h5"),
        vae=lambda wc: video_targets.vae_latents(config, wc.session, wc.region),
    output:
        paths.video("naive/model.pt", region="{region}"),
    log:
        "logs/train_naive_decoder/{session}/{region}.log",
    priority: 10
    conda:
        "../../envs/video.yaml"
    threads: 2
    params:
        **rule_params("train_naive_decoder", "cfg", "seed", "device", "gpu_fallback"),
    script:
        "../../scripts/video_train_naive_decoder.py"


rule generate:
    input:
        unpack(
            lambda wc: video_targets.generate_inputs(
                config, wc.session, wc.region, wc.method
            )
        ),
    output:
        h5=paths.video("generated/{method}/{factor}.h5", region="{region}"),
        mp4=report(
            paths.video("generated/{method}/{factor}.mp4", region="{region}"),
            caption="../report/generated_video.rst",
            category="Generated videos",
            subcategory="{method}",
        ),
    log:
        "logs/generate/{session}/{region}/{method}/{factor}.log",
    wildcard_constraints:
        method="|".join(video_targets.PER_FACTOR_METHODS),
        factor=video_targets.factor_pattern(config),
    priority: 10
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params("generate", "cfg", "layout", "seed", "device", "gpu_fallback"),
    script:
        "../../scripts/video_generate.py"


# video.generation.factors_together: one job per region × method generates all the factors the
# table and figures ask of it, each factor's videos the same as its own generate job's; a rule
# naming its files wins over generate, which still makes any other factor.
for (_region, _method), _factors in video_targets.grouped_generation(config).items():

    rule:
        name:
            video_targets.generate_group_rule_name(_region, _method)
        input:
            **video_targets.generate_inputs(
                config, video_targets.video_session(config), _region, _method
            ),
        output:
            h5=video_targets.generate_group_outputs(config, _region, _method, "h5"),
            mp4=video_targets.generate_group_outputs(config, _region, _method, "mp4"),
        log:
            f"logs/generate/{video_targets.video_session(config)}/{_region}/{_method}/factors.log",
        priority: 10
        conda:
            "../../envs/video.yaml"
        threads: 1
        params:
            **rule_params(
                "generate_factors",
                "factors",
                "cfgs",
                "layout",
                "seed",
                "device",
                "gpu_fallback",
                wildcards=video_targets.generate_group_wildcards(_region, _method),
            ),
        script:
            "../../scripts/video_generate_factors.py"


# the unguided VDM, the reference of every lift: its samples do not depend on the factor, so one
# job per region samples them once and writes each factor's file (the factor's read-out)
rule generate_unguided:
    input:
        unpack(
            lambda wc: video_targets.generate_inputs(
                config, wc.session, wc.region, "unguided"
            )
        ),
    output:
        h5=video_targets.unguided_outputs(config),
        mp4=paths.video("generated/unguided.mp4", region="{region}"),
    log:
        "logs/generate/{session}/{region}/unguided.log",
    priority: 10
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params(
            "generate_unguided",
            "cfg",
            "factors",
            "layout",
            "seed",
            "device",
            "gpu_fallback",
        ),
    script:
        "../../scripts/video_generate_unguided.py"


rule specificity_canvas:
    input:
        generated=list(video_targets.specificity_inputs(config).values()),
        dataset=paths.dataset(video_targets.video_session(config)),
    output:
        video=SPEC_POSE["canvas"],
        index=SPEC_POSE["index"],
    log:
        "logs/specificity/canvas.log",
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params(
            "specificity_canvas",
            "entries",
            "views",
            "fps",
            "floor_trials",
            "seed",
        ),
    script:
        "../../scripts/video_specificity_canvas.py"


use rule dlc_infer as specificity_pose with:
    input:
        video=SPEC_POSE["canvas"],
        model=config["behavior"]["pose"]["model_dir"] or [],
    output:
        SPEC_POSE["pose"],
    log:
        "logs/specificity/pose.log",


rule specificity:
    input:
        unpack(specificity_pose_inputs),
        generated=list(video_targets.specificity_inputs(config).values()),
        dataset=paths.dataset(video_targets.video_session(config)),
    output:
        csv=report(
            paths.table("specificity.csv"),
            caption="../report/specificity.rst",
            category="Video generation",
        ),
        tex=paths.table("specificity.tex"),
    log:
        "logs/specificity/specificity.log",
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params(
            "specificity",
            "entries",
            "cfg",
            "extractor",
            "labels",
            "pcutoff",
            "seed",
            "config",
        ),
    script:
        "../../scripts/video_specificity.py"


rule video_figure:
    input:
        lambda wc: list(video_targets.figure_inputs(config, wc.fig).values()),
    output:
        report(
            paths.figure("{fig}.pdf"),
            caption="../report/video_figures.rst",
            category="Video generation",
            subcategory="{fig}",
        ),
    log:
        "logs/video_figure/{fig}.log",
    wildcard_constraints:
        fig="|".join(video_targets.FIGURES),
    conda:
        "../../envs/video.yaml"
    threads: 1
    params:
        **rule_params("video_figure", "entries", "settings", "seed", "config"),
    script:
        "../../scripts/video_figure.py"
