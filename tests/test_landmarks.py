"""Alignment you can trust: the recording's brain mask, the landmark check in widefield_atlas,
regions outside the imaged brain, the QC alignment page and the `benediff landmarks` tool
(headless guess + preview, and the interactive editor driven under Xvfb)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benediff import config as bconfig
from benediff.io import atlas as atl
from benediff.io import regions, session_atlas
from benediff.simulate import movie as sim_movie
from benediff.simulate import session as sim_session
from benediff.simulate.params import PRESETS, SimParams
from benediff.widefield import landmarks as lm
from benediff.widefield import pipeline as wp
from benediff.widefield import registration as reg
from shared_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
WFIELD = SHARED_DATA / "atlas" / "wfield_references"
needs_wfield = pytest.mark.skipif(not WFIELD.exists(), reason="shared wfield atlas not available")


def simulate(d, shape, seed=3, atlas=None):
    """A short simulated recording (.dat), its landmarks, atlas.npz, motion.h5 and the truth."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    p = SimParams(**{**PRESETS["demo"], "movie_height": shape[0], "movie_width": shape[1],
                     "n_trials": 2, "frames_per_trial": 24, "movie_formats": ("dat",),
                     "atlas": None if atlas is None else str(atlas)})
    rng = sim_session.random_streams(seed)
    gt, ref = sim_session.plant_truth(p, rng)
    paths = sim_session._paths(d, p)
    sim_movie.write_movie(sim_movie.movie_chunks(gt, rng["noise"], p.noise), p.movie_shape,
                          len(gt["activities"]), paths["dat"])
    sim_session._write_landmarks(paths["landmarks"], ref, gt["transform"])
    sim_session._write_atlas(paths["atlas"], ref)
    cfg = widefield_cfg()
    wp.run_motion(paths["dat"], d / "motion.h5", cfg)
    return SimpleNamespace(d=d, movie=paths["dat"], landmarks=paths["landmarks"],
                           atlas=paths["atlas"], motion=d / "motion.h5", gt=gt, cfg=cfg)


def widefield_cfg(**over):
    cfg = bconfig.validate({"sessions": {"S": {"source": "simulate"}}})["widefield"]
    cfg["motion"]["nref"] = 10
    cfg.update(over)
    return cfg


def shifted(path, out, dx=0, dy=0):
    data = json.loads(Path(path).read_text())
    data["landmarks_match"]["x"] = [x + dx for x in data["landmarks_match"]["x"]]
    data["landmarks_match"]["y"] = [y + dy for y in data["landmarks_match"]["y"]]
    Path(out).write_text(json.dumps(data))
    return Path(out)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """270 x 320 recording simulated with the real Allen (wfield) atlas."""
    if not WFIELD.exists():
        pytest.skip("shared wfield atlas not available")
    return simulate(tmp_path_factory.mktemp("real"), (270, 320), atlas=WFIELD)


# ---------------------------------------------------------------- brain mask

@pytest.mark.parametrize("shape", [(64, 72), (80, 96)])
def test_brain_mask_matches_simulated_brain_small_frames(tmp_path, shape):
    s = simulate(tmp_path, shape)
    image, mask, found = wp.recording_brain_mask(s.movie, s.cfg, motion_h5=s.motion)
    truth = s.gt["session_labels"] != 0
    assert found and image.shape == shape
    assert (mask & truth).sum() / (mask | truth).sum() > 0.93


@needs_wfield
def test_brain_mask_matches_simulated_brain_real_atlas(real):
    image, mask, found = wp.recording_brain_mask(real.movie, real.cfg, motion_h5=real.motion)
    truth = real.gt["session_labels"] != 0
    assert found and (mask & truth).sum() / (mask | truth).sum() > 0.95
    # without motion.h5 (motion off): the raw mean of the blue frames gives the same mask
    _, raw_mask, _ = wp.recording_brain_mask(real.movie, real.cfg)
    assert (raw_mask & mask).sum() / (raw_mask | mask).sum() > 0.97


# ---------------------------------------------------------------- landmark check

