"""The interactive landmark editor: a matplotlib window in which the landmarks are dragged with
the mouse and the atlas outlines follow live; ``s`` saves, ``r`` resets to the starting points,
``q`` / closing the window saves and quits."""

import logging
from pathlib import Path

import numpy as np

from benediff.io.atlas import AtlasError, write_landmarks
from benediff.widefield.landmark_preview import (outline_rgba, alignment_title, draw_alignment,
                                                 write_preview)
from benediff.widefield.landmarks import Session

log = logging.getLogger(__name__)

HELP = "drag the landmarks | s: save | r: reset to guess | q / close: save and quit"


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
        except AtlasError as exc:  # degenerate placement while dragging
            log.debug("no fit: %s", exc)
            return
        self.artists["outline"].set_data(outline_rgba(labels))
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
