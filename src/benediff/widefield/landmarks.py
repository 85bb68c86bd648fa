"""Placing the atlas landmarks on a recording: a starting guess, a preview and an editor.

The four wfield landmarks (``OB_left``, ``OB_center``, ``OB_right``: the olfactory bulb /
frontal cortex junction; ``RSP_base``: the posterior end of the midline, retrosplenial cortex)
are known in the atlas (``landmarks_im``, atlas px); the user places them on the mean frame of
the recording (``landmarks_match``, session px). The file written is wfield's landmarks JSON:
``landmarks`` (mm from bregma), ``landmarks_im``, ``landmarks_match`` (each ``{x, y, name,
color}`` lists), ``resolution``, ``bregma_offset``, ``transform`` / ``transform_inverse``
(3 x 3, atlas px -> session px) and ``transform_type``; :func:`benediff.io.atlas.fit_transform`
and wfield's ``load_allen_landmarks`` both read it.

- :func:`guess_transform`: a similarity that lays the atlas onto the brain mask of the
  recording (centroid and area, then a local search maximising their Dice overlap);
- :func:`write_preview`: PNG of the mean frame, atlas outlines, brain contour and landmarks;
- :class:`LandmarkEditor`: interactive matplotlib window, landmarks dragged with the mouse and
  the atlas outlines following live; ``s`` saves, ``r`` resets to the guess, ``q`` / closing
  the window saves and quits;
- :func:`main`: the ``benediff landmarks`` command (headless without a display).
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

from benediff.io import atlas as atl
from benediff.io.atomic import atomic_output

log = logging.getLogger(__name__)

# wfield's reference landmarks (mm from bregma: x mediolateral, left negative; y posterior)
LANDMARKS_MM = {"OB_left": (-1.95, -3.45), "OB_center": (0.0, -3.45),
                "OB_right": (1.95, -3.45), "RSP_base": (0.0, 3.2)}
COLORS = {"OB_left": "#fc9d03", "OB_center": "#0367fc", "OB_right": "#fc9d03",
          "RSP_base": "#fc4103"}
HELP = "drag the landmarks | s: save | r: reset to guess | q / close: save and quit"


# ---------------------------------------------------------------- atlas landmarks

def atlas_landmarks(atlas: atl.Atlas) -> tuple[dict[str, tuple[float, float]], float, tuple]:
    """Landmark points in atlas px, resolution (mm/px) and bregma (x, y px) of an atlas.

    From the atlas's resolution and bregma when known (wfield reference, simulator atlas.npz),
    else estimated from the brain outline (9.6 mm wide, bregma 45 % down the brain).
    """
    if atlas.resolution is not None and atlas.bregma is not None:
        res, bregma = float(atlas.resolution), atlas.bregma
    else:
        rows, cols = np.nonzero(atlas.labels)
        if not len(rows):
            raise atl.AtlasError("the atlas has no labelled pixel; cannot place landmarks")
        res = 9.6 / (cols.max() - cols.min() + 1)
        bregma = (float(cols.mean()), float(rows.min() + 0.45 * (rows.max() - rows.min())))
    points = {n: (bregma[0] + x / res, bregma[1] + y / res) for n, (x, y) in LANDMARKS_MM.items()}
    return points, res, (float(bregma[0]), float(bregma[1]))


def _point_table(points: dict) -> dict:
    names = list(points)
    return {"x": [float(points[n][0]) for n in names], "y": [float(points[n][1]) for n in names],
            "name": names, "color": [COLORS.get(n, "#ffffff") for n in names]}


def landmarks_json(atlas_points: dict, session_points: dict, resolution=None, bregma=None,
                   kind="similarity") -> dict:
    """wfield landmarks dict; the transform is fitted on the point pairs (atlas -> session)."""
    data = {"landmarks_im": _point_table(atlas_points),
            "landmarks_match": _point_table({n: session_points[n] for n in atlas_points}),
            "transform_type": kind}
    if resolution is not None and bregma is not None:
        mm = {n: ((p[0] - bregma[0]) * resolution, (p[1] - bregma[1]) * resolution)
              for n, p in atlas_points.items()}
        data.update(landmarks=_point_table(mm), resolution=float(resolution),
                    bregma_offset=[float(bregma[0]), float(bregma[1])])
    tform = atl.fit_transform(data, kind)
    data["transform"] = tform.params.tolist()
    data["transform_inverse"] = np.linalg.inv(tform.params).tolist()
    return data


def write_landmarks(path, data: dict) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=4, sort_keys=True))


# ---------------------------------------------------------------- starting guess

def _similarity(centre_atlas, centre_session, scale, angle):
    from skimage.transform import SimilarityTransform

    c, s = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]])
    shift = np.asarray(centre_session) - linear @ np.asarray(centre_atlas)
    return SimilarityTransform(scale=scale, rotation=angle, translation=shift)


def guess_transform(atlas: atl.Atlas, brain: np.ndarray, brain_found=True, n_points=3000,
                    seed=0):
    """Similarity (atlas px -> session px) laying the atlas onto the brain mask.

    Start: centroids matched, scale from the areas (from the frame size when no brain/surround
    boundary was found), no rotation. Then a coordinate search over centre, log-scale and
    rotation maximising the Dice overlap of the two masks, estimated on sampled pixels.
    """
    inside = np.argwhere(atlas.labels != 0)[:, ::-1].astype(np.float64)  # (x, y)
    if not len(inside):
        raise atl.AtlasError("the atlas has no labelled pixel; cannot place it")
    brain = np.asarray(brain, bool)
    h, w = brain.shape
    pts_b = np.argwhere(brain)[:, ::-1].astype(np.float64)
    c_atlas = inside.mean(0)
    if brain_found and len(pts_b):
        c_brain = pts_b.mean(0)
        scale = np.sqrt(len(pts_b) / len(inside))
    else:
        span = inside.max(0) - inside.min(0) + 1
        c_brain = np.array([(w - 1) / 2, (h - 1) / 2])
        scale = 0.9 * min(w / span[0], h / span[1])
    if not (brain_found and len(pts_b)):
        return _similarity(c_atlas, c_brain, scale, 0.0)
    rng = np.random.default_rng(seed)
    pa = inside[rng.choice(len(inside), min(n_points, len(inside)), replace=False)]
    pb = pts_b[rng.choice(len(pts_b), min(n_points, len(pts_b)), replace=False)]
    labels = atlas.labels != 0

    def score(p):
        t = _similarity(c_atlas, p[:2], np.exp(p[2]), p[3])
        a = np.rint(t(pa)).astype(int)
        ok = (a[:, 0] >= 0) & (a[:, 0] < w) & (a[:, 1] >= 0) & (a[:, 1] < h)
        prec = np.mean(ok & brain[a[:, 1].clip(0, h - 1), a[:, 0].clip(0, w - 1)])
        b = np.rint(t.inverse(pb)).astype(int)
        H, W = labels.shape
        ok = (b[:, 0] >= 0) & (b[:, 0] < W) & (b[:, 1] >= 0) & (b[:, 1] < H)
        rec = np.mean(ok & labels[b[:, 1].clip(0, H - 1), b[:, 0].clip(0, W - 1)])
        return 2 * prec * rec / (prec + rec) if prec + rec else 0.0

    p = np.array([c_brain[0], c_brain[1], np.log(scale), 0.0])
    steps = np.array([0.05 * max(h, w), 0.05 * max(h, w), 0.05, np.deg2rad(4)])
    best = score(p)
    for _ in range(6):
        improved = True
        while improved:
            improved = False
            for i in range(4):
                for sign in (1, -1):
                    q = p.copy()
                    q[i] += sign * steps[i]
                    s = score(q)
                    if s > best + 1e-9:
                        p, best, improved = q, s, True
        steps /= 2
    return _similarity(c_atlas, p[:2], np.exp(p[2]), p[3])


# ---------------------------------------------------------------- drawing

def draw_alignment(ax, image, labels, brain=None, points=None, fit_points=None):
    """Mean frame (grey) under the atlas outlines (cyan), the brain contour (yellow) and the
    landmarks (session px: circles with names; ``fit_points``: where the fit puts them, x).
    Returns the artists an editor updates: ``outline`` (image) and ``points`` (name -> line)."""
    base = brain.astype(np.float32) if image is None and brain is not None else image
    if base is None:
        base = np.zeros(np.shape(labels), np.float32)
    base = np.asarray(base, np.float64)
    lo, hi = np.percentile(base, [1, 99.5]) if base.size else (0, 1)
    ax.imshow(base, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    artists = {"outline": ax.imshow(_outline_rgba(labels), interpolation="nearest"), "points": {},
               "texts": {}}
    if brain is not None and np.any(brain) and not np.all(brain):
        ax.contour(np.asarray(brain, float), levels=[0.5], colors="yellow", linewidths=1)
    for name, (x, y) in (points or {}).items():
        (line,) = ax.plot([x], [y], "o", ms=8, mfc="none", mew=2, color=COLORS.get(name, "w"))
        artists["points"][name] = line
        artists["texts"][name] = ax.annotate(name, (x, y), xytext=(6, 6),
                                             textcoords="offset points", color="white",
                                             fontsize=7)
    for name, (x, y) in (fit_points or {}).items():
        ax.plot([x], [y], "x", ms=6, color=COLORS.get(name, "w"))
    ax.set_xlim(-0.5, base.shape[1] - 0.5)
    ax.set_ylim(base.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    return artists


def _outline_rgba(labels):
    edge = atl.outline(np.asarray(labels)) & (np.asarray(labels) != 0)
    rgba = np.zeros((*edge.shape, 4), np.float32)
    rgba[edge] = (0.0, 1.0, 1.0, 0.9)
    return rgba


def alignment_title(overlap: atl.Overlap, min_overlap=None) -> str:
    verdict = ""
    if min_overlap is not None:
        verdict = " OK" if overlap.overlap >= min_overlap else f" < min_overlap {min_overlap:.2f}"
    return (f"overlap {overlap.overlap:.2f}{verdict}  (atlas in brain {overlap.atlas_in_brain:.2f}, "
            f"brain covered {overlap.brain_covered:.2f})")


def write_preview(path, image, labels, brain, points, overlap, title="", min_overlap=None):
    """PNG of :func:`draw_alignment` (drawn with the Agg canvas, whatever the backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, w = np.shape(labels)
    fig = Figure(figsize=(8, 8 * h / w + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 * (8 * h / w) / (8 * h / w + 0.8)))
    draw_alignment(ax, image, labels, brain, points)
    fig.suptitle(f"{title}\n{alignment_title(overlap, min_overlap)}", fontsize=9)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")


# ---------------------------------------------------------------- session state

class Session:
    """A recording's mean frame and brain mask with an atlas and its landmarks (atlas px)."""

    def __init__(self, image, brain, brain_found, atlas: atl.Atlas, atlas_points=None,
                 resolution=None, bregma=None, kind="similarity"):
        self.image, self.brain, self.brain_found = image, np.asarray(brain, bool), brain_found
        self.atlas, self.kind = atlas, kind
        if atlas_points is None:
            atlas_points, resolution, bregma = atlas_landmarks(atlas)
        self.atlas_points, self.resolution, self.bregma = dict(atlas_points), resolution, bregma
        self.shape = self.brain.shape

    def guess(self) -> dict:
        """Session points of the landmarks from :func:`guess_transform`."""
        tform = guess_transform(self.atlas, self.brain, self.brain_found)
        pts = tform(np.array(list(self.atlas_points.values())))
        return {n: (float(x), float(y)) for n, (x, y) in zip(self.atlas_points, pts)}

    def data(self, points) -> dict:
        return landmarks_json(self.atlas_points, points, self.resolution, self.bregma, self.kind)

    def align(self, points):
        """(transform, warped labels, :class:`Overlap`) for session ``points``."""
        tform = atl.fit_transform(self.data(points), self.kind)
        labels = atl.warp_atlas(self.atlas, tform, self.shape).labels
        return tform, labels, atl.alignment_overlap(self.atlas, labels, tform, self.brain,
                                                    self.brain_found)


def load_session(movie, atlas_path, cfg=None, session_format="auto", motion_h5=None,
                 start=None, kind=None) -> tuple[Session, dict | None]:
    """Session for a movie (any reader format, or a mean frame .npy / image) and an atlas.

    ``start``: an existing landmarks file whose atlas points (and session points, returned)
    are used instead of the atlas's own.
    """
    from benediff.widefield import pipeline as wp

    cfg = _cfg(cfg)
    movie = Path(movie)
    if movie.suffix.lower() in (".npy", ".png", ".jpg", ".jpeg"):
        image = _read_image(movie)
        brain, found = atl.image_brain_mask(image)
    else:
        image, brain, found = wp.recording_brain_mask(movie, cfg, session_format, motion_h5)
    atlas = atl.load_atlas(atlas_path)
    atlas_points = res = bregma = start_points = None
    if start is not None:
        data = atl.read_landmarks(start)
        atlas_points = atl._points(data["landmarks_im"], "landmarks_im", str(start))
        start_points = atl._points(data["landmarks_match"], "landmarks_match", str(start))
        res, bregma = data.get("resolution"), data.get("bregma_offset")
        kind = kind or data.get("transform_type")
    session = Session(image, brain, found, atlas, atlas_points, res, bregma,
                      kind or "similarity")
    return session, start_points


def _read_image(path):
    if path.suffix.lower() == ".npy":
        image = np.load(path)
    else:
        import imageio.v3 as iio

        image = iio.imread(path)
    image = np.asarray(image, np.float32)
    return image.mean(-1) if image.ndim == 3 else image


def _cfg(cfg):
    defaults = {"format": "auto", "channels": 2, "channel_order": "auto", "chunk_frames": 256,
                "motion": {"nref": 60}}
    cfg = {**defaults, **(cfg or {})}
    cfg["motion"] = {**defaults["motion"], **cfg.get("motion", {})}
    return cfg


def run_guess(movie, atlas_path, out_json, out_png, cfg=None, session_format="auto",
              motion_h5=None, title=""):
    """Headless: write the starting-guess landmarks file and its preview PNG."""
    session, _ = load_session(movie, atlas_path, cfg, session_format, motion_h5)
    points = session.guess()
    _, labels, overlap = session.align(points)
    min_overlap = (cfg or {}).get("atlas", {}).get("min_overlap")
    write_landmarks(out_json, session.data(points))
    write_preview(out_png, session.image, labels, session.brain, points, overlap,
                  title or f"starting guess for {Path(movie).name}: check it, edit with "
                  "`benediff landmarks`", min_overlap)
    log.info("%s: starting guess written (%s)", out_json, overlap.describe())
    return points, overlap


# ---------------------------------------------------------------- interactive editor

class LandmarkEditor:
    """Matplotlib window: drag the landmarks, the atlas outlines follow; saves on s / close."""

    def __init__(self, session: Session, points: dict, out, preview=None, min_overlap=None,
                 pick_radius=15):
        import matplotlib
        import matplotlib.pyplot as plt

        # our keys, not matplotlib's defaults (s = save-figure dialog, r = home view)
        for name, key in (("keymap.save", "s"), ("keymap.home", "r")):
            matplotlib.rcParams[name] = [k for k in matplotlib.rcParams[name] if k != key]
        self.session, self.out, self.preview = session, Path(out), preview
        self.points = {n: tuple(map(float, p)) for n, p in points.items()}
        self.initial = dict(self.points)
        self.min_overlap, self.pick_radius = min_overlap, pick_radius
        self.dragging = None
        self.saved = 0
        h, w = session.shape
        self.fig = plt.figure(figsize=(8, 8 * h / w + 0.6), dpi=100)
        self.ax = self.fig.add_axes((0.01, 0.01, 0.98, 0.98 * (8 * h / w) / (8 * h / w + 0.6)))
        tform, labels, self.overlap = session.align(self.points)
        self.artists = draw_alignment(self.ax, session.image, labels, session.brain, self.points)
        self.fig.canvas.manager.set_window_title("benediff landmarks")
        self._title()
        canvas = self.fig.canvas
        canvas.mpl_connect("button_press_event", self.on_press)
        canvas.mpl_connect("motion_notify_event", self.on_motion)
        canvas.mpl_connect("button_release_event", self.on_release)
        canvas.mpl_connect("key_press_event", self.on_key)
        canvas.mpl_connect("close_event", self.on_close)

    def _title(self):
        self.fig.suptitle(f"{alignment_title(self.overlap, self.min_overlap)}\n{HELP}", fontsize=9)

    def nearest(self, event):
        """Landmark within ``pick_radius`` display px of a mouse event, else None."""
        if event.x is None or event.y is None:
            return None
        best, dist = None, self.pick_radius
        for name, (x, y) in self.points.items():
            dx, dy = self.ax.transData.transform((x, y)) - (event.x, event.y)
            if np.hypot(dx, dy) <= dist:
                best, dist = name, np.hypot(dx, dy)
        return best

    def on_press(self, event):
        if event.inaxes is self.ax and event.button == 1:
            self.dragging = self.nearest(event)

    def on_motion(self, event):
        if self.dragging is None or event.inaxes is not self.ax or event.xdata is None:
            return
        self.move(self.dragging, event.xdata, event.ydata)

    def on_release(self, event):
        if self.dragging is not None and event.inaxes is self.ax and event.xdata is not None:
            self.move(self.dragging, event.xdata, event.ydata)
        self.dragging = None

    def move(self, name, x, y):
        """Put landmark ``name`` at (x, y) session px, refit and redraw the atlas outlines."""
        self.points[name] = (float(x), float(y))
        self.artists["points"][name].set_data([x], [y])
        self.artists["texts"][name].xy = (x, y)
        self.refresh()

    def refresh(self):
        try:
            _, labels, self.overlap = self.session.align(self.points)
        except atl.AtlasError as exc:  # degenerate placement while dragging
            log.debug("no fit: %s", exc)
            return
        self.artists["outline"].set_data(_outline_rgba(labels))
        self._title()
        self.fig.canvas.draw_idle()

    def on_key(self, event):
        if event.key == "s":
            self.save()
        elif event.key == "r":
            for name, (x, y) in self.initial.items():
                self.points[name] = (x, y)
                self.artists["points"][name].set_data([x], [y])
                self.artists["texts"][name].xy = (x, y)
            self.refresh()

    def on_close(self, event):
        self.save()

    def save(self):
        write_landmarks(self.out, self.session.data(self.points))
        if self.preview is not None:
            _, labels, overlap = self.session.align(self.points)
            write_preview(self.preview, self.session.image, labels, self.session.brain,
                          self.points, overlap, f"landmarks {self.out.name}", self.min_overlap)
        self.saved += 1
        log.info("%s written (%s)", self.out, self.overlap.describe())
        print(f"benediff landmarks: wrote {self.out} ({self.overlap.describe()})", flush=True)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
        or sys.platform in ("darwin", "win32")


def interactive_backend() -> str | None:
    """A usable GUI backend (TkAgg, then QtAgg), or None."""
    import matplotlib

    current = matplotlib.get_backend()
    candidates = ["TkAgg", "QtAgg"]
    if current.lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template") \
            and "inline" not in current.lower():
        candidates.insert(0, current)
    for backend in candidates:
        try:
            matplotlib.use(backend, force=True)
            import matplotlib.pyplot as plt

            plt.figure()
            plt.close("all")
            return backend
        except Exception as exc:  # backend module or display unusable
            log.debug("backend %s unusable: %s", backend, exc)
    matplotlib.use("Agg", force=True)
    return None


# ---------------------------------------------------------------- command line

def build_parser(parser=None):
    parser = parser or argparse.ArgumentParser(prog="benediff landmarks")
    parser.description = (
        "Place the four wfield atlas landmarks (OB_left, OB_center, OB_right, RSP_base) on the "
        "mean frame of a widefield recording and write wfield's landmarks.json. With a display: "
        "an interactive window (drag the landmarks; s saves, r resets, q / close saves and "
        "quits). Without one (or --headless): a starting guess from the brain mask of the "
        "recording plus a preview PNG to check.")
    parser.add_argument("movie", help="raw movie (any widefield format), or a mean frame "
                        "(.npy, .png)")
    parser.add_argument("--atlas", required=True, help="atlas (wfield reference dir, "
                        "atlas.mat, mesoscopy .tiff or atlas.npz)")
    parser.add_argument("-o", "--output", default="landmarks.json", help="landmarks file to write")
    parser.add_argument("--preview", help="preview PNG (default: OUTPUT with .png)")
    parser.add_argument("--start", help="existing landmarks file to start from (else a guess)")
    parser.add_argument("--headless", action="store_true", help="write the guess and preview only")
    parser.add_argument("--format", default="auto", help="movie format (default: from the name)")
    parser.add_argument("--channels", type=int, default=2, choices=(1, 2))
    parser.add_argument("--channel-order", default="auto",
                        choices=("auto", "blue_first", "violet_first"))
    parser.add_argument("--motion", help="motion.h5 of the session (registered mean frame)")
    parser.add_argument("--transform", choices=("similarity", "affine"), default=None)
    parser.add_argument("--min-overlap", type=float, default=0.7,
                        help="threshold shown in the title (widefield.atlas.min_overlap)")
    return parser


def main(argv=None, on_ready=None) -> int:
    """``benediff landmarks``; ``on_ready(editor)`` runs once the window is up (tests)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.output)
    preview = Path(args.preview) if args.preview else out.with_suffix(".png")
    cfg = {"format": args.format, "channels": args.channels, "channel_order": args.channel_order,
           "atlas": {"min_overlap": args.min_overlap}}
    try:
        backend = None if args.headless or not has_display() else interactive_backend()
        if backend is None:
            if args.start:
                print("benediff landmarks: --start is ignored without a display", file=sys.stderr)
            session, _ = load_session(args.movie, args.atlas, cfg, args.format, args.motion,
                                      kind=args.transform)
            points = session.guess()
            _, labels, overlap = session.align(points)
            write_landmarks(out, session.data(points))
            write_preview(preview, session.image, labels, session.brain, points, overlap,
                          f"starting guess for {Path(args.movie).name}: check it, edit it "
                          "with `benediff landmarks` on a display", args.min_overlap)
            print(f"benediff landmarks: no display, wrote the starting guess {out} and "
                  f"{preview} ({overlap.describe()}); check the preview, then edit the "
                  "landmarks on a machine with a display", flush=True)
            return 0
        import matplotlib.pyplot as plt

        session, start_points = load_session(args.movie, args.atlas, cfg, args.format,
                                             args.motion, args.start, args.transform)
        points = start_points or session.guess()
        editor = LandmarkEditor(session, points, out, preview, args.min_overlap)
        if on_ready is not None:
            timer = editor.fig.canvas.new_timer(interval=300)
            timer.single_shot = True
            timer.add_callback(on_ready, editor)
            timer.start()
        plt.show()
        return 0
    except (atl.AtlasError, OSError, ValueError) as exc:
        print(f"benediff landmarks: {exc}", file=sys.stderr)
        return 1
