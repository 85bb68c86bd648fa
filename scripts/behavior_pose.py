from benediff.behavior.pose import normalise_pose
from benediff.jobs import start

start(snakemake)

normalise_pose(
    snakemake.input.pose,
    snakemake.input.video or None,  # None for a session without a video
    snakemake.output.h5,
    snakemake.output.meta,
    pcutoff=snakemake.params.pcutoff,
    expected_fps=snakemake.params.video_fps,
    fps_tolerance=snakemake.params.fps_tolerance,
    frame_rate=snakemake.params.frame_rate,
    # an NWB pose (rule nwb_pose) brings its rows' times
    timestamps=snakemake.input.nwb_pose_times or snakemake.params.video_timestamps,
    session=snakemake.wildcards.session,
    mode=snakemake.params.mode,
)
