"""The NWB export's targets and per-session metadata, as plain functions of the config.

Kept apart from :mod:`benediff.io.nwb` (the writer, which imports pynwb, ndx-pose and
nwbinspector) so that the config slices (:mod:`benediff.config`) and the default target read
them without those packages.
"""


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
