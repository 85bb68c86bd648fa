"""Planted problems for tests and benchmarks: synthetic data with a known ground truth.

Nothing in the pipeline imports this package (stage code lives in ``benediff.lvm``,
``benediff.widefield`` …; the session simulator the demo runs on is ``benediff.simulate``).

- ``benediff.testing.lvm``: ``planted_dataset`` (a whole :class:`~benediff.io.dataset.Dataset`
  with several regions, for the BeNeDiff VAE) and ``planted_region`` (per-trial (X, U) arrays of
  one region, for the baselines), both smooth behaviour + irrelevant factors mixed nonlinearly
  (the synthetic benchmark of docs/PEERS.md, resized).
- ``benediff.testing.locanmf``: planted LocaNMF problems (docs/WIDEFIELD.md §10.1): atlases,
  footprints, event traces and the compressed U, V of their movie.

The submodules are not imported here, so ``import benediff.testing`` costs nothing.
"""
