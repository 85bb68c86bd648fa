"""Bad input and faults, as a new user meets them: each is stopped with one message naming the
key or file and the fix, before any job where it can be known; no valid output is lost; the run
goes through once the input is fixed."""

import copy
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benediff.testing.lab import (GOOD_TRIALS, LANDMARK_NAMES, MOVIE, MOVIE_BYTES, PARTS,
                                  VIDEO_FRAMES, dlc_csv, landmarks_text, write_atlas,
                                  write_lab_files)

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY = ROOT / ".test" / "config" / "config.yaml"


def snakemake(workdir, configfile, *args, timeout=600):
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(workdir), f"--configfile={configfile}", *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return run.returncode, run.stdout + run.stderr


def lab_config(tmp_path) -> dict:
    """A lab's own session: every file in place, tiny but consistent (movie size, landmarks,
    pose rows = video frames, trials within the recording)."""
    paths = write_lab_files(tmp_path / "data")
    atlas = write_atlas(tmp_path / "data" / "atlas.npz")  # the simulator's Allen-named atlas
    return {"sessions": {"M1": {"source": "files", **paths}},
            "widefield": {"atlas": {"path": str(atlas)}}}


def trials(text):
    def mutate(cfg, tmp_path):
        (tmp_path / "data" / "trials.csv").write_text(text)
    return mutate


def setting(*path, value):
    def mutate(cfg, tmp_path):
        node = cfg
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return mutate


def session(**changes):
    def mutate(cfg, tmp_path):
        for key, value in changes.items():
            if value is None:
                cfg["sessions"]["M1"].pop(key, None)
            else:
                cfg["sessions"]["M1"][key] = value
    return mutate


def pose_file(text):
    def mutate(cfg, tmp_path):
        (tmp_path / "data" / "pose.csv").write_text(text)
    return mutate


def rename_session(name):
    def mutate(cfg, tmp_path):
        cfg["sessions"] = {name: cfg["sessions"]["M1"]}
    return mutate


def data_file(name, content, **changes):
    """Write data/<name> (text, or bytes) and set session keys to it (value "FILE")."""
    def mutate(cfg, tmp_path):
        path = tmp_path / "data" / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        for key, value in changes.items():
            cfg["sessions"]["M1"][key] = str(path) if value == "FILE" else value
    return mutate


def cut_movie(cfg, tmp_path):
    with open(tmp_path / "data" / MOVIE, "r+b") as fh:
        fh.truncate(MOVIE_BYTES - 100)


def times(n, step=1 / 30, swap=None) -> str:
    values = [i * step for i in range(n)]
    if swap is not None:
        values[swap], values[swap + 1] = values[swap + 1], values[swap]
    return "time\n" + "".join(f"{v:.6f}\n" for v in values)


def ma_dlc_csv(parts=PARTS, rows=VIDEO_FRAMES) -> str:
    """A multi-animal DeepLabCut CSV (4 header rows), one individual."""
    return ("scorer" + ",DLC" * 3 * len(parts) + "\nindividuals" + ",mouse1" * 3 * len(parts)
            + "\nbodyparts" + "".join(f",{p}" * 3 for p in parts)
            + "\ncoords" + ",x,y,likelihood" * len(parts) + "\n"
            + "".join(f"{i}" + ",1.0" * 3 * len(parts) + "\n" for i in range(rows)))


def truncated_tiff(cfg, tmp_path):
    import numpy as np
    import tifffile

    path = tmp_path / "data" / "movie.tif"
    tifffile.imwrite(path, np.zeros((8000, 8, 8), np.uint16))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # an interrupted copy
    cfg["sessions"]["M1"]["widefield"] = str(path)


BN_REGIONS = ["VIS_L", "VIS_R", "SSp_L", "SSp_R", "MOs_L", "MOs_R"]


def behavenet(change=None):
    """Add session B1 from a hand-built BehaveNet file (20 trials of 24 frames, 2 columns per
    region, 6 labels), changed by ``change(h5file)``."""
    def mutate(cfg, tmp_path):
        import h5py
        import numpy as np

        path = tmp_path / "data" / "behavenet.hdf5"
        rng = np.random.default_rng(0)
        with h5py.File(path, "w") as f:
            for t in range(20):
                f[f"neural/trial_{t:04d}"] = rng.normal(size=(24, 12)).astype("float32")
                f[f"labels/trial_{t:04d}"] = rng.normal(size=(24, 6)).astype("float32")
            for i, name in enumerate(BN_REGIONS):
                f[f"regions/indxs_consolidate_lr/{name}"] = np.array([[2 * i, 2 * i + 1]])
            if change:
                change(f)
        cfg["sessions"]["B1"] = {"source": "behavenet", "behavenet": str(path)}
    return mutate


