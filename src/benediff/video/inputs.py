"""Checks of the video stage's inputs shared by its rule entry points (:mod:`.pipeline`) and the
specificity score (:mod:`.specificity`)."""

import numpy as np


class VideoPipelineError(ValueError):
    """An input file of the video stage is missing a key or disagrees with another input."""


def split_trials(ds, split) -> np.ndarray:
    """Trial indices of ``split`` in a dataset; an empty split is an input error."""
    if len(ds.split.get(split, [])) == 0:
        raise VideoPipelineError(f"session {ds.session!r}: split {split!r} is empty; the video "
                                 "stage needs train and test trials (config split.blocks)")
    return ds.split[split]
