"""The whiteness test of the LocaNMF components (benediff.widefield.denoise, widefield.whiteness)."""

import logging

import numpy as np
import pytest
from scipy.signal import lfilter

from benediff.testing.locanmf import plant, voronoi_atlas
from benediff.widefield.denoise import drop_white_components, lag1_autocorrelation, select_smooth
from benediff.widefield.locanmf import LocaNMF


def test_lag1_by_hand():
    # [1, -1, 1, -1]: mean 0, Σ x_t x_t+1 = -3, Σ x² = 4; [1, 2, 3, 4]: centred ±1.5, ±0.5,
    # Σ x_t x_t+1 = 0.75 - 0.25 + 0.75 = 1.25, Σ x² = 5; a constant row: 0
    got = lag1_autocorrelation([[1, -1, 1, -1], [1, 2, 3, 4], [2, 2, 2, 2]])
    assert np.allclose(got, [-0.75, 0.25, 0.0])


def test_ar1_kept_white_dropped():
    """Planted: 4 AR(1) traces (φ = 0.9, lag-1 ≈ 0.9) and 3 white ones (lag-1 ≈ 0 ± 1/√T)."""
    rng = np.random.default_rng(0)
    T = 3000
    smooth = lfilter([1.0], [1.0, -0.9], rng.standard_normal((4, T)), axis=1)
    white = 5 * rng.standard_normal((3, T))  # more variance than the smooth ones: not a size test
    X = np.vstack([smooth[:2], white[:2], smooth[2:], white[2:]])
    lag = lag1_autocorrelation(X)
    assert np.all(np.abs(lag[[0, 1, 4, 5]] - 0.9) < 0.03)
    assert np.all(np.abs(lag[[2, 3, 6]]) < 4 / np.sqrt(T))
    keep = select_smooth(lag, np.array([1, 1, 1, 1, 2, 2, 2]), min_lag1=0.5, min_components=1)
    assert keep.tolist() == [True, True, False, False, True, True, False]


def test_min_components_keeps_the_smoothest_white_ones():
    lag = np.array([0.9, 0.2, 0.45, 0.1, 0.3, 0.8, 0.7])
    regions = np.array([1, 1, 1, 1, -1, -1, 2])
    # region 1: one smooth, needs 3 -> the two smoothest others (0.45, 0.2), not 0.1;
    # region -1: already 1 smooth of 2, needs 3 -> all it has; region 2: one, kept
    keep = select_smooth(lag, regions, min_lag1=0.5, min_components=3)
    assert keep.tolist() == [True, True, True, False, True, True, True]
    assert select_smooth(lag, regions, 0.5, 1).tolist() == [True, False, False, False, False, True, True]
    # the threshold is inclusive
    assert select_smooth(np.array([0.5, 0.4999]), np.array([1, 1]), 0.5, 1).tolist() == [True, False]
    with pytest.raises(ValueError, match="differ in shape"):
        select_smooth(lag, regions[:3])


@pytest.fixture(scope="module")
def overfitted():
    """One smooth planted footprint per region but 3 components per region: the extra two fit
    the planted white noise (20 % of the signal rms, full rank)."""
    atlas = voronoi_atlas(40, 56, 4, seed=1)
    rng = np.random.default_rng(5)
    planted = plant(atlas, per_region=1, frames=1500, noise=0.2, seed=3)
    traces = lfilter([1.0], [1.0, -0.95], rng.standard_normal((len(planted.traces), 1500)), axis=1)
    from benediff.testing.locanmf import compress

    planted = compress(planted.footprints, traces, atlas, planted.regions, len(traces) + 30,
                       noise=0.2, seed=4)
    model = LocaNMF(min_rank=3, max_rank=3, loc_thresh=70, maxiter_lambda=20, min_pixels=20,
                    progress=False).fit(planted.U, planted.V, planted.atlas)
    return planted, model


def test_drop_white_components_on_an_overfitted_locanmf(overfitted, tmp_path, caplog):
    planted, model = overfitted
    lag_before = lag1_autocorrelation(model.temporal_)
    assert len(model.regions_) == 3 * len(planted.traces) and (lag_before < 0.5).sum() >= len(planted.traces)
    r2_before = model.r2_
    U = np.where(np.isnan(planted.U), 0, planted.U)
    with caplog.at_level(logging.INFO, logger="benediff.widefield.denoise"):
        summary = drop_white_components(model, U, planted.V, planted.atlas, min_lag1=0.5)
    assert "dropped" in caplog.text
    lag = lag1_autocorrelation(model.temporal_)
    assert lag.min() >= 0.5 and model.n_components_ == len(model.regions_) == len(lag)
    # every region keeps its planted trace (and nothing else is left smooth enough)
    for j, code in enumerate(planted.regions):
        idx = np.flatnonzero(model.regions_ == code)
        assert len(idx) >= 1
        r = max(abs(np.corrcoef(model.temporal_[i], planted.traces[j])[0, 1]) for i in idx)
        assert r > 0.9
    assert summary["regions"] == {str(int(c)): [int((model.regions_ == c).sum()), 3]
                                  for c in np.unique(planted.regions)}
    # the R² is recomputed: the noise components explained some variance, dropping them loses it
    assert model.r2_ < r2_before and model.r2_ > 0.8
    model.save(tmp_path / "m.h5")
    back = LocaNMF.load(tmp_path / "m.h5")
    assert back.whiteness_["min_lag1"] == 0.5 and back.whiteness_["kept"] == summary["kept"]
    assert np.array_equal(back.regions_, model.regions_) and back.spatial_.shape[0] == len(lag)


def test_min_components_floor_and_warning(overfitted, caplog):
    planted, fitted = overfitted
    model = LocaNMF(min_rank=3, max_rank=3, loc_thresh=70, maxiter_lambda=20, min_pixels=20,
                    progress=False).fit(planted.U, planted.V, planted.atlas)
    U = np.where(np.isnan(planted.U), 0, planted.U)
    with caplog.at_level(logging.WARNING, logger="benediff.widefield.denoise"):
        drop_white_components(model, U, planted.V, planted.atlas, min_lag1=0.5, min_components=2)
    assert all((model.regions_ == c).sum() == 2 for c in np.unique(planted.regions))
    assert "min_components = 2" in caplog.text
    # the QC's fit page says what was dropped and which regions kept noise-dominated components
    from benediff.figures.widefield import _whiteness_text
    from benediff.io.atlas import Atlas

    codes = np.unique(np.abs(planted.atlas[planted.atlas != 0]))
    text = _whiteness_text(model, Atlas(planted.atlas, {int(c): f"R{c}" for c in codes}))
    n_fit = 3 * len(planted.traces)
    assert f"dropped {n_fit - len(model.regions_)} of {n_fit} components with lag-1 < 0.5" in text
    assert "min_components = 2: R" in text
    model.whiteness_ = None
    assert _whiteness_text(model, None) == ""
