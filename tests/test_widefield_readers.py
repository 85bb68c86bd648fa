"""Every reader round-trips a file it writes; bad input raises one clear ReaderError."""

import numpy as np
import pytest

from benediff.widefield import readers as rd
from benediff.widefield import svd_inputs as si


def movie(dtype=np.uint16, n=12, shape=(10, 14), seed=0):
    rng = np.random.default_rng(seed)
    top = 255 if dtype == np.uint8 else 4000
    return (rng.random((n, *shape)) * top).astype(dtype)


def read_all(reader, chunk=5):
    return np.concatenate([b for _, b in reader.iter_chunks(chunk)])


def test_dat_round_trip_and_shape_from_name(tmp_path):
    frames = movie()
    path = rd.write_dat(tmp_path, "widefield", frames, n_channels=2)
    assert path.name == "widefield_2_10_14_uint16.dat"
    reader = rd.open_movie(path)
    assert isinstance(reader, rd.DatReader) and reader.n_channels_hint == 2
    assert reader.n_frames == 12 and reader.frame_shape == (10, 14)
    np.testing.assert_array_equal(read_all(reader), frames)
    np.testing.assert_array_equal(reader.read(3, 7), frames[3:7])
    np.testing.assert_array_equal(reader.memmap()[5], frames[5])


def test_dat_truncated_and_bad_name(tmp_path):
    path = rd.write_dat(tmp_path, "wf", movie(), n_channels=2)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(rd.ReaderError, match="truncated"):
        rd.open_movie(path)
    bad = tmp_path / "movie.dat"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(rd.ReaderError, match="_<NCH>_<H>_<W>_<dtype>"):
        rd.open_movie(bad)


def test_tiff_round_trip_multi_file(tmp_path):
    frames = movie(np.uint16)
    rd.write_tiff(tmp_path / "a.tif", frames[:5])
    rd.write_tiff(tmp_path / "b.tif", frames[5:])
    reader = rd.TiffReader([tmp_path / "a.tif", tmp_path / "b.tif"])
    assert reader.n_frames == 12
    np.testing.assert_array_equal(read_all(reader, chunk=4), frames)
    np.testing.assert_array_equal(rd.open_movie(tmp_path / "a.tif").read(), frames[:5])


def test_tiff_nan_frames_raise(tmp_path):
    frames = movie().astype(np.float32)
    frames[7, 2, 3] = np.nan
    rd.write_tiff(tmp_path / "nan.tif", frames)
    with pytest.raises(rd.ReaderError, match="frame 7 contains NaN"):
        read_all(rd.open_movie(tmp_path / "nan.tif"))
    frames[7, 2, 3], frames[9, 0, 0] = 1.0, np.inf
    with pytest.raises(rd.ReaderError, match="frame 9 contains NaN or inf"):
        read_all(rd.ArrayReader(frames))


@pytest.mark.parametrize("suffix, dtype", [(".avi", np.uint8), (".mkv", np.uint16),
                                           (".mp4", np.uint8), (".mj2", np.uint16)])
def test_video_round_trip_8_and_16_bit(tmp_path, suffix, dtype):
    frames = movie(dtype)
    path = tmp_path / f"wf{suffix}"
    rd.write_video(path, frames)
    reader = rd.open_movie(path)
    assert isinstance(reader, rd.VideoReader)
    assert reader.n_frames == 12 and reader.dtype == dtype
    np.testing.assert_array_equal(read_all(reader), frames)


def test_corrupt_and_truncated_video(tmp_path):
    path = tmp_path / "wf.avi"
    rd.write_video(path, movie(np.uint8, n=20))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(rd.ReaderError, match="truncated"):
        read_all(rd.open_movie(cut))
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 50)
    with pytest.raises(rd.ReaderError, match="corrupt"):
        rd.open_movie(junk)


def test_channels_divisibility_and_order_detection():
    frames = movie(n=12).astype(np.float32)
    frames[1::2] *= 0.3  # violet (odd frames) darker
    reader = rd.ArrayReader(frames)
    assert rd.check_channels(reader, 2) == 6
    assert rd.detect_channel_order(reader, 2) == [0, 1]
    assert rd.detect_channel_order(rd.ArrayReader(frames[1:11]), 2) == [1, 0]
    assert rd.channel_order(reader, 2, "violet_first") == [1, 0]
    assert rd.channel_order(reader, 1, "auto") == [0]
    with pytest.raises(rd.ReaderError, match="not divisible by 2 channels"):
        rd.check_channels(rd.ArrayReader(frames[:11]), 2)