def _replace(key, value):
    def change(f):
        del f[key]
        f[key] = value
    return change


def _nan_neural(f):
    data = f["neural/trial_0002"][()]
    data[5, 3] = float("nan")
    f["neural/trial_0002"][...] = data


def behavenet_missing(cfg, tmp_path):
    cfg["sessions"]["B1"] = {"source": "behavenet", "behavenet": str(tmp_path / "gone.hdf5")}


# (case, mutation, words the message must contain: key or file, and the fix)
CASES = [
    ("unknown key", setting("sede", value=1), ["'sede'", "allowed keys", "'seed'"]),
    ("bad enum", setting("device", value="gpu"),
     ["device = 'gpu' is not allowed", "allowed values: ['cpu', 'cuda', 'auto']"]),
    ("unknown nested key", setting("lvm", "bta", value=2), ["'bta' under lvm", "allowed keys"]),
    ("override of a missing region", setting("lvm", "region_overrides", value={"VISS_R": {"beta": 8}}),
     ["lvm.region_overrides names region(s) ['VISS_R']", "fix the region name"]),
    ("unknown override key", setting("lvm", "region_overrides", value={"VIS_R": {"betta": 8}}),
     ["lvm.region_overrides.VIS_R has unknown key(s) ['betta']", "allowed"]),
    ("figure region missing", setting("lvm", "fig4", "region", value="VISS_R"),
     ["lvm.fig4.region names region(s) ['VISS_R']", "use names from `regions`"]),
    ("figure factor missing", setting("video", "figures", "fig6", "factor", value="Lick"),
     ["video.figures.fig6.factor names behaviour(s) ['Lick']", "use names from `behaviors`"]),
    ("unknown video session", setting("video", "session", value="S9"),
     ["video.session names session(s) ['S9']", "leave it empty"]),
    ("zero split blocks", setting("split", "blocks", value=[0, 0, 0]),
     ["split.blocks", "minimum of 1"]),
    ("too few trials for the split", trials(GOOD_TRIALS.split("\n", 1)[0] + "\n0,0,10\n1,10,10\n"),
     ["session 'M1': 2 trials are too few for split blocks", "lower the blocks or add trials"]),
    ("overlapping trials", trials(GOOD_TRIALS + "20,3900,189\n"),
     ["trials.csv: row 22", "inside trial '19'", "must not overlap"]),
    ("fractional start frame", trials(GOOD_TRIALS.replace("\n3,600,", "\n3,600.5,")),
     ["trials.csv: row 5: start_frame = 600.5 is not a whole frame", "integers"]),
    ("non-numeric n_frames", trials(GOOD_TRIALS.replace("\n3,600,189", "\n3,600,abc")),
     ["trials.csv: row 5: n_frames = 'abc' is not a number", "whole frame index"]),
    ("missing trial column", trials("trial_id,start_frame\n0,0\n"),
     ["column(s) ['n_frames'] missing", "needs ['trial_id', 'start_frame', 'n_frames']"]),
    ("trials out of order", trials(GOOD_TRIALS.replace("\n3,600,", "\n3,100,")),
     ["row 5: start_frame 100 is not after", "recording order"]),
    ("duplicate trial ids", trials(GOOD_TRIALS.replace("\n3,600,", "\n2,600,")),
     ["trial_id value(s) ['2'] appear more than once", "its own id"]),
    ("missing movie", session(widefield="/nonexistent/movie.dat"),
     ["sessions.M1.widefield points at /nonexistent/movie.dat", "fix the path"]),
    ("trials key unset", session(trials=None),
     ["sessions.M1.trials is required", "set it to the path"]),
    ("unreadable pose file", pose_file("not,a,dlc\nfile\n"),
     ["pose.csv: cannot read as a DeepLabCut pose file", "3-row CSV header"]),
    ("mapping names a missing body part", pose_file(dlc_csv(PARTS[:-1])),
     ["pose.csv", "'chest'", "behavior.labels.mapping"]),
    ("malformed mapping", setting("behavior", "labels", "mapping", "Jaw", value={"bodypart": "jaw"}),
     ["behavior.labels.mapping.Jaw", "coord"]),
    ("pose-only session without a rate", session(widefield=None, behavior_video=None),
     ["sessions.M1.video_frame_rate is required", "video_timestamps"]),
    ("neural timestamps alone", session(neural_timestamps="/tmp/n.npy"),
     ["sessions.M1.neural_timestamps needs sessions.M1.video_timestamps"]),
    ("session named pooled", rename_session("pooled"), ["'pooled'", "reserved", "rename"]),
    ("region not in the atlas", setting("regions", value=["VIS_L", "ACC_L"]),
     ["config key regions names ['ACC_L'], which the atlas", "it has ['ACAd_L'"]),
    ("missing BehaveNet file", behavenet_missing,
     ["sessions.B1.behavenet points at", "gone.hdf5", "fix the path"]),
    ("ground truth for a recorded session", setting("dataset", "neural", value="truth"),
     ["dataset uses 'truth'", "set dataset.neural to 'widefield'"]),
    ("noise for recorded neural data", setting("dataset", "neural_noise", value=0.5),
     ["dataset.neural_noise is 0.5 but dataset.neural is 'widefield'",
      "set dataset.neural to 'truth' or dataset.neural_noise to 0"]),
    # issue 26: accepted silently before
    ("frame rate mismatch", setting("widefield", "frame_rate", value=15),
     ["widefield.frame_rate = 15 Hz and behavior.neural_rate = 30.0 Hz disagree", "set both"]),
    ("behaviour listed twice",
     setting("behaviors", value=["Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Jaw", "Chest"]),
     ["config key behaviors lists ['Jaw'] more than once", "remove the repeat"]),
    ("region listed twice", setting("regions", value=["VIS_L", "VIS_R", "VIS_L"]),
     ["config key regions lists ['VIS_L'] more than once", "remove the repeat"]),
    ("session name with a space", rename_session("M 1"),
     ["sessions has the name 'M 1'", "not a safe folder name", "rename it"]),
    ("session name with a slash", rename_session("M/1"),
     ["sessions has the name 'M/1'", "no spaces or /", "rename it"]),
    ("behaviour name with a slash",
     setting("behaviors", value=["Levers", "Spouts", "Paw/x", "Paw-y", "Jaw", "Chest"]),
     ["behaviors.2 = 'Paw/x' does not match", "letters, digits, _ . - only"]),
    ("BehaveNet regions share columns",
     behavenet(_replace("regions/indxs_consolidate_lr/VIS_R", [[0, 1]])),
     ["behavenet.hdf5 (sessions.B1.behavenet)", "VIS_L and VIS_R (2 columns)",
      "each column belongs to one region"]),
    ("BehaveNet region without columns",
     behavenet(_replace("regions/indxs_consolidate_lr/VIS_R", [[]])),
     ["behavenet.hdf5 (sessions.B1.behavenet)", "['VIS_R'] have no columns",
      "remove it from the config's regions"]),
    ("BehaveNet labels shorter than neural",
     behavenet(_replace("labels/trial_0003", [[0.0] * 6] * 23)),
     ["behavenet.hdf5", "trial_0003: 24 neural frames but 23 label frames", "re-export"]),
    # issue 26: caught only at job time before, now from headers and sizes at parse time
    ("behaviour without a mapping",
     setting("behaviors", value=["Levers", "Spouts", "Paw-x", "Paw-y", "Jaw", "Chest", "Tail"]),
     ["behaviors lists ['Tail'], which behavior.labels.mapping does not map",
      "behavior.labels.mapping.Tail: {bodypart: <part>, coord: x}"]),
    ("timestamps not increasing", data_file("t.csv", times(VIDEO_FRAMES, swap=3),
                                            video_timestamps="FILE"),
     ["t.csv (config key sessions.M1.video_timestamps): times must increase strictly",
      "frame 4", "fix or re-export the timestamps"]),
    ("timestamps one short of the pose", data_file("t.csv", times(VIDEO_FRAMES - 1),
                                                   video_timestamps="FILE"),
     ["sessions.M1.video_timestamps", "7 timestamps but 8 rows in", "pose.csv",
      "one time per behaviour video frame"]),
    ("neural timestamps short of the trials",
     lambda cfg, tmp_path: [data_file("t.csv", times(VIDEO_FRAMES), video_timestamps="FILE")(
         cfg, tmp_path), data_file("n.csv", times(3000), neural_timestamps="FILE")(cfg, tmp_path)],
     ["n.csv (config key sessions.M1.neural_timestamps): 3000 neural frame times",
      "trial '19'", "ends at neural frame 3988", "one time per neural frame"]),
    ("camera rate against the video's", session(video_frame_rate=60),
     ["config key sessions.M1.video_frame_rate = 60 fps but the container of",
      "behavior.mp4 = 30 fps", "one camera, one rate"]),
    ("timestamps in milliseconds", data_file("t.csv", times(VIDEO_FRAMES, step=1000 / 30),
                                             video_timestamps="FILE"),
     ["t.csv: the timestamps (config key sessions.M1.video_timestamps, median interval) = "
      "0.03 fps but the container of", "timestamps must be in seconds"]),
    ("pose rows differ from video frames", pose_file(dlc_csv(rows=VIDEO_FRAMES - 1)),
     ["pose.csv: pose has 7 rows but video", "behavior.mp4 has 8 frames",
      "sessions.M1.pose", "DLC output of this very video"]),
    ("a trial far shorter than the others", trials(GOOD_TRIALS + "20,3990,3\n"),
     ["trials.csv: trials differ in length (20 × 189 frames, 1 × 3 frames)",
      "needs equal-length trials", "'20' (3 frames, row 22)", "give every trial n_frames = 189"]),
    ("last trial past the end of the recording", trials(GOOD_TRIALS + "20,3990,189\n"),
     ["trials.csv: row 22: trial '20' ends at frame 4178, past the recording's 4000 frames",
      "check start_frame/n_frames against the movie"]),
    (".dat size against the dims in its name", cut_movie,
     [MOVIE, "is not a whole number of 2-channel 8x8 uint16 frames", "re-export it or rename",
      "sessions.M1.widefield"]),
    ("invalid landmarks JSON", data_file("landmarks.json", '{"landmarks_im": [1, 2'),
     ["landmarks.json: invalid JSON", "session's landmarks file", "benediff landmarks",
      "sessions.M1.landmarks"]),
    ("landmarks file missing one landmark",
     data_file("landmarks.json", landmarks_text(LANDMARK_NAMES[:3])),
     ["landmarks.json: landmarks_im lacks landmark(s) ['RSP_base']", "place all four",
      "sessions.M1.landmarks"]),
    # issue 26: misleading messages before
    ("truncated TIFF", truncated_tiff,
     ["movie.tif: the file is truncated: its header declares 8000 frames but only",
      "copy or export the stack again", "sessions.M1.widefield"]),
    ("multi-animal DLC file", pose_file(ma_dlc_csv()),
     ["pose.csv: a multi-animal DeepLabCut file", "individuals ['mouse1']",
      "export one individual", "level='individuals'"]),
    ("BehaveNet NaN", behavenet(_nan_neural),
     ["behavenet.hdf5 (sessions.B1.behavenet): neural holds NaN or inf in 1 of 20 trials",
      "trial_0002 (1 values)", "every value must be finite"]),
]


