"""Behaviour video decoding with PyAV: frame count, frame rate, grayscale frames."""

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from benediff.io.video import write_gray_mp4


class VideoError(ValueError):
    """A behaviour video is missing or cannot be decoded; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    n_frames: int
    fps: float
    width: int
    height: int


def _open(path):
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: behaviour video does not exist; "
                         "check sessions.<s>.behavior_video")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: unreadable behaviour video ({exc}); "
                         "re-encode it (e.g. ffmpeg -c:v libx264) or fix the path") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: file has no video stream; point at the behaviour video")
    return container


def video_info(path) -> VideoInfo:
    """Frame count and rate. Frames are counted from the packets, not the (unreliable) header."""
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        try:
            n = sum(1 for packet in container.demux(stream) if packet.size)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"{path}: reading packets failed ({exc}); "
                             "re-encode the video") from exc
        width, height = stream.codec_context.width, stream.codec_context.height
    if n == 0 or fps <= 0:
        raise VideoError(f"{path}: video has {n} decodable frames at {fps} fps; re-encode it")
    return VideoInfo(n_frames=n, fps=fps, width=width, height=height)


# limited-range luma (16..235) → gray (0..255), as swscale converts it
_LIMITED_TO_FULL = np.clip(np.rint((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def iter_gray_frames(path):
    """Yield ``(index, frame)`` with frame a uint8 (H, W) grayscale array, in decode order."""
    with _open(path) as container:
        for i, frame in enumerate(_decode(container, path)):
            yield i, to_gray(frame)


def to_gray(frame) -> np.ndarray:
    """Grayscale of a decoded frame; YUV frames take their luma plane directly (5× faster than a
    full swscale conversion, same values)."""
    name = frame.format.name
    if not name.startswith(("yuv", "nv12", "nv21")) or "p10" in name or "p12" in name:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
    if name.startswith("yuvj") or frame.color_range == _FULL_RANGE:
        return luma.copy()
    return _LIMITED_TO_FULL[luma]


def _decode(container, path):
    try:
        yield from container.decode(video=0)
    except (av.FFmpegError, ValueError) as exc:
        raise VideoError(f"{path}: decoding failed ({exc}); the video is corrupt, "
                         "re-encode it") from exc


def write_gray_video(path, frames: np.ndarray, fps: float) -> None:
    """Write uint8 (T, H, W) frames as a (near) lossless H.264 mp4 (tests, generated videos)."""
    frames = np.asarray(frames, dtype=np.uint8)
    write_gray_mp4(path, frames, fps, width=frames.shape[2], height=frames.shape[1], crf=0)
