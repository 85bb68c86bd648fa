# NWB export: one file per recorded session for NWB tools and DANDI (benediff.io.nwb).

from benediff.io import nwb as nwb_io


rule nwb_export:
    input:
        dataset="results/{session}/dataset.h5",
        trials=trials_table,
        locanmf="results/{session}/widefield/locanmf.h5",
        atlas_h5="results/{session}/widefield/atlas.h5",
        atlas=widefield_atlas,
        landmarks=lambda wc: raw_path(wc.session, "landmarks"),
        pose="results/{session}/behavior/pose.h5",
        pose_json="results/{session}/behavior/pose.json",
        timestamps=timestamp_files,
        nwb_pose_times=nwb_pose_times,  # an NWB pose: its rows' times (rules/behavior.smk)
        nwb_movie=lambda wc: widefield_movie(wc) if is_nwb_movie(wc.session) else [],
        latents=lambda wc: nwb_io.export_fit_files(config, wc.session, "latents.h5"),
        metrics=lambda wc: nwb_io.export_fit_files(config, wc.session, "metrics.json"),
    output:
        "results/{session}/{session}.nwb",
    log:
        "logs/nwb_export/{session}.log",
    wildcard_constraints:
        session=sessions_pattern(RECORDED_SESSIONS),
    conda:
        "../../envs/nwb.yaml"
    threads: 1
    params:
        **rule_params(
            "nwb_export",
            "metadata",
            "fits",
            "timestamps",
            "frame_rate",
            "atlas_transform",
            "grouping",
            "channels",
            "nwb_series",
        ),
    script:
        "../../scripts/nwb_export.py"
