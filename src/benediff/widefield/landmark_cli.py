"""``benediff landmarks``: place the atlas landmarks on a recording, in the interactive editor
with a display, else (or with ``--headless``) as a starting guess plus a preview PNG."""

import argparse
import logging
import os
import sys
from pathlib import Path

from benediff.io.atlas import AtlasError, write_landmarks
from benediff.widefield.landmark_editor import LandmarkEditor
from benediff.widefield.landmark_preview import write_preview
from benediff.widefield.landmarks import load_session

log = logging.getLogger(__name__)


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
    except (AtlasError, OSError, ValueError) as exc:
        print(f"benediff landmarks: {exc}", file=sys.stderr)
        return 1
