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
    video_timestamps=snakemake.params.timestamps["video"],
    neural_timestamps=snakemake.params.timestamps["neural"],
    provenance=provenance(snakemake.params.stage_config),
)
