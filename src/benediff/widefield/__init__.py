"""Widefield stage: readers, motion correction, ΔF/F + approximate SVD, haemodynamic correction,
atlas alignment and LocaNMF → per-trial region signals.

Submodules are imported on demand (``benediff.widefield.readers``, ``.motion``, ``.svd``,
``.hemo``, ``.pipeline``, ``.locanmf``) so importing the package stays cheap.
"""
