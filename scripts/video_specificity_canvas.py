from benediff.jobs import start
from benediff.video.canvas import write_specificity_canvas

start(snakemake)

write_specificity_canvas(
    {tuple(key.split("|")): path for key, path in zip(snakemake.params.entries, snakemake.input.generated)},
    snakemake.params.views,
    snakemake.output.video,
    snakemake.output.index,
    fps=snakemake.params.fps,
    dataset_path=snakemake.input.dataset,
    floor_trials=snakemake.params.floor_trials,
    seed=snakemake.params.seed,
)
