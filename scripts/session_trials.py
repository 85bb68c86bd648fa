from benediff.io.trials import write_session_trials
from benediff.jobs import start

start(snakemake)

write_session_trials(
    snakemake.input.trials or None, snakemake.output[0], snakemake.params.rate,
    neural_timestamps=snakemake.input.timestamps or None,
    nwb=snakemake.input.movie or None, nwb_series=snakemake.params.nwb_series,
    channels=snakemake.params.channels, session=snakemake.wildcards.session)
