"""``frame_latents.h5`` of the video stage: its one writer and reader.

The per-trial clips of normalised frame-autoencoder latents, the diffusion models' space.

Layout::

    latents/trial_%04d   (c, L, h, w) float32 normalised AE latents of one trial
    split/{train,val,test}  trial indices
    attrs: scale (JSON: the normalisation of the latents), session
"""

import json

import h5py
import numpy as np

from benediff.io.atomic import atomic_output


def write_frame_latents(path, clips, scale: dict, split: dict, session: str) -> None:
    """Write per-trial clips (c, L, h, w), their latent ``scale``, the trial split and session."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["scale"] = json.dumps(scale)
        f.attrs["session"] = session
        for i, clip in enumerate(clips):
            f.create_dataset(f"latents/trial_{i:04d}", data=clip)
        for name, idx in split.items():
            f.create_dataset(f"split/{name}", data=idx)


def read_frame_file(path) -> tuple[list[np.ndarray], dict, dict, str | None]:
    """Per-trial clips (c, L, h, w), the latent scale, the split and the session (or None)."""
    with h5py.File(path, "r") as f:
        trials = [f["latents"][k][()] for k in sorted(f["latents"])]
        scale = json.loads(f.attrs["scale"])
        split = {k: f["split"][k][()] for k in f["split"]}
        session = f.attrs.get("session")
    return trials, scale, split, session


def read_frame_latents(path) -> tuple[list[np.ndarray], dict, dict]:
    """Per-trial normalised frame-latent clips (c, L, h, w), the latent scale and the split."""
    return read_frame_file(path)[:3]
