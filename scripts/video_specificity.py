from benediff.jobs import start
from benediff.video.specificity import specificity

start(snakemake)

pose = None
if snakemake.params.extractor == "dlc":
    pose = {"pose_h5": snakemake.input.pose, "index_json": snakemake.input.index,
            "labels_h5": snakemake.input.labels, "labels": snakemake.params.labels,
            "pcutoff": snakemake.params.pcutoff}
specificity(
    snakemake.input.dataset,
    {tuple(key.split("|")): path for key, path in zip(snakemake.params.entries, snakemake.input.generated)},
    snakemake.output.csv,
    snakemake.output.tex,
    snakemake.params.cfg,
    config=snakemake.params.config,
    seed=snakemake.params.seed,
    pose=pose,
)