@pytest.fixture
def lab(tmp_path):
    """A working directory with a valid earlier output that no failed run may touch."""
    keep = tmp_path / "results" / "M1" / "split.json"
    keep.parent.mkdir(parents=True)
    keep.write_text('{"train": [0], "val": [1], "test": [2]}')
    return tmp_path, keep


@pytest.mark.parametrize("case, mutate, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_caught_before_any_job(lab, case, mutate, words):
    tmp_path, keep = lab
    before = keep.read_bytes()
    cfg = lab_config(tmp_path)
    bad = copy.deepcopy(cfg)
    mutate(bad, tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    code, out = snakemake(tmp_path, path, "-n")
    assert code != 0, out[-2000:]
    for word in words:
        assert word in out, f"{case}: {word!r} not in\n{out[-3000:]}"
    assert "Traceback" not in out and "Building DAG" not in out or "truth" in case
    assert keep.read_bytes() == before  # nothing valid was deleted
    # fixed: the same directory plans again
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(lab_config(tmp_path)))
    code, out = snakemake(tmp_path, good, "-n", "--quiet", "rules")
    assert code == 0, out[-3000:]


def test_every_problem_of_a_run_is_reported_together(lab):
    tmp_path, _ = lab
    cfg = lab_config(tmp_path)
    for mutate in (trials(GOOD_TRIALS.replace("\n3,600,", "\n3,600.5,")),
                   session(widefield="/nonexistent/movie.dat"), pose_file(dlc_csv(PARTS[:-1]))):
        mutate(cfg, tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code, out = snakemake(tmp_path, path, "-n")
    assert code != 0 and "invalid input (3 problems)" in out


# --- faults at run time: a real (tiny) simulated session ---


def tiny_config(tmp_path, **top) -> Path:
    cfg = yaml.safe_load(TINY.read_text()) | top
    cfg["sessions"] = {"S1": cfg["sessions"]["S1"]}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_missing_gpu_with_fallback_fail_stops_before_any_job(tmp_path):
    code, out = snakemake(tmp_path, tiny_config(tmp_path, device="cuda", gpu_fallback="fail"),
                          "--cores", "1", "results/S1/split.json")
    assert code != 0
    assert "config key device" in out and "set device: cpu (or gpu_fallback: warn)" in out
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()
    code, out = snakemake(tmp_path, tiny_config(tmp_path), "--cores", "1", "-n",
                          "results/S1/split.json")
    assert code == 0, out[-2000:]


def test_a_second_run_in_the_same_directory_is_refused(tmp_path):
    config = tiny_config(tmp_path)
    holder = subprocess.Popen(["sleep", "120"])
    try:
        lock = tmp_path / ".snakemake" / "benediff-run.lock"
        lock.parent.mkdir(parents=True)
        lock.write_text(f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}", '
                        '"started": "now", "command": "snakemake --cores 2"}')
        code, out = snakemake(tmp_path, config, "--cores", "1", "results/config.resolved.yaml")
        assert code != 0 and f"pid {holder.pid}" in out and "wait for it to finish" in out
        assert not (tmp_path / "results" / "config.resolved.yaml").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, out = snakemake(tmp_path, config, "--cores", "1", "results/config.resolved.yaml")
    assert code == 0, out[-2000:]  # the lock of the dead run is taken over...
    assert not lock.exists()  # ...and released at the end


def test_a_run_killed_with_kill_9_is_recovered_by_a_plain_rerun(tmp_path):
    """kill -9 mid-job leaves our run lock and Snakemake's locks; the next plain run clears both
    (one console line) and completes with the outputs of a clean run."""
    import time

    work, clean = tmp_path / "killed", tmp_path / "clean"
    work.mkdir()
    clean.mkdir()
    target = "results/S1/split.json"
    config = tiny_config(tmp_path)
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory",
           str(work), f"--configfile={config}", "--cores", "1", target]
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    lock, locks = work / ".snakemake" / "benediff-run.lock", work / ".snakemake" / "locks"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and run.poll() is None:
            if lock.exists() and (work / "logs" / "simulate_session").exists():
                break  # the run holds its locks and its first job is running
            time.sleep(0.1)
        assert run.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert lock.exists() and any(locks.glob("*.lock"))  # what a killed run leaves
    code, out = snakemake(work, config, "--cores", "1", target)
    assert code == 0, out[-3000:]
    assert out.count("is no longer alive; cleared its locks") == 1, out[-3000:]
    assert f"pid {run.pid}" in out
    assert not lock.exists() and not any(locks.glob("*.lock"))
    code, out = snakemake(clean, config, "--cores", "1", target)
    assert code == 0, out[-3000:]
    for name in (target, "resources/sessions/S1/trials.csv"):
        assert (work / name).read_bytes() == (clean / name).read_bytes(), name


