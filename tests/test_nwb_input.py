"""NWB movies as input: the imaging series chosen by name, the file's timestamps and trials."""

import numpy as np
import pytest
from test_trials import nwb_movie

from benediff.widefield import readers as rd


def test_several_series_need_a_name_and_the_error_lists_them(tmp_path):
    path = nwb_movie(tmp_path / "wf.nwb", names=("blue_violet", "GCaMP_raw"))
    with pytest.raises(rd.ReaderError, match=r"2 OnePhotonSeries.*\['GCaMP_raw', 'blue_violet'\]"
                       r".*sessions.<session>.nwb_series"):
        rd.open_movie(path)
    reader = rd.open_movie(path, rd.nwb_format("blue_violet"))
    assert reader.n_frames == 120 and reader.frame_shape == (4, 4)
    with pytest.raises(rd.ReaderError, match=r"no OnePhotonSeries named 'blue'.*"
                       r"\['GCaMP_raw', 'blue_violet'\]"):
        rd.open_movie(path, rd.nwb_format("blue"))


def test_one_series_needs_no_name(tmp_path):
    path = nwb_movie(tmp_path / "wf.nwb")
    assert rd.open_movie(path).n_frames == 120
    assert rd.nwb_format(None) == "nwb"


def test_timing_and_trials_come_from_the_file(tmp_path):
    path = nwb_movie(tmp_path / "wf.nwb", drop_at=60)
    times, trials = rd.read_nwb_timing(path, channels=2)
    assert len(times) == 60 and times[30] == pytest.approx(1.5)
    np.testing.assert_allclose(trials["start_time"], [0.0, 1.5])
    assert trials["trial_id"].tolist() == [0, 1]
    bare = nwb_movie(tmp_path / "bare.nwb", trials=())
    assert rd.read_nwb_timing(bare)[1] is None


def test_a_lab_session_with_an_nwb_movie_and_no_trials_file(tmp_path, capsys):
    """The movie's series is chosen by name before any job; without sessions.<s>.trials the
    file's trials table is used (rule session_trials from the movie)."""
    import yaml
    from test_bad_input import snakemake
    from test_cli import lab

    from benediff.cli import main

    path = lab(tmp_path)
    config = yaml.safe_load(path.read_text())
    session = config["sessions"]["M1"]
    session["widefield"] = str(nwb_movie(tmp_path / "data" / "wf.nwb", names=("a", "b")))
    del session["trials"]
    path.write_text(yaml.safe_dump(config))
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "2 OnePhotonSeries in acquisition: ['a', 'b']" in err
    assert "(config key sessions.M1.nwb_series)" in err
    session["nwb_series"] = "b"
    path.write_text(yaml.safe_dump(config))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    rc, out = snakemake(tmp_path / "run", path, "-n", "results/M1/split.json")
    assert rc == 0, out
    assert "rule session_trials" in out and "wf.nwb" in out
