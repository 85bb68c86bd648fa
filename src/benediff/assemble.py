"""Assemble one session's dataset from the stage outputs (or the simulator's ground truth)."""

import logging
from pathlib import Path

import numpy as np

from benediff.io import dataset as ds_io
from benediff.io.split import make_split, read_split, write_split
from benediff.io.trials import read_trials
from benediff.provenance import provenance
from benediff.seeds import derive_seed

log = logging.getLogger(__name__)

GROUP_ATTRS = {"neural": ("neural", "regions"), "labels": ("labels", "label_names"),
               "images": ("images",)}


class AssemblyError(ValueError):
    pass


def split_from_trials_table(trials_path, out_path, blocks, seed) -> None:
    table = read_trials(trials_path)
    split = make_split(len(table), blocks=blocks, seed=seed)
    log.info("split of %d trials: %s", len(table), {k: len(v) for k, v in split.items()})
    write_split(out_path, split)


def assemble_dataset(out_path, *, session, inputs, sources, image_size, config,
                     neural_noise: float = 0.0) -> None:
    """Merge neural / labels / images from their configured sources, add the split, write.

    ``inputs`` maps ``split`` and the groups taken from stage outputs to dataset files, and
    ``truth`` to the simulator's ground truth when a group's source is ``truth``. Trials are
    read, rendered and written one at a time (peak memory about one trial, not the session).
    ``neural_noise`` (config ``dataset.neural_noise``) adds measurement noise to the planted
    components (:func:`add_measurement_noise`) when the neural source is ``truth``.
    """
    truth = None
    if "truth" in inputs:
        from benediff.simulate import load_truth_dataset

        truth = load_truth_dataset(Path(inputs["truth"]).parent, image_size=image_size)
        if sources.get("neural") == "truth" and neural_noise > 0:
            truth.neural = add_measurement_noise(truth.neural, neural_noise,
                                                 derive_seed(config.get("seed", 0), session,
                                                             "neural_noise"))
            log.info("planted components with measurement noise at %g of each one's variance",
                     neural_noise)
    merged = None
    for group, source in sources.items():
        part = (truth if source == "truth"
                else ds_io.read(inputs[group], groups=(group,), lazy=True))
        merged = _merge_group(merged, part, group, inputs.get(group, "truth"))
    merged.session = session
    merged.split = read_split(inputs["split"])
    _check_split(merged, inputs["split"])
    merged.provenance = provenance(config, seed=config.get("seed"), sources=sources)
    ds_io.write(out_path, merged)
    log.info("wrote %s: %d trials", out_path, merged.n_trials)


def add_measurement_noise(trials, fraction: float, seed: int) -> list[np.ndarray]:
    """``trials`` (per trial (frames, components)) plus independent Gaussian noise whose variance
    is ``fraction`` of each component's variance over all trials; one seeded generator, trials in
    order, so the same seed gives the same noise."""
    var = np.concatenate(trials).astype(np.float64).var(0)
    sd = np.sqrt(fraction * var)
    rng = np.random.default_rng(seed)
    return [(x + sd * rng.standard_normal(x.shape)).astype(np.float32) for x in trials]


def _merge_group(merged, part, group, origin):
    if getattr(part, group) is None:
        raise AssemblyError(f"{origin}: has no {group!r} group; rebuild it with its stage's rule")
    if merged is None:
        merged = ds_io.Dataset(session=part.session, frame_rate=part.frame_rate,
                               trial_ids=part.trial_ids)
    elif not np.array_equal(merged.trial_ids, part.trial_ids):
        raise AssemblyError(f"{origin}: its trial ids differ from the other sources of this "
                            "session; rebuild the stages from the same trial table")
    for attr in GROUP_ATTRS[group]:
        setattr(merged, attr, getattr(part, attr))
    return merged


def _check_split(ds, split_path):
    n = sum(len(v) for v in ds.split.values())
    if n != ds.n_trials:
        raise AssemblyError(f"{split_path}: covers {n} trials but the dataset has "
                            f"{ds.n_trials}; delete it so the split is recomputed")


def import_behavenet_dataset(out_path, *, session, session_config, behaviors, regions, split,
                             config) -> None:
    """A session from a BehaveNet data.hdf5: its groups as they are, plus our seeded split."""
    from benediff.io.behavenet import read_behavenet

    ds = read_behavenet(session_config["behavenet"], session=session, behaviors=behaviors,
                        regions=regions, label_columns=session_config.get("label_columns"),
                        index_base=session_config.get("index_base", "auto"),
                        frame_rate=session_config.get("frame_rate", 30.0))
    ds.split = make_split(ds.n_trials, blocks=split["blocks"], seed=split["seed"])
    ds.provenance = provenance(config, seed=config.get("seed"),
                               sources={"behavenet": str(session_config["behavenet"])})
    ds_io.write(out_path, ds)
    log.info("imported %s: %d trials, %d neural dims, images %s", out_path, ds.n_trials,
             ds.neural[0].shape[1], "yes" if ds.images is not None else "no")
