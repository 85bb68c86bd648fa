"""Readers (and writers, for round trips) of raw widefield movies, and their channel layout.

Raw movies are read through a :class:`MovieReader`: ``n_frames`` raw frames (all channels,
interleaved), ``frame_shape`` (H, W), and :meth:`MovieReader.iter_chunks` streaming blocks of
frames so a movie is never held in memory (let alone twice). Compressed recordings (the
:data:`SVD_FORMATS`: Musall ``Vc.mat`` / ``interpVc.mat``, LocaNMF ``Vc_Uc.mat``, wfield
``U.npy`` + ``SVT*.npy``) are read by :mod:`benediff.widefield.svd_inputs`.
"""

import re
from pathlib import Path

import numpy as np

from benediff.io.atomic import atomic_output


class ReaderError(ValueError):
    """A widefield input file is unreadable or inconsistent; the message names file and fix."""


DAT_NAME = re.compile(r"_(\d+)_(\d+)_(\d+)_([a-z]+\d*)\.(dat|bin)$")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mj2", ".mkv", ".mov")
SVD_FORMATS = ("vc_mat", "vc_uc_mat", "wfield_svd")


class MovieReader:
    """Base class: subclasses implement ``_iter(start, stop, chunk)`` yielding frame blocks."""

    path: Path
    n_frames: int
    frame_shape: tuple[int, int]
    dtype: np.dtype
    n_channels_hint: int | None = None

    def iter_chunks(self, chunk=256, start=0, stop=None):
        """Yield ``(first_frame_index, block (n, H, W))``; raises on NaN/inf frames."""
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        pos = start
        for block in self._iter(start, stop, chunk):
            if block.dtype.kind == "f" and not np.isfinite(block).all():
                bad = pos + int(np.argwhere(~np.isfinite(block).reshape(len(block), -1).all(1))[0, 0])
                raise ReaderError(f"{self.path}: frame {bad} contains NaN or inf; clean or drop "
                                  "the bad frames before running the widefield stage")
            yield pos, block
            pos += len(block)
        if pos != stop:
            raise ReaderError(f"{self.path}: expected {stop - start} frames, decoded {pos - start}; "
                              "the file is truncated or corrupt, re-export it")

    def read(self, start=0, stop=None) -> np.ndarray:
        blocks = [b for _, b in self.iter_chunks(chunk=max(1, (stop or self.n_frames) - start),
                                                 start=start, stop=stop)]
        return np.concatenate(blocks) if blocks else np.empty((0, *self.frame_shape), self.dtype)

    def _iter(self, start, stop, chunk):
        raise NotImplementedError


class DatReader(MovieReader):
    """wfield binary ``<name>_<NCH>_<H>_<W>_<dtype>.dat``: C-order frames × channels × H × W.

    Streamed with sequential reads; use ``memmap()`` for random access.
    """

    def __init__(self, path):
        self.path = Path(path)
        match = DAT_NAME.search(self.path.name)
        if not match:
            raise ReaderError(f"{self.path}: name must end in _<NCH>_<H>_<W>_<dtype>.dat "
                              "(e.g. movie_2_540_640_uint16.dat) so the shape is known")
        nch, h, w, dtype = int(match[1]), int(match[2]), int(match[3]), match[4]
        try:
            self.dtype = np.dtype(dtype)
        except TypeError as exc:
            raise ReaderError(f"{self.path}: unknown dtype {dtype!r} in the file name") from exc
        frame_bytes = h * w * self.dtype.itemsize
        size = self.path.stat().st_size
        if size % (frame_bytes * nch):
            raise ReaderError(f"{self.path}: size {size} B is not a whole number of "
                              f"{nch}-channel {h}x{w} {dtype} frames ({frame_bytes * nch} B "
                              "each), as the dims in its name say; the file is truncated or "
                              "its name gives the wrong dims: re-export it or rename it "
                              "_<NCH>_<H>_<W>_<dtype>.dat with its true shape")
        self.n_frames, self.frame_shape, self.n_channels_hint = size // frame_bytes, (h, w), nch
        self._frame_bytes = frame_bytes

    def memmap(self) -> np.memmap:
        """Read-only memory map (n_frames, H, W) for random access."""
        return np.memmap(self.path, self.dtype, "r", shape=(self.n_frames, *self.frame_shape))

    def _iter(self, start, stop, chunk):
        # plain reads rather than a memmap: mapped file pages would count towards the process's
        # resident memory and a full pass would map the whole movie
        with open(self.path, "rb") as fh:
            fh.seek(start * self._frame_bytes)
            for i in range(start, stop, chunk):
                n = min(i + chunk, stop) - i
                block = np.fromfile(fh, self.dtype, count=n * self.frame_shape[0] * self.frame_shape[1])
                yield block.reshape(n, *self.frame_shape)


