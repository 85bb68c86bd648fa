"""The video stage's generation methods, named once.

The generate rules' wildcards, the generation jobs, the specificity table and the claims read
these lists here; the figures and the results ledger import them (data flows forward).
"""

# the VDM without guidance: the reference of every lift (one job per region samples it)
UNGUIDED = "unguided"
# every generation method: the baselines (naive manipulation, classifier-free guidance),
# BeNeDiff tuned (ours) and as the paper writes Algorithm 1 (ours_literal), and the reference
METHODS = ("naive", "cfg", "ours", "ours_literal", UNGUIDED)
# one generate job per region x method x factor (the unguided reference: generate_unguided)
PER_FACTOR_METHODS = tuple(m for m in METHODS if m != UNGUIDED)
FIGURE_METHODS = ("naive", "cfg", "ours")  # the methods the paper's Figs 6, 9-11 compare
CONDITIONED = ("naive", "cfg")  # given the whole Z trajectory as their condition
GUIDED = ("ours", "ours_literal")  # BeNeDiff's guidance: the methods the claims are about
# the specificity table's rows of real test trials (region "data"), scored like videos
REAL = "real"
# the order in which tables, figures and the ledger list a specificity table's methods
DISPLAY_ORDER = ("ours", "ours_literal", "naive", "cfg", UNGUIDED, REAL)
