"""The NWB export's targets and per-session metadata, as plain functions of the config, and the
checks of that metadata made before any job (:func:`metadata_problems`).

Kept apart from :mod:`benediff.io.nwb_write` (the writer, which imports pynwb, ndx-pose and
nwbinspector) so that the config slices (:mod:`benediff.rule_config`) and the default target
read them without those packages.
"""

import re
from datetime import datetime


def session_metadata(nwb_cfg: dict, session: str) -> dict:
    """The ``nwb`` config section with ``nwb.sessions.<session>`` laid over it."""
    base = {k: v for k, v in nwb_cfg.items() if k not in ("sessions", "export")}
    base.update((nwb_cfg.get("sessions") or {}).get(session) or {})
    return base


def export_sessions(config: dict) -> list[str]:
    """Sessions `all` exports: recorded (not BehaveNet, not pose-only), with a dataset built
    from widefield neural data, when ``nwb.export`` is on."""
    from benediff.behavior.sessions import dataset_sessions

    if not config["nwb"]["export"] or config["dataset"]["neural"] != "widefield":
        return []
    return [s for s in dataset_sessions(config)
            if config["sessions"][s]["source"] != "behavenet"]


def export_fits(config: dict, session: str) -> list[tuple[str, str, int]]:
    """(model, region, seed) of every fit of ``session`` that Tables 1-3 use."""
    from benediff.lvm import targets as lvm_targets

    cells = []
    for n in lvm_targets.TABLES:
        for s, region, model in lvm_targets.table_cells(config, n):
            if s == session and (model, region) not in cells:
                cells.append((model, region))
    return [(m, r, int(seed)) for m, r in cells for seed in config["lvm"]["seeds"]]


def export_fit_files(config: dict, session: str, name: str) -> list[str]:
    """``name`` (latents.h5, metrics.json) of each fit :func:`export_fits` lists."""
    from benediff.lvm import targets as lvm_targets

    return [lvm_targets.fit_path(session, r, m, seed, name)
            for m, r, seed in export_fits(config, session)]


AGE = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")


def metadata_problems(nwb_cfg: dict, sessions) -> list[str]:
    """Values of the ``nwb`` keys NWB or nwbinspector would refuse (checked before any job)."""
    problems = []
    for session in sessions:
        meta = session_metadata(nwb_cfg, session)
        where = (lambda key: f"nwb.sessions.{session}.{key}"
                 if key in (nwb_cfg.get("sessions") or {}).get(session, {}) else f"nwb.{key}")
        start = str(meta["session_start_time"])
        try:
            when = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"config key {where('session_start_time')} = {start!r} is not an ISO "
                            "8601 date and time; write e.g. 2017-12-05T10:00:00+01:00")
        else:
            if when.tzinfo is None:
                problems.append(f"config key {where('session_start_time')} = {start!r} has no "
                                "time zone; add the offset, e.g. 2017-12-05T10:00:00+01:00")
        age = str(meta["age"])
        bounds = age.split("/") if "/" in age else [age]
        if len(bounds) > 2 or not all(AGE.fullmatch(b) for b in bounds if b) or not any(bounds):
            problems.append(f"config key {where('age')} = {age!r} is not an ISO 8601 age; write "
                            "e.g. P90D (90 days), P12W, or a range P60D/P120D (P90D/ = 90 days "
                            "or older)")
        if " " not in str(meta["species"]).strip() and not str(meta["species"]).startswith("http"):
            problems.append(f"config key {where('species')} = {meta['species']!r} is neither a "
                            "Latin binomial (Mus musculus) nor an NCBI taxonomy URL")
        for key in ("subject_id",):
            if "/" in str(meta.get(key) or ""):
                problems.append(f"config key {where(key)} = {meta[key]!r} contains '/'; NWB "
                                "names cannot")
    return problems
