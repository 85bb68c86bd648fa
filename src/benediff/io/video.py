"""Writing grayscale mp4 videos (PyAV): the one encoder the simulator, the generated videos and
the tools use. H.264 (libx264, else libopenh264) with an MPEG-4 fallback for ffmpeg builds
without it; written atomically, frame by frame."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benediff.io.atomic import atomic_output


def mp4_codec() -> str:
    """H.264 via libx264 when the ffmpeg build has it (PyPI wheels do), else a fallback encoder."""
    for codec in ("libx264", "libopenh264", "mpeg4"):
        if codec in av.codecs_available:
            return codec
    raise RuntimeError("PyAV's ffmpeg has no H.264 or MPEG-4 encoder; install av from PyPI")


def as_rate(fps) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def write_gray_mp4(path, frames, fps: float, *, width: int, height: int, crf: int = 17) -> None:
    """Encode uint8 (H, W) frames from any iterable (arrays, or blocks of frames: a generator
    keeps memory flat) as a yuv420p mp4 at ``fps``; ``crf`` 0 is (near) lossless."""
    with atomic_output(Path(path)) as tmp, av.open(str(tmp), mode="w", format="mp4") as out:
        codec = mp4_codec()
        stream = out.add_stream(codec, rate=as_rate(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "ultrafast"}
        elif codec == "mpeg4":
            stream.bit_rate = 8_000_000
        stream.thread_count = 1
        for img in frames:
            img = np.ascontiguousarray(img, dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="gray")))
        out.mux(stream.encode())
