import logging
import sys

from benediff.video.pipeline import write_specificity_canvas

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

write_specificity_canvas(
    {tuple(key.split("|")): path for key, path in zip(snakemake.params.entries, snakemake.input)},
    snakemake.params.views,
    snakemake.output.video,
    snakemake.output.index,
    fps=snakemake.params.fps,
)
