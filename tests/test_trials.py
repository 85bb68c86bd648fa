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
