"""Behaviour stage: DeepLabCut pose → behaviour labels, behaviour clips, mixed selectivity."""