def test_dat_channel_count_must_match_config(tmp_path):
    reader = rd.open_movie(rd.write_dat(tmp_path, "wf", movie(n=12), n_channels=2))
    assert rd.check_channels(reader, 2) == 6
    with pytest.raises(rd.ReaderError, match="says 2 channel"):
        rd.check_channels(reader, 1)


def test_vc_mat_3d_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    U = rng.normal(size=(8, 9, 5)).astype(np.float32)
    U[0, 0] = np.nan
    Vc = rng.normal(size=(5, 7, 3)).astype(np.float32)  # K × frames × trials
    si.write_vc_mat(tmp_path / "Vc.mat", U, Vc)
    data = si.read_vc_mat(tmp_path / "Vc.mat")
    assert data.frames_per_trial == 7 and data.n_trials == 3
    np.testing.assert_array_equal(data.V[:, 7:14], Vc[:, :, 1])
    np.testing.assert_array_equal(data.U[1:], U[1:])
    assert not data.mask[0, 0] and np.isnan(data.U[0, 0]).all()


def test_interp_vc_mat_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    U = rng.normal(size=(6, 5, 4)).astype(np.float32)
    V = rng.normal(size=(4, 3 * 189)).astype(np.float32)
    si.write_vc_mat(tmp_path / "interpVc.mat", U, V, frames=189)
    data = si.read_vc_mat(tmp_path / "interpVc.mat")
    assert data.frames_per_trial == 189 and data.n_trials == 3
    np.testing.assert_array_equal(data.V, V)


def test_vc_mat_without_U_raises(tmp_path):
    si.write_vc_mat(tmp_path / "Vc.mat", None, np.zeros((4, 7, 2), np.float32))
    with pytest.raises(rd.ReaderError, match="'U' missing"):
        si.read_vc_mat(tmp_path / "Vc.mat")
    (tmp_path / "v5.mat").write_bytes(b"MATLAB 5.0" + b"\0" * 200)
    with pytest.raises(rd.ReaderError, match="v7.3"):
        si.read_vc_mat(tmp_path / "v5.mat")


def test_vc_uc_mat_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    mask = np.ones((6, 7), bool)
    mask[:2] = False
    U = np.where(mask[..., None], rng.normal(size=(6, 7, 3)), np.nan)
    V = rng.normal(size=(3, 40))
    si.write_vc_uc_mat(tmp_path / "Vc_Uc.mat", U, V, mask)
    data = si.read_svd_input(tmp_path / "Vc_Uc.mat", rd.guess_format(tmp_path / "Vc_Uc.mat"))
    np.testing.assert_array_equal(data.mask, mask)
    np.testing.assert_allclose(data.U[mask], U[mask], rtol=1e-6)
    np.testing.assert_allclose(data.V, V, rtol=1e-6)


def test_wfield_svd_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    U, SVT = rng.normal(size=(5, 6, 3)), rng.normal(size=(3, 20))
    si.write_wfield_svd(tmp_path, U, SVT)
    data = si.read_svd_input(tmp_path, rd.guess_format(tmp_path))
    np.testing.assert_allclose(data.V, SVT, rtol=1e-6)
    with pytest.raises(rd.ReaderError, match="U.npy"):
        si.read_wfield_svd(tmp_path / "missing")


def test_nwb_one_photon_series_round_trip(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from datetime import datetime, timezone

    from pynwb.ophys import OnePhotonSeries, OpticalChannel

    frames = movie()
    nwb = pynwb.NWBFile("wf", "id", datetime.now(timezone.utc))
    device = nwb.create_device("cam")
    plane = nwb.create_imaging_plane(
        name="plane", optical_channel=OpticalChannel(name="ch", description="blue", emission_lambda=500.0), description="wf",
        device=device, excitation_lambda=470.0, imaging_rate=30.0, indicator="GCaMP",
        location="cortex")
    nwb.add_acquisition(OnePhotonSeries(name="movie", imaging_plane=plane, data=frames, unit="au",
                                        rate=30.0))
    with pynwb.NWBHDF5IO(str(tmp_path / "wf.nwb"), "w") as io:
        io.write(nwb)
    reader = rd.open_movie(tmp_path / "wf.nwb")
    np.testing.assert_array_equal(read_all(reader), frames)


def test_missing_and_unknown_inputs(tmp_path):
    with pytest.raises(rd.ReaderError, match="does not exist"):
        rd.open_movie(tmp_path / "nope.tif")
    (tmp_path / "movie.xyz").write_text("x")
    with pytest.raises(rd.ReaderError, match="set widefield.format"):
        rd.open_movie(tmp_path / "movie.xyz")