def test_a_live_run_is_named_whatever_lock_snakemake_finds_first(tmp_path):
    """Snakemake's own lock of a live run: the refusal names our holder (pid, host, start)."""
    config = tiny_config(tmp_path)
    code, out = snakemake(tmp_path, config, "--cores", "1", "-n", "results/S1/split.json")
    assert code == 0, out[-2000:]
    holder = subprocess.Popen(["sleep", "120"])
    try:
        lock = tmp_path / ".snakemake" / "benediff-run.lock"
        lock.write_text(f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}", '
                        '"started": "2026-01-01T00:00:00+00:00", "command": "snakemake"}')
        locks = tmp_path / ".snakemake" / "locks"
        locks.mkdir(exist_ok=True)
        (locks / "0.output.lock").write_text("results/S1/split.json\n")
        code, out = snakemake(tmp_path, config, "--cores", "1", "results/S1/split.json")
        assert code != 0
        assert f"pid {holder.pid} on {os.uname().nodename}, started 2026-01-01" in out, out[-2000:]
        assert "--unlock" not in out
        code, out = snakemake(tmp_path, config, "--cores", "1", "-n", "results/S1/split.json")
        assert code == 0 and lock.exists()  # a dry run touches no lock of a live run
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("fault, options, words", [
    ("disk full", "size=64k", ["No space left on device", "free space on that disk"]),
    ("read-only", "ro,size=64k", ["Read-only file system"]),
])
def test_write_faults_give_one_line(tmp_path, fault, options, words):
    """The simulator's session files land on a tiny (or read-only) file system."""
    mount = tmp_path / "mnt"
    if not _mount_tmpfs(mount, options):
        pytest.skip("needs root and mount to make a small or read-only file system")
    try:
        (tmp_path / "resources").symlink_to(mount)
        config = tiny_config(tmp_path)
        code, out = snakemake(tmp_path, config, "--cores", "1", "results/S1/split.json")
        assert code != 0
        assert any(w in out for w in words), out[-3000:]
        assert "resources/sessions/S1" in out or str(mount) in out
        if fault == "disk full":
            lines = [l for l in out.splitlines() if "No space left on device" in l]
            assert any(l.startswith("Error in rule simulate_session: cannot write") for l in lines)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
    (tmp_path / "resources").unlink()
    code, out = snakemake(tmp_path, config, "--cores", "1", "results/S1/split.json")
    assert code == 0, out[-3000:]  # fixed (a roomy, writable disk): the run recovers


