"""Names of the LVM stage's models, defined once: ours, its ablations and the baselines.

Light on imports: the Snakefile (through :mod:`benediff.lvm.targets`), the fit pipeline, the
baselines package and the schema test read them from here.
"""

VAE_VARIANTS = {
    "ours": {},
    "vae": {"use_behavior": False, "beta": 0.0},  # standard VAE: no behaviour, no TC
    "no_beha": {"use_behavior": False},
    "no_tc": {"beta": 0.0},
}
BASELINES = ("ssl", "cebra", "pivae")
MODELS = (*VAE_VARIANTS, *BASELINES)