@needs_wfield
def test_correct_landmarks_pass_and_shifted_ones_stop_the_atlas_step(real, tmp_path):
    out = tmp_path / "atlas.h5"
    wp.run_atlas(real.atlas, real.landmarks, real.movie, out, real.cfg, motion_h5=real.motion)
    checks = session_atlas.read_atlas_checks(out)
    assert checks["overlap"] > 0.95 and checks["brain_found"]
    assert checks["residuals"].max() < 0.01 and checks["min_overlap"] == 0.7
    assert checks["brain_mask"].shape == (270, 320) and checks["mean_frame"].shape == (270, 320)
    for dx, dy, expect in [(100, 0, "overlap 0.4"), (0, 100, "overlap 0.4"),
                           (-300, 0, "overlap 0.00"), (0, 300, "overlap 0.00")]:
        bad = shifted(real.landmarks, tmp_path / f"shift_{dx}_{dy}.json", dx, dy)
        target = tmp_path / f"a_{dx}_{dy}.h5"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(atl.AtlasError) as err:
                wp.run_atlas(real.atlas, bad, real.movie, target, real.cfg,
                             motion_h5=real.motion)
        msg = str(err.value)
        assert str(bad) in msg and expect in msg, msg
        assert "min_overlap = 0.70" in msg and "benediff landmarks" in msg
        assert not caught, [str(w.message) for w in caught]  # one error, nothing else
        assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".h5") == ["atlas.h5"]


def test_shifted_landmarks_stop_small_frames(tmp_path):
    s = simulate(tmp_path, (64, 72), seed=1)
    wp.run_atlas(s.atlas, s.landmarks, s.movie, tmp_path / "ok.h5", s.cfg, motion_h5=s.motion)
    assert session_atlas.read_atlas_checks(tmp_path / "ok.h5")["overlap"] > 0.9
    for dx in (20, 100):
        bad = shifted(s.landmarks, tmp_path / f"bad{dx}.json", dx=dx)
        with pytest.raises(atl.AtlasError, match=r"bad%d\.json: .*overlap 0\.\d\d" % dx):
            wp.run_atlas(s.atlas, bad, s.movie, tmp_path / "bad.h5", s.cfg, motion_h5=s.motion)
    assert not (tmp_path / "bad.h5").exists()


@needs_wfield
def test_regions_outside_the_brain_are_dropped_and_listed(real, tmp_path):
    from benediff.figures import widefield as fw

    bad = shifted(real.landmarks, tmp_path / "shift30.json", dx=30)
    out = tmp_path / "atlas.h5"
    with pytest.warns(UserWarning, match=r"inside the imaged brain.*SSs_R"):
        wp.run_atlas(real.atlas, bad, real.movie, out, real.cfg, motion_h5=real.motion)
    checks = session_atlas.read_atlas_checks(out)
    atlas = session_atlas.read_atlas_h5(out)
    dropped = checks["dropped_outside"]
    assert 0.75 < checks["overlap"] < 0.9  # a 30 px shift still passes the 0.7 default ...
    assert dropped and all(c < 0 for c in dropped)  # ... but the right edge regions go
    assert all(checks["inside_fraction"][c] < 0.5 for c in dropped)
    assert not np.isin(atlas.labels, dropped).any() and np.isin(checks["labels_aligned"], dropped).any()
    model = SimpleNamespace(regions_=np.array([1, -1]), dropped_regions_=[])
    text = fw._flag_text(model, atlas, regions.consolidate, np.ones(2, bool), dropped)
    assert "mostly outside the imaged brain" in text and "SSs_R" in text
    fig = fw._alignment_page(atlas, "S", checks)
    assert "overlap 0.8" in fig.axes[0].get_title() and "SSs_R" in fig.texts[0].get_text()


def test_svd_mask_modes(tmp_path):
    s = simulate(tmp_path, (64, 72), seed=2)
    wp.run_atlas(s.atlas, s.landmarks, s.movie, tmp_path / "a.h5", s.cfg, motion_h5=s.motion)
    checks = session_atlas.read_atlas_checks(tmp_path / "a.h5")
    cfg = widefield_cfg()
    assert cfg["svd"]["mask"] == "brain"
    np.testing.assert_array_equal(wp.svd_mask(cfg, tmp_path / "a.h5", (64, 72)), checks["brain_mask"])
    cfg["svd"]["mask"] = "atlas"
    np.testing.assert_array_equal(wp.svd_mask(cfg, tmp_path / "a.h5", (64, 72)),
                                  session_atlas.read_atlas_h5(tmp_path / "a.h5").labels != 0)
    cfg["svd"]["mask"] = "none"
    assert wp.svd_mask(cfg, tmp_path / "a.h5", (64, 72)).all()


# ---------------------------------------------------------------- landmarks tool, headless

def run_cli(*args, env=None):
    env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "benediff.cli", "landmarks", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


