"""Simulated recording sessions with planted ground truth (the pipeline's embedded default).

Entry points: :func:`params_from_config` → :func:`simulate_session` writes the raw inputs of one
session; :func:`movie_shape` and :func:`raw_paths` name its outputs for Snakemake;
:func:`load_truth_dataset` reads the ground truth back as a per-trial :class:`Dataset`.
"""

from benediff.simulate.params import (BEHAVIORS, GROUPS, PRESETS, SimParams, SimulationError, atlas_input,
                                      movie_shape, params_from_config, raw_paths)
from benediff.simulate.render import KEYPOINTS
from benediff.simulate.session import simulate_session
from benediff.simulate.truth import load_truth_dataset, read_truth

__all__ = ["BEHAVIORS", "GROUPS", "KEYPOINTS", "PRESETS", "SimParams", "SimulationError", "atlas_input",
           "load_truth_dataset", "movie_shape", "params_from_config", "raw_paths", "read_truth",
           "simulate_session"]
