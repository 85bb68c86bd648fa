from benediff.behavior.clips import build_clips
from benediff.jobs import start
from benediff.provenance import provenance

start(snakemake)

clips = snakemake.params.clips
build_clips(
    snakemake.input.video,
    snakemake.input.trials,
    snakemake.output[0],
    session=snakemake.wildcards.session,
    views=clips["views"],
    size=clips["size"],
    neural_rate=snakemake.params.neural_rate,
    expected_fps=snakemake.params.video_fps,
    fps_tolerance=snakemake.params.fps_tolerance,
    # an NWB pose's row times and an NWB movie's frame times (rules nwb_pose, nwb_neural_times)
    video_timestamps=snakemake.input.nwb_pose_times or snakemake.params.timestamps["video"],
    neural_timestamps=snakemake.input.nwb_neural_times or snakemake.params.timestamps["neural"],
    provenance=provenance(snakemake.params.stage_config),
)