@needs_wfield
def test_headless_guess_and_preview(real, tmp_path):
    out = tmp_path / "guess.json"
    run = run_cli(real.movie, "--atlas", real.atlas, "-o", out, "--motion", real.motion,
                  env={"DISPLAY": ""})
    assert run.returncode == 0, run.stderr
    assert "starting guess" in run.stdout and (tmp_path / "guess.png").exists()
    data = json.loads(out.read_text())
    for key in ("landmarks", "landmarks_im", "landmarks_match"):  # wfield's DataFrame columns
        assert set(data[key]) == {"x", "y", "name", "color"}
        assert data[key]["name"] == ["OB_left", "OB_center", "OB_right", "RSP_base"]
    assert {"resolution", "bregma_offset", "transform", "transform_inverse",
            "transform_type"} <= set(data)
    truth = json.loads(real.landmarks.read_text())["landmarks_match"]
    err = np.hypot(np.subtract(data["landmarks_match"]["x"], truth["x"]),
                   np.subtract(data["landmarks_match"]["y"], truth["y"]))
    assert err.max() < 6, err  # px on a 270 x 320 frame
    np.testing.assert_allclose(atl.fit_transform(out).params, data["transform"], atol=1e-9)
    wp.run_atlas(real.atlas, out, real.movie, tmp_path / "a.h5", real.cfg, motion_h5=real.motion)
    assert session_atlas.read_atlas_checks(tmp_path / "a.h5")["overlap"] > 0.9
    from PIL import Image

    with Image.open(tmp_path / "guess.png") as png:
        assert png.size[0] == 800 and np.asarray(png.convert("L")).std() > 10


def test_guess_rule_function_on_small_frame_and_cli_help(tmp_path):
    s = simulate(tmp_path, (80, 96), seed=4)
    points, overlap = lm.run_guess(s.movie, s.atlas, tmp_path / "g.json", tmp_path / "g.png",
                                   s.cfg, motion_h5=s.motion)
    assert overlap.overlap > 0.9 and (tmp_path / "g.png").stat().st_size > 5000
    wp.run_atlas(s.atlas, tmp_path / "g.json", s.movie, tmp_path / "a.h5", s.cfg,
                 motion_h5=s.motion)
    run = run_cli("--help")
    assert run.returncode == 0 and "--headless" in run.stdout


def test_guess_transform_recovers_a_known_similarity():
    from skimage.transform import SimilarityTransform

    atlas = atl.Atlas(np.pad(np.ones((30, 40), np.int32), 10), {1: "A"}, 0.1, (30.0, 25.0))
    atlas.labels[10:40, 30:50] = -1
    truth = SimilarityTransform(scale=1.3, rotation=np.deg2rad(5), translation=(8, -4))
    brain = reg.warp_atlas(atlas, truth, (80, 90)).labels != 0
    guess = lm.guess_transform(atlas, brain)
    pts = np.array(list(lm.atlas_landmarks(atlas)[0].values()))
    assert np.abs(guess(pts) - truth(pts)).max() < 2.5


# ---------------------------------------------------------------- interactive, under Xvfb

DRIVER = textwrap.dedent('''
    import json, subprocess, sys
    import matplotlib
    matplotlib.use("TkAgg")
    from benediff.widefield import landmark_cli

    movie, atlas, motion, out, shot, state = sys.argv[1:7]
    DX, DY = 14.0, 9.0

    def xdo(*args):
        subprocess.run(["xdotool", *map(str, args)], check=True)

    def drive(editor):
        canvas = editor.fig.canvas
        canvas.draw()  # the image axes take their final (equal-aspect) box at the first draw
        widget = canvas.get_tk_widget()
        root = widget.winfo_toplevel()
        widget.focus_force()
        wid = widget.winfo_id()

        def screen(x, y):  # Tk widget px = matplotlib display px, y flipped
            dx, dy = editor.ax.transData.transform((x, y))
            return (round(widget.winfo_rootx() + dx),
                    round(widget.winfo_rooty() + editor.fig.bbox.height - dy))

        x0, y0 = editor.points["OB_left"]
        start, end = screen(x0, y0), screen(x0 + DX, y0 + DY)
        before = editor.artists["outline"].get_array().copy()
        info = {"start": [x0, y0], "target": [x0 + DX, y0 + DY]}
        steps = [
            lambda: xdo("mousemove", *start),
            lambda: xdo("mousedown", 1),
            lambda: xdo("mousemove", (start[0] + end[0]) // 2, (start[1] + end[1]) // 2),
            lambda: xdo("mousemove", *end),
            lambda: xdo("mouseup", 1),
            lambda: info.update(
                after_drag=list(editor.points["OB_left"]),
                outline_changed=bool((editor.artists["outline"].get_array() != before).any()),
                title=editor.fig.texts[0].get_text() if editor.fig.texts else ""),
            lambda: xdo("windowfocus", wid),  # no window manager under Xvfb gives focus
            lambda: xdo("key", "s"),
            lambda: info.update(saved=editor.saved),
            lambda: __import__("PIL.ImageGrab").ImageGrab.grab(
                xdisplay=__import__("os").environ["DISPLAY"]).save(shot),
            lambda: Path_write(state, info),
            lambda: xdo("windowfocus", wid),
            lambda: xdo("key", "q"),
        ]

        def run(i=0):
            if i < len(steps):
                steps[i]()
                root.after(400, run, i + 1)

        run()

    def Path_write(path, info):
        with open(path, "w") as fh:
            json.dump(info, fh)

    sys.exit(landmark_cli.main([movie, "--atlas", atlas, "--motion", motion, "-o", out],
                               on_ready=drive))
''')


