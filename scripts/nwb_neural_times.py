from benediff.behavior.nwb_inputs import write_neural_times
from benediff.jobs import start

start(snakemake)

write_neural_times(snakemake.input[0], snakemake.output[0],
                   nwb_series=snakemake.params.nwb_series, channels=snakemake.params.channels,
                   session=snakemake.wildcards.session)