def write_dat(directory, name, frames: np.ndarray, n_channels: int) -> Path:
    """Write interleaved frames (n·NCH, H, W) as a wfield binary; returns the path."""
    frames = np.asarray(frames)
    h, w = frames.shape[1:]
    path = Path(directory) / f"{name}_{n_channels}_{h}_{w}_{frames.dtype.name}.dat"
    with atomic_output(path) as tmp:
        frames.tofile(tmp)
    return path


class TiffReader(MovieReader):
    """One or more multi-page TIFF stacks, concatenated in order."""

    def __init__(self, paths):
        import tifffile

        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        self.paths = [Path(p) for p in paths]
        self.path = self.paths[0]
        self._files, counts = [], []
        for p in self.paths:
            try:
                tif = tifffile.TiffFile(p)
                page = tif.pages[0]
            except Exception as exc:
                raise ReaderError(f"{p}: not a readable TIFF ({exc}); re-export the stack") from exc
            self._files.append(tif)
            counts.append(len(tif.pages))
            shape, dtype = page.shape[-2:], page.dtype
            if len(page.shape) != 2:
                raise ReaderError(f"{p}: pages must be 2-D grayscale, got {page.shape}")
            _check_complete(tif, p, counts[-1])
        self.frame_shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._offsets = np.cumsum([0, *counts])
        self.n_frames = int(self._offsets[-1])

    def _iter(self, start, stop, chunk):
        for i in range(start, stop, chunk):
            j = min(i + chunk, stop)
            yield np.stack([self._page(k) for k in range(i, j)])

    def _page(self, k):
        f = int(np.searchsorted(self._offsets, k, side="right") - 1)
        try:
            page = self._files[f].pages[k - self._offsets[f]].asarray()
        except Exception as exc:
            raise ReaderError(f"{self.paths[f]}: page {k - self._offsets[f]} unreadable ({exc}); "
                              "the TIFF is truncated or corrupt") from exc
        if page.shape != self.frame_shape:
            raise ReaderError(f"{self.paths[f]}: page shape {page.shape} differs from "
                              f"{self.frame_shape}; all pages must have one size")
        return page


def _declared_frames(tif) -> int | None:
    """Frames the TIFF's own metadata declares (tifffile shaped or ImageJ), or None."""
    try:
        for meta in tif.shaped_metadata or ():
            shape = meta.get("shape")
            if shape and len(shape) >= 3:
                return int(np.prod(shape[:-2]))
        images = (tif.imagej_metadata or {}).get("images")
        return int(images) if images else None
    except (TypeError, ValueError, AttributeError):
        return None


def _check_complete(tif, path, n_pages: int) -> None:
    """A TIFF cut short (an interrupted copy) reads as fewer pages than it holds, or its last
    page's data runs past the end of the file: say so, not what the short count implies."""
    size = Path(path).stat().st_size
    declared = _declared_frames(tif)
    if declared and declared > n_pages:
        raise ReaderError(f"{path}: the file is truncated: its header declares {declared} frames "
                          f"but only {n_pages} can be read ({size} B on disk); copy or export "
                          "the stack again")
    last = tif.pages[n_pages - 1] if n_pages else None
    offsets = getattr(last, "dataoffsets", None) or ()
    counts = getattr(last, "databytecounts", None) or ()
    if offsets and counts and max(o + c for o, c in zip(offsets, counts)) > size:
        raise ReaderError(f"{path}: the file is truncated: frame {n_pages - 1}'s data runs past "
                          f"the end of the file ({size} B); copy or export the stack again")


def write_tiff(path, frames: np.ndarray) -> None:
    import tifffile

    with atomic_output(path) as tmp:
        tifffile.imwrite(tmp, np.asarray(frames))


class VideoReader(MovieReader):
    """AVI / MP4 / MJ2 / MKV through PyAV; 8-bit gray (or colour → luma) and 16-bit gray."""

    def __init__(self, path):
        self.path = Path(path)
        first = None
        count = 0
        with self._open() as container:
            stream = container.streams.video[0]
            declared = int(stream.frames or 0)
            for frame in self._decode(container):
                first = first if first is not None else self._to_array(frame)
                count += 1
                if declared:  # header count is trusted once decoding starts fine
                    break
        if first is None:
            raise ReaderError(f"{self.path}: no decodable video frames; the file is corrupt")
        self.n_frames = declared or count
        self.frame_shape, self.dtype = first.shape, first.dtype

    def _open(self):
        import av

        try:
            return av.open(str(self.path))
        except Exception as exc:
            raise ReaderError(f"{self.path}: cannot open video ({exc}); the file is truncated, "
                              "corrupt or not a video") from exc

    def _decode(self, container):
        try:
            yield from container.decode(video=0)
        except Exception as exc:
            raise ReaderError(f"{self.path}: video decoding failed ({exc}); the file is "
                              "truncated or corrupt") from exc

    @staticmethod
    def _to_array(frame):
        name = frame.format.name
        if name.startswith("gray") and name not in ("gray", "gray8"):
            return frame.to_ndarray(format="gray16le")
        return frame.to_ndarray(format="gray")

    def _iter(self, start, stop, chunk):
        block = []
        with self._open() as container:
            for i, frame in enumerate(self._decode(container)):
                if i >= stop:
                    break
                if i < start:
                    continue
                block.append(self._to_array(frame))
                if len(block) == chunk:
                    yield np.stack(block)
                    block = []
        if block:
            yield np.stack(block)