@pytest.fixture
def xvfb():
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian packages xvfb, xdotool)")
    pytest.importorskip("tkinter", reason="tkinter (Debian python3-tk) not available")
    proc = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        number = proc.stdout.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@needs_wfield
def test_interactive_editor_drag_save_and_close_under_xvfb(real, tmp_path, xvfb):
    out, shot, state = tmp_path / "lm.json", tmp_path / "screen.png", tmp_path / "state.json"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "DISPLAY": xvfb, "MPLBACKEND": "TkAgg"}
    run = subprocess.run([sys.executable, str(driver), real.movie, real.atlas, real.motion, out,
                          shot, state], capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    info = json.loads(state.read_text())
    assert np.allclose(info["after_drag"], info["target"], atol=1.5), info
    assert info["outline_changed"] and "overlap" in info["title"] and info["saved"] >= 1
    assert run.stdout.count("wrote") >= 2  # on "s" and again on close
    data = json.loads(out.read_text())
    i = data["landmarks_match"]["name"].index("OB_left")
    moved = (data["landmarks_match"]["x"][i], data["landmarks_match"]["y"][i])
    assert np.allclose(moved, info["target"], atol=1.5)
    atl.fit_transform(out)  # the pipeline reads it
    assert (tmp_path / "lm.png").exists()
    from PIL import Image

    with Image.open(shot) as img:
        rgb = np.asarray(img.convert("RGB")).astype(int)
    assert rgb.shape[:2] == (1024, 1280)
    cyan = (rgb[..., 0] < 80) & (rgb[..., 1] > 180) & (rgb[..., 2] > 180)
    assert cyan.sum() > 500  # the atlas outlines are on screen


REAL_ATLASES = {"wfield": WFIELD, "locanmf": WFIELD.parent / "locanmf" / "atlas.mat",
                "mesoscopy": WFIELD.parent / "mesoscopy_ccf_top" / "ccf_template_top_140x142.tiff"}


@pytest.mark.parametrize("name", sorted(REAL_ATLASES))
def test_guess_on_real_atlases_recovers_the_placement(name, tmp_path):
    from skimage.transform import SimilarityTransform

    path = REAL_ATLASES[name]
    if not path.exists():
        pytest.skip(f"{path} not available")
    atlas = atl.load_atlas(path)
    points, _, _ = lm.atlas_landmarks(atlas)
    shape = (270, 320)
    rows, cols = np.nonzero(atlas.labels)
    scale = 0.85 * min(shape[0] / np.ptp(rows), shape[1] / np.ptp(cols))
    centre = np.array([cols.mean(), rows.mean()])
    truth = SimilarityTransform(scale=scale, rotation=np.deg2rad(-3),
                                translation=np.array([165, 130]) - scale * centre)
    brain = reg.warp_atlas(atlas, truth, shape).labels != 0
    image = np.where(brain, 1000.0, 100.0) + np.random.default_rng(0).normal(0, 10, shape)
    np.save(tmp_path / "frame.npy", image)
    session, _ = lm.load_session(tmp_path / "frame.npy", path)
    guess = session.guess()
    pts = np.array(list(points.values()))
    err = np.linalg.norm(np.array(list(guess.values())) - truth(pts), axis=1)
    assert err.max() < 6, err
    assert session.align(guess)[2].overlap > 0.95
