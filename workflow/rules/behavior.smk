# Behaviour stage: DeepLabCut pose (import | infer) → labels U, clips Y; Figure 1B.
# A pose-only session (is_pose_only: pose + trials, no video, no widefield) stops at labels.h5.
# An NWB session's pose (ndx-pose) and movie frame times come in through nwb_pose and
# nwb_neural_times (benediff.behavior.nwb_inputs) as a DLC file and timestamps files.

from benediff import preflight as _preflight

NWB_POSE_SESSIONS = [s for s in SESSIONS if _preflight.nwb_pose_path(s, config)]
NWB_CLOCK_SESSIONS = [
    s for s in SESSIONS if _preflight.reads_nwb_neural_times(s, config)
]


# input functions: the NWB pose's DLC file and row times, the NWB movie's frame times;
# [] for other sessions (the pose: behavior_pose_source)
nwb_pose_file = branch(
    lambda wc: wc.session in NWB_POSE_SESSIONS,
    then=lambda wc: f"results/{wc.session}/behavior/nwb_pose.h5",
    otherwise=behavior_pose_source,
)
nwb_pose_times = branch(
    lambda wc: wc.session in NWB_POSE_SESSIONS,
    then=lambda wc: f"results/{wc.session}/behavior/nwb_pose_times.npy",
)
nwb_neural_times = branch(
    lambda wc: wc.session in NWB_CLOCK_SESSIONS,
    then=lambda wc: f"results/{wc.session}/behavior/nwb_neural_times.npy",
)


rule nwb_pose:
    input:
        lambda wc: configured_path(wc.session, "pose"),
    output:
        h5="results/{session}/behavior/nwb_pose.h5",
        times="results/{session}/behavior/nwb_pose_times.npy",
    log:
        "logs/nwb_pose/{session}.log",
    wildcard_constraints:
        session=sessions_pattern(NWB_POSE_SESSIONS),
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    params:
        **rule_params("nwb_pose", "name"),
    script:
        "../../scripts/nwb_pose.py"


rule nwb_neural_times:
    input:
        widefield_movie,
    output:
        "results/{session}/behavior/nwb_neural_times.npy",
    log:
        "logs/nwb_neural_times/{session}.log",
    wildcard_constraints:
        session=sessions_pattern(NWB_CLOCK_SESSIONS),
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    params:
        **rule_params("nwb_neural_times", "channels", "nwb_series"),
    script:
        "../../scripts/nwb_neural_times.py"


rule dlc_infer:
    input:
        video=behavior_video,
        model=config["behavior"]["pose"]["model_dir"] or [],
    output:
        "results/{session}/behavior/dlc_infer.h5",
    log:
        "logs/dlc_infer/{session}.log",
    conda:
        "../../envs/dlc.yaml"
    threads: 2
    params:
        **rule_params("dlc_infer", "python", "device", "gpu_fallback", "batch_size"),
    shell:
        # --sdm conda: the python of envs/dlc.yaml; otherwise behavior.pose.dlc_python
        f"HF_HUB_OFFLINE=1 {dlc_python()} -m benediff.behavior.dlc_infer"
        " --model-dir {input.model} --video {input.video} --out {output}"
        " --device {params.device} --gpu-fallback {params.gpu_fallback}"
        " --batch-size {params.batch_size} --threads {threads}"
        " 2> {log}"


rule behavior_pose:
    input:
        pose=nwb_pose_file,  # behavior_pose_source() unless the pose is an NWB file
        video=behavior_pose_video,  # [] for a session without a video
        timestamps=timestamp_files,
        nwb_pose_times=nwb_pose_times,
    output:
        h5="results/{session}/behavior/pose.h5",
        meta="results/{session}/behavior/pose.json",
    log:
        "logs/behavior_pose/{session}.log",
    conda:
        "../../envs/behavior.yaml"
    threads: 1
    params:
        **rule_params(
            "behavior_pose",
            "mode",
            "pcutoff",
            "video_fps",
            "fps_tolerance",
            "frame_rate",
            "video_timestamps",
        ),
    script:
        "../../scripts/behavior_pose.py"


rule behavior_labels:
    input:
        pose="results/{session}/behavior/pose.h5",
        meta="results/{session}/behavior/pose.json",
        trials=trials_table,
        split="results/{session}/split.json",
        timestamps=timestamp_files,
        nwb_pose_times=nwb_pose_times,
        nwb_neural_times=nwb_neural_times,
    output:
        "results/{session}/behavior/labels.h5",
    log:
        "logs/behavior_labels/{session}.log",
    conda:
        "../../envs/behavior.yaml"
    threads: 1
    params:
        **rule_params(
            "behavior_labels",
            "behaviors",
            "labels",
            "neural_rate",
            "timestamps",
            "stage_config",
        ),
    script:
        "../../scripts/behavior_labels.py"


rule behavior_clips:
    input:
        video=behavior_video,
        trials=trials_table,
        timestamps=timestamp_files,
        nwb_pose_times=nwb_pose_times,
        nwb_neural_times=nwb_neural_times,
    output:
        "results/{session}/behavior/clips.h5",
    log:
        "logs/behavior_clips/{session}.log",
    conda:
        "../../envs/behavior.yaml"
    threads: 1
    params:
        **rule_params(
            "behavior_clips",
            "clips",
            "neural_rate",
            "video_fps",
            "fps_tolerance",
            "timestamps",
            "stage_config",
        ),
    script:
        "../../scripts/behavior_clips.py"


rule behavior_fig1b:
    input:
        fig1b_dataset,
    output:
        pdf=report(
            "results/figures/fig1b.pdf",
            caption="../report/fig1b.rst",
            category="Figure 1B",
        ),
        csv=report(
            "results/tables/fig1b.csv",
            caption="../report/fig1b.rst",
            category="Figure 1B",
        ),
    log:
        "logs/behavior_fig1b/fig1b.log",
    conda:
        "../../envs/behavior.yaml"
    threads: 1
    params:
        **rule_params("behavior_fig1b", "regions", "fig1b", "seed", "stage_config"),
    script:
        "../../scripts/behavior_fig1b.py"
