"""An atlas's regions: grouping area acronyms into region keys ("VIS_L"), per-region masks,
merged atlases and region borders.

The grouping is BehaveNet's ``indxs_consolidate_lr`` (:func:`consolidate`), with the config's
``widefield.grouping`` overrides on top (:func:`make_grouping`); region keys name the regions
of ``dataset.h5``, of the config key ``regions`` and of the simulator's planted components.
Functions take any object with ``labels`` (signed codes) and ``name(code)``, i.e. a
:class:`benediff.io.atlas.Atlas`.
"""

import re
from dataclasses import replace

import numpy as np


def consolidate(acronym: str) -> str | None:
    """BehaveNet ``indxs_consolidate_lr`` group of an acronym (no hemisphere suffix).

    SSp_* -> SSp; visual areas -> VIS (VISC, visceral, excluded); RSP* -> RSP; AUD* -> AUD;
    MOp, MOs; every other name keeps its name without a trailing layer digit '1'.
    Returns None for an empty acronym.
    """
    name = re.sub(r"_[LR]$", "", str(acronym).strip()).replace("-", "_")
    if not name:
        return None
    if name != "1":
        name = re.sub(r"1$", "", name)
    if name == "SSp" or name.startswith("SSp_"):
        return "SSp"
    if name.startswith("VIS") and not name.startswith("VISC"):
        return "VIS"
    for prefix in ("RSP", "AUD"):
        if name.startswith(prefix):
            return prefix
    return name


def make_grouping(overrides: dict | None = None):
    """A grouping function: ``overrides`` (acronym -> group, or None to drop) before consolidate."""
    overrides = dict(overrides or {})

    def grouping(acronym):
        key = str(acronym).replace("-", "_")
        for candidate in (acronym, key, re.sub(r"1$", "", key)):
            if candidate in overrides:
                return overrides[candidate]
        return consolidate(acronym)

    return grouping


def region_key(group: str, code: int) -> str:
    return f"{group}_{'L' if code > 0 else 'R'}"


def code_regions(atlas, codes=None, grouping=consolidate) -> dict[int, str | None]:
    """Signed code -> region key ("VIS_L"), or None when the grouping drops the area."""
    codes = np.unique(atlas.labels[atlas.labels != 0]) if codes is None else codes
    out = {}
    for code in codes:
        group = grouping(atlas.name(code))
        out[int(code)] = None if group is None else region_key(group, int(code))
    return out


def region_masks(atlas, grouping=consolidate) -> dict[str, np.ndarray]:
    """Boolean mask per consolidated region, e.g. ``{"VIS_L": mask, ...}`` (sorted keys)."""
    masks: dict[str, np.ndarray] = {}
    for code, key in code_regions(atlas, grouping=grouping).items():
        if key is None:
            continue
        mask = atlas.labels == code
        masks[key] = masks[key] | mask if key in masks else mask
    return dict(sorted(masks.items()))


def merge_regions(atlas, grouping=consolidate):
    """One signed code per consolidated group (e.g. all visual areas → "VIS"), hemispheres kept.

    New codes are 1..G in group-name order; areas the grouping drops become 0.
    """
    regions = code_regions(atlas, grouping=grouping)
    groups = sorted({key[:-2] for key in regions.values() if key is not None})
    new_code = {g: i + 1 for i, g in enumerate(groups)}
    labels = np.zeros_like(atlas.labels)
    for code, key in regions.items():
        if key is not None:
            labels[atlas.labels == code] = np.sign(code) * new_code[key[:-2]]
    return replace(atlas, labels=labels, names={c: g for g, c in new_code.items()})



def outline(labels: np.ndarray) -> np.ndarray:
    """Boolean image of region borders (pixels whose 4-neighbours carry another label)."""
    labels = np.asarray(labels)
    edge = np.zeros(labels.shape, bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[1:] |= labels[:-1] != labels[1:]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, :-1] != labels[:, 1:]
    return edge
