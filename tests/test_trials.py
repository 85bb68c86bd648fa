"""The trial table reader: every problem named with its file, row and fix."""

import pytest

from benediff.io.trials import TrialTableError, check_trials, read_trials


def write(tmp_path, text):
    path = tmp_path / "trials.csv"
    path.write_text(text)
    return path


def test_good_table_reads_as_integers(tmp_path):
    path = write(tmp_path, "trial_id,start_frame,n_frames,video_start_frame\n"
                           "0,0,10,0\n1,10,10,20.0\n2,25,10,50\n")
    table = read_trials(path, n_frames_total=35)
    assert table["video_start_frame"].dtype.kind == "i"
    assert table["start_frame"].tolist() == [0, 10, 25]


@pytest.mark.parametrize("text, needle", [
    ("trial_id,start_frame\n0,0\n", "column(s) ['n_frames'] missing"),
    ("trial_id,start_frame,n_frames\n", "no trials"),
    ("trial_id,start_frame,n_frames\n0,0,10\n1,771.5,10\n", "row 3: start_frame = 771.5 is not a whole frame"),
    ("trial_id,start_frame,n_frames\n0,0,abc\n", "row 2: n_frames = 'abc' is not a number"),
    ("trial_id,start_frame,n_frames\n0,0,10\n1,5,10\n", "row 3: trial '1' starts at frame 5, inside trial '0' (frames 0..9)"),
    ("trial_id,start_frame,n_frames\n0,20,10\n1,5,10\n", "row 3: start_frame 5 is not after the previous"),
    ("trial_id,start_frame,n_frames\n0,0,10\n0,10,10\n", "trial_id value(s) ['0'] appear more than once"),
    ("trial_id,start_frame,n_frames\n0,-3,10\n", "row 2: start_frame = -3 must be >= 0"),
    ("trial_id,start_frame,n_frames\n0,0,0\n", "row 2: n_frames = 0 must be >= 1"),
])
def test_each_problem_names_file_row_and_fix(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(TrialTableError) as err:
        read_trials(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_trials_past_the_recording(tmp_path):
    path = write(tmp_path, "trial_id,start_frame,n_frames\n0,0,10\n1,10,10\n")
    problems = check_trials(path, n_frames_total=15)
    assert len(problems) == 1 and "trial '1' ends at frame 19, past the recording's 15" in problems[0]


def test_all_problems_together_and_unreadable_files(tmp_path):
    path = write(tmp_path, "trial_id,start_frame,n_frames\n0,0.5,x\n1,2,-1\n")
    assert len(check_trials(path)) == 3
    assert "does not exist" in check_trials(tmp_path / "nope.csv")[0]
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    assert "not a readable CSV" in check_trials(binary)[0]


# --- trials in seconds (NWB convention) -----------------------------------------------------

from datetime import datetime, timezone  # noqa: E402

import numpy as np  # noqa: E402

from benediff.io.trials import (Clock, is_time_file,  # noqa: E402
                                unequal_trials, write_session_trials)


def test_seconds_on_the_rate_clock(tmp_path):
    path = write(tmp_path, "start_time,stop_time\n0.0,1.0\n2.0,3.0\n4.5,5.5\n")
    assert is_time_file(path)
    table = read_trials(path, clock=Clock(30.0))
    assert table["trial_id"].tolist() == [0, 1, 2]
    assert table["start_frame"].tolist() == [0, 60, 135]
    assert table["n_frames"].tolist() == [30, 30, 30]
    with pytest.raises(TrialTableError, match="no neural clock"):
        read_trials(path)


def test_dropped_frames_shift_the_frames_after_the_gap(tmp_path):
    """A camera that lost 15 frames (0.5 s) at 3 s: a trial after the gap starts 15 frames
    earlier than k / rate would put it, and the trial over the gap holds 15 frames fewer."""
    times = np.arange(300) / 30.0
    times[90:] += 0.5
    path = write(tmp_path, "trial_id,start_time,stop_time\na,0.0,2.0\nb,2.5,4.5\nc,5.0,7.0\n")
    table = read_trials(path, n_frames_total=300, clock=Clock(30.0, times, "stamps.npy"))
    assert table["start_frame"].tolist() == [0, 75, 135]
    assert table["n_frames"].tolist() == [60, 45, 60]
    np.testing.assert_allclose(times[table["start_frame"]], [0.0, 2.5, 5.0])
    assert "'b' (45 frames" in unequal_trials(table, path)
    by_rate = read_trials(path, clock=Clock(30.0))
    assert by_rate["start_frame"].tolist() == [0, 75, 150]  # without the timestamps: wrong


@pytest.mark.parametrize("text, needle", [
    ("start_time,stop_time\n0,1\n1,x\n", "row 3: stop_time = 'x' is not a number"),
    ("start_time,stop_time\n2,1\n", "row 2: stop_time 1 s is not after start_time 2 s"),
    ("start_time,stop_time\n0,1\n20,21\n", "row 3: trial 20..21 s lies outside the neural timestamps"),
    ("start_time,stop_time\n0,1\n0.5,2\n", "row 3: trial '1' starts at frame 15, inside trial '0'"),
    ("start_time,stop_time\n0.01,0.02\n", "row 2: trial 0.01..0.02 s holds no neural frame"),
])
def test_problems_of_a_table_in_seconds(tmp_path, text, needle):
    path = write(tmp_path, text)
    found = check_trials(path, clock=Clock(30.0, np.arange(300) / 30.0, "stamps.npy"))
    assert any(needle in p for p in found), found
    assert all(str(path) in p for p in found)


def test_rule_session_trials_from_csv_and_timestamps(tmp_path):
    times = np.arange(300) / 30.0 + 100.0  # a clock that does not start at 0
    np.save(tmp_path / "neural.npy", times)
    src = write(tmp_path, "trial_id,start_time,stop_time\n7,100.0,101.0\n8,102.0,103.0\n")
    out = tmp_path / "out" / "trials.csv"
    write_session_trials(src, out, 30.0, neural_timestamps=tmp_path / "neural.npy", session="S")
    back = read_trials(out)  # a frame table now: every stage reads it as before
    assert back["trial_id"].tolist() == [7, 8] and back["start_frame"].tolist() == [0, 60]
    assert not is_time_file(out)
    bad = write(tmp_path, "start_time,stop_time\n1000,1001\n")
    with pytest.raises(TrialTableError, match="lies outside"):
        write_session_trials(bad, tmp_path / "bad.csv", 30.0,
                             neural_timestamps=tmp_path / "neural.npy")
    assert not (tmp_path / "bad.csv").exists()


def nwb_movie(path, names=("movie",), trials=((0.0, 1.0), (1.5, 2.5)), drop_at=None):
    """An NWB file with OnePhotonSeries ``names`` (two channels interleaved, 60 stored frames)
    on timestamps (a 0.5 s gap after stored frame ``drop_at``) and a trials table."""
    pynwb = pytest.importorskip("pynwb")
    from pynwb.ophys import OnePhotonSeries, OpticalChannel

    nwb = pynwb.NWBFile("wf", "id", datetime(2017, 12, 5, tzinfo=timezone.utc))
    device = nwb.create_device("cam")
    plane = nwb.create_imaging_plane(
        name="plane", optical_channel=OpticalChannel(name="ch", description="blue",
                                                     emission_lambda=525.0),
        description="wf", device=device, excitation_lambda=470.0, imaging_rate=60.0,
        indicator="GCaMP6f", location="Isocortex")
    stamps = np.arange(120) / 60.0
    if drop_at is not None:
        stamps[drop_at:] += 0.5
    for name in names:
        nwb.add_acquisition(OnePhotonSeries(name=name, imaging_plane=plane, unit="au",
                                            data=np.zeros((120, 4, 4), np.uint16),
                                            timestamps=stamps))
    for start, stop in trials:
        nwb.add_trial(start_time=start, stop_time=stop)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_rule_session_trials_from_an_nwb_movie(tmp_path):
    movie = nwb_movie(tmp_path / "wf.nwb", drop_at=60)  # per channel: 30 Hz, 0.5 s gap at 1 s
    out = write_session_trials(None, tmp_path / "trials.csv", 30.0, nwb=movie, channels=2)
    assert out["trial_id"].tolist() == [0, 1]
    assert out["start_frame"].tolist() == [0, 30] and out["n_frames"].tolist() == [30, 30]


def test_trials_in_seconds_with_an_nwb_movie_use_the_movies_frame_times(tmp_path):
    """A table in seconds beside an NWB movie is converted on the movie's own frame times (a
    0.5 s gap after 1 s), not on the nominal rate (which would put the second trial past the
    end); neural_timestamps, when given, still win."""
    movie = nwb_movie(tmp_path / "wf.nwb", drop_at=60)  # per channel: 60 frames, gap at 1 s
    src = tmp_path / "seconds.csv"
    src.write_text("trial_id,start_time,stop_time\n0,0.0,1.0\n1,1.5,2.5\n")
    out = write_session_trials(src, tmp_path / "trials.csv", 30.0, nwb=movie, channels=2)
    assert out["start_frame"].tolist() == [0, 30] and out["n_frames"].tolist() == [30, 30]
    by_rate = write_session_trials(src, tmp_path / "rate.csv", 30.0)  # the rate: no gap
    assert by_rate["start_frame"].tolist() == [0, 45]
    np.save(tmp_path / "neural.npy", np.arange(60) / 30.0)  # gap-free times: trial 1 too long
    with pytest.raises(TrialTableError, match="lies outside the neural timestamps"):
        write_session_trials(src, tmp_path / "ts.csv", 30.0, nwb=movie, channels=2,
                             neural_timestamps=tmp_path / "neural.npy")


def test_a_lab_session_with_trials_in_seconds_dry_runs(tmp_path):
    """Snakemake plans rule session_trials for a table in seconds and the stages read its
    output; a bad row in seconds stops the dry run naming the file, row and fix."""
    import yaml
    from test_bad_input import lab_config, snakemake

    cfg = lab_config(tmp_path)
    table = "trial_id,start_time,stop_time\n" + "".join(
        f"{t},{t * 200 / 30:.6f},{(t * 200 + 189) / 30:.6f}\n" for t in range(20))
    (tmp_path / "data" / "trials.csv").write_text(table)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    rc, out = snakemake(tmp_path / "run", tmp_path / "config.yaml", "-n", "results/M1/split.json")
    assert rc == 0, out
    assert "rule session_trials" in out and "results/M1/trials.csv" in out

    (tmp_path / "data" / "trials.csv").write_text(table + "20,900.0,899.0\n")
    rc, out = snakemake(tmp_path / "run", tmp_path / "config.yaml", "-n", "results/M1/split.json")
    assert rc != 0
    assert "row 22: stop_time 899 s is not after start_time 900 s" in out, out
