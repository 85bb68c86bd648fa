"""Where the model stages' files live under ``results/``: the one place that spells the layout.

Every function returns a path relative to the working directory; called with its defaults
(``"{session}"`` etc.) it returns the Snakemake pattern of a rule, with values the file of one
job. Used by ``workflow/rules/lvm.smk``, ``workflow/rules/video.smk``, :mod:`benediff.lvm.targets`
and :mod:`benediff.video.targets`.
"""

RESULTS = "results"


def dataset(session: str = "{session}") -> str:
    """A session's assembled dataset (read by the LVM and video stages)."""
    return f"{RESULTS}/{session}/dataset.h5"


def lvm_fit(name: str, session: str = "{session}", region: str = "{region}",
            model: str = "{model}", seed="{seed}") -> str:
    """A file of one LVM fit: ``model.pt``, ``latents.h5``, ``fit.json`` or ``metrics.json``."""
    return f"{RESULTS}/lvm/{session}/{region}/{model}/seed{seed}/{name}"


def lvm_checkpoints(root: str, session: str, region: str, model: str, seed) -> str:
    """Resumable checkpoints of one LVM fit under ``lvm.checkpoint_root``."""
    return f"{root}/{session}/{region}/{model}/seed{seed}"


def video_dir(session: str = "{session}", region: str | None = None) -> str:
    """The video stage's folder of a session, or of a session × region."""
    return f"{RESULTS}/video/{session}" + (f"/{region}" if region is not None else "")


def video(name: str, session: str = "{session}", region: str | None = None) -> str:
    """A file of the video stage: per session, or per session × region."""
    return f"{video_dir(session, region)}/{name}"


def video_checkpoints(model: str, session: str, region: str | None = None) -> str:
    """Resumable checkpoints of one video model (``ae``, ``vdm``, ``cfg``)."""
    where = f"{RESULTS}/checkpoints/video/{session}" + (f"/{region}" if region is not None else "")
    return f"{where}/{model}"


def table(name: str) -> str:
    return f"{RESULTS}/tables/{name}"


def figure(name: str) -> str:
    return f"{RESULTS}/figures/{name}"
