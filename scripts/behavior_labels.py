from benediff.behavior.labels import build_labels
from benediff.jobs import start
from benediff.provenance import provenance

start(snakemake)

labels = snakemake.params.labels
build_labels(
    snakemake.input.pose,
    snakemake.input.meta,
    snakemake.input.trials,
    snakemake.input.split,
    snakemake.output[0],
    session=snakemake.wildcards.session,
    behaviors=snakemake.params.behaviors,
    mapping=labels["mapping"],
    neural_rate=snakemake.params.neural_rate,
    max_gap=labels["max_gap"],
    smoothing=labels["smoothing"],
    zscore=labels["zscore"],
    # an NWB pose's row times and an NWB movie's frame times (rules nwb_pose, nwb_neural_times)
    video_timestamps=snakemake.input.nwb_pose_times or snakemake.params.timestamps["video"],
    neural_timestamps=snakemake.input.nwb_neural_times or snakemake.params.timestamps["neural"],
    provenance=provenance(snakemake.params.stage_config),
)