def write_video(path, frames: np.ndarray, fps=30, codec=None) -> None:
    """Lossless grayscale video: ffv1, or JPEG-2000 (5/3 wavelet) for ``.mj2``.

    uint8 → gray, uint16 → gray16le. PyAV's ffmpeg has no mj2 muxer, so ``.mj2`` files are
    written in the QuickTime container the mj2 demuxer shares.
    """
    import av

    frames = np.asarray(frames)
    pix = "gray16le" if frames.dtype == np.uint16 else "gray"
    is_mj2 = Path(path).suffix.lower() == ".mj2"
    codec = codec or ("jpeg2000" if is_mj2 else "ffv1")
    options = {"pred": "dwt53"} if codec == "jpeg2000" else {}
    with atomic_output(path) as tmp:
        with av.open(str(tmp), "w", format="mov" if is_mj2 else None) as container:
            stream = container.add_stream(codec, rate=fps, options=options)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = pix
            for img in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format=pix)))
            container.mux(stream.encode())


class ArrayReader(MovieReader):
    """An in-memory (or h5py / memmap) array (frames, H, W) as a movie (NWB, tests)."""

    def __init__(self, data, path="<array>"):
        self._data, self.path = data, Path(str(path))
        self.n_frames, self.frame_shape = int(data.shape[0]), tuple(data.shape[1:3])
        self.dtype = np.dtype(data.dtype)

    def _iter(self, start, stop, chunk):
        for i in range(start, stop, chunk):
            yield np.asarray(self._data[i:min(i + chunk, stop)])


NWB_SERIES = "OnePhotonSeries"


def _nwb_series(nwb, path, series=None):
    """The imaging series named ``series`` (any OnePhotonSeries in acquisition), or the only
    one; a clear error listing the names otherwise."""
    candidates = {k: v for k, v in nwb.acquisition.items() if type(v).__name__ == NWB_SERIES}
    names = sorted(candidates)
    if series is not None:
        if series not in candidates:
            raise ReaderError(f"{path}: no {NWB_SERIES} named {series!r} in acquisition; its "
                              f"{NWB_SERIES} are {names or 'none'} (all of acquisition: "
                              f"{sorted(nwb.acquisition)}); fix sessions.<session>.nwb_series")
        return candidates[series]
    if not candidates:
        raise ReaderError(f"{path}: no {NWB_SERIES} in acquisition (found "
                          f"{sorted(nwb.acquisition) or 'nothing'}); the widefield movie must "
                          f"be a {NWB_SERIES}")
    if len(candidates) > 1:
        raise ReaderError(f"{path}: {len(names)} {NWB_SERIES} in acquisition: {names}; name the "
                          "imaging movie (both channels interleaved) in "
                          "sessions.<session>.nwb_series")
    return candidates[names[0]]


def _open_nwb(path):
    try:
        from pynwb import NWBHDF5IO
    except ImportError as exc:
        raise ReaderError(f"{path}: reading NWB needs pynwb; pip install pynwb") from exc
    io = NWBHDF5IO(str(path), "r")
    try:
        return io, io.read()
    except Exception as exc:
        io.close()
        raise ReaderError(f"{path}: not a readable NWB file ({exc})") from exc


def read_nwb(path, series=None) -> ArrayReader:
    """The OnePhotonSeries ``series`` of an NWB file (None: the only one); data streamed lazily."""
    io, nwb = _open_nwb(path)
    try:
        reader = ArrayReader(_nwb_series(nwb, path, series).data, path)
    except ReaderError:
        io.close()
        raise
    reader._io = io  # keep the file open as long as the reader lives
    return reader