# --- allowed but surprising: a warning with counts, the run goes on ---


def test_a_far_shorter_trial_of_a_pose_only_session_is_reported_with_counts(lab):
    tmp_path, keep = lab
    before = keep.read_bytes()
    cfg = lab_config(tmp_path)
    session(widefield=None, behavior_video=None, landmarks=None, video_frame_rate=30)(cfg, tmp_path)
    (tmp_path / "data" / "trials.csv").write_text(GOOD_TRIALS + "20,3990,3\n")
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code, out = snakemake(tmp_path, path, "-n", "--quiet", "rules")
    assert code == 0, out[-3000:]
    assert ("trials.csv: 1 of 21 trials are shorter than half the median trial (189 frames): "
            "'20' (3 frames, row 22)") in out and "drop the row if the trial was aborted" in out
    assert keep.read_bytes() == before


def test_confident_nan_pose_is_counted_in_log_and_labels(tmp_path, caplog):
    import numpy as np

    from benediff.behavior.labels import build_labels
    from benediff.behavior.pose import normalise_pose
    from benediff.io import dataset
    from benediff.io.pose import make_pose_frame, write_pose
    from benediff.io.split import write_split

    values = np.ones((60, len(PARTS), 3))
    values[..., 0] = np.arange(60)[:, None]
    values[10:13, PARTS.index("jaw"), :2] = np.nan  # NaN x/y, likelihood still 1
    write_pose(make_pose_frame("DLC", PARTS, values), tmp_path / "src.csv")
    normalise_pose(tmp_path / "src.csv", None, tmp_path / "pose.h5", tmp_path / "pose.json",
                   pcutoff=0.6, frame_rate=30.0)
    (tmp_path / "trials.csv").write_text("trial_id,start_frame,n_frames\n0,0,20\n1,20,20\n"
                                         "2,40,20\n")
    write_split(tmp_path / "split.json", {"train": np.array([0]), "val": np.array([1]),
                                          "test": np.array([2])})
    mapping = {"Jaw": {"bodypart": "jaw", "coord": "y"}, "Chest": {"bodypart": "chest",
                                                                   "coord": "x"}}
    with caplog.at_level("WARNING"):
        build_labels(tmp_path / "pose.h5", tmp_path / "pose.json", tmp_path / "trials.csv",
                     tmp_path / "split.json", tmp_path / "labels.h5", session="M1",
                     behaviors=list(mapping), mapping=mapping, neural_rate=30.0, max_gap=5)
    assert "3 body-part frames of 60 have NaN x/y with likelihood >= 0.6 (jaw 3)" in caplog.text
    assert "interpolated over" in caplog.text
    ds = dataset.read(tmp_path / "labels.h5")
    assert ds.provenance["nan_confident_frames"] == {"jaw": 3}


@pytest.mark.parametrize("text, where", [
    ("seed: 0\nsessions:\n  M1:\n    source: simulate\n   bad: [1\n", "line 5, column 4"),
    ("seed: 0\nsessions:\n  M1:\n\tsource: simulate\n", "line 4, column 1"),
])
def test_a_yaml_syntax_error_names_file_and_line(tmp_path, text, where):
    """Snakemake reads --configfile before the workflow runs (its message names neither);
    `benediff check-config` does."""
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    run = subprocess.run([str(Path(sys.executable).with_name("benediff")), "check-config",
                          str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"config file {path}, {where}: YAML syntax error" in run.stderr
    assert "fix that line" in run.stderr
