from benediff.io.nwb import export_session
from benediff.jobs import start

start(snakemake)

session = snakemake.wildcards.session
export_session(
    snakemake.output[0], session=session, dataset=snakemake.input.dataset,
    trials=snakemake.input.trials, locanmf=snakemake.input.locanmf,
    atlas_h5=snakemake.input.atlas_h5, atlas=snakemake.input.atlas,
    landmarks=snakemake.input.landmarks, pose=snakemake.input.pose,
    pose_json=snakemake.input.pose_json,
    fits=[(*fit, lat, met) for fit, lat, met in zip(snakemake.params.fits, snakemake.input.latents,
                                                     snakemake.input.metrics)],
    metadata=snakemake.params.metadata,
    frame_rate=snakemake.params.frame_rate, atlas_transform=snakemake.params.atlas_transform,
    grouping=snakemake.params.grouping,
    neural_timestamps=snakemake.params.timestamps["neural"],
    video_timestamps=snakemake.input.nwb_pose_times or snakemake.params.timestamps["video"],
    nwb_movie=snakemake.input.nwb_movie or None, nwb_series=snakemake.params.nwb_series,
    channels=snakemake.params.channels)