def read_nwb_timing(path, series=None, channels: int = 1):
    """(frame times, trials) of an NWB movie: the series' timestamps (or starting_time + k /
    rate) per frame of one channel (every ``channels``-th stored frame, the first channel's),
    and the file's trials table (trial_id, start_time, stop_time; None without one)."""
    import pandas as pd

    io, nwb = _open_nwb(path)
    try:
        movie = _nwb_series(nwb, path, series)
        n = int(movie.data.shape[0])
        if movie.timestamps is not None:
            times = np.asarray(movie.timestamps[()], np.float64)
        else:
            times = float(movie.starting_time or 0.0) + np.arange(n) / float(movie.rate)
        times = times[::channels]
        trials = None
        if nwb.trials is not None and len(nwb.trials):
            frame = nwb.trials.to_dataframe()
            trials = pd.DataFrame({"trial_id": frame.index.to_numpy(),
                                   "start_time": frame["start_time"].to_numpy(np.float64),
                                   "stop_time": frame["stop_time"].to_numpy(np.float64)})
    finally:
        io.close()
    return times, trials


def nwb_format(series=None) -> str:
    """The format string naming one NWB imaging series (``nwb:<name>``; plain ``nwb`` without)."""
    return f"nwb:{series}" if series else "nwb"


def guess_format(path) -> str:
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return "wfield_svd"
    if DAT_NAME.search(name) or name.endswith((".dat", ".bin")):
        return "dat"
    if name.endswith((".tif", ".tiff")):
        return "tiff"
    if name.endswith(VIDEO_SUFFIXES):
        return "video"
    if name.endswith(".nwb"):
        return "nwb"
    if name.endswith(".mat"):
        return "vc_uc_mat" if "uc" in name else "vc_mat"
    raise ReaderError(f"{path}: cannot tell the format from the name; set widefield.format "
                      "(dat, tiff, video, nwb, vc_mat, vc_uc_mat, wfield_svd)")


def movie_format(path, cfg, session_format="auto") -> str:
    """The format of a session's movie: the session's ``format``, else ``widefield.format``
    (``cfg``), guessed from the name when ``auto``."""
    fmt = session_format if session_format not in (None, "auto") else cfg["format"]
    return guess_format(path) if fmt == "auto" else fmt


def open_movie(path, fmt="auto") -> MovieReader:
    """Open a raw movie of format ``fmt`` (auto: from the file name)."""
    path = Path(path)
    if not path.exists():
        raise ReaderError(f"{path}: widefield movie does not exist; check sessions.*.widefield")
    fmt = guess_format(path) if fmt == "auto" else fmt
    if fmt.startswith("nwb:"):  # nwb_format(series): the series sessions.<s>.nwb_series names
        return read_nwb(path, fmt.partition(":")[2])
    readers = {"dat": DatReader, "tiff": TiffReader, "video": VideoReader, "nwb": read_nwb}
    if fmt not in readers:
        raise ReaderError(f"{path}: format {fmt!r} is not a raw movie; raw formats are "
                          f"{sorted(readers)}")
    return readers[fmt](path)


# ---------------------------------------------------------------- channels

def check_channels(reader: MovieReader, n_channels: int) -> int:
    """Frames per channel; raises if the raw frame count is not divisible by ``n_channels``."""
    hint = getattr(reader, "n_channels_hint", None)
    if hint is not None and hint != n_channels:
        raise ReaderError(f"{reader.path}: the file name says {hint} channel(s) but "
                          f"widefield.channels = {n_channels}; set widefield.channels to {hint}")
    if reader.n_frames % n_channels:
        raise ReaderError(f"{reader.path}: {reader.n_frames} frames is not divisible by "
                          f"{n_channels} channels; drop the incomplete last cycle or fix "
                          "widefield.channels")
    if reader.n_frames == 0:
        raise ReaderError(f"{reader.path}: the movie has no frames")
    return reader.n_frames // n_channels


def detect_channel_order(reader: MovieReader, n_channels=2, n_probe=200) -> list[int]:
    """Raw frame parities ordered (blue, violet, ...): the brighter channel is blue (470 nm)."""
    if n_channels == 1:
        return [0]
    stop = min(reader.n_frames, n_probe * n_channels)
    means = np.zeros(n_channels)
    counts = np.zeros(n_channels)
    for first, block in reader.iter_chunks(chunk=64, stop=stop):
        idx = (first + np.arange(len(block))) % n_channels
        frame_means = block.reshape(len(block), -1).mean(1)
        np.add.at(means, idx, frame_means)
        np.add.at(counts, idx, 1)
    return [int(c) for c in np.argsort(-(means / np.maximum(counts, 1)), kind="stable")]


def channel_order(reader, n_channels, setting) -> list[int]:
    """``setting`` auto | blue_first | violet_first → raw parity of each channel (blue first)."""
    if n_channels == 1:
        return [0]
    if setting == "auto":
        return detect_channel_order(reader, n_channels)
    return [0, 1] if setting == "blue_first" else [1, 0]
