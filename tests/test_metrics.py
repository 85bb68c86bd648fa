import itertools

import numpy as np
import pytest

from benediff.metrics import (MetricError, histogram_discretize, mig, reconstruction_metrics,
                              rmse, r2_scores, single_latent_decoding)

Y1 = np.array([[0, 0, 0, 0, 1, 1, 1, 1]], dtype=float)


def test_mig_hand_cases():
    z1 = np.array([[0, .1, .2, .3, .7, .8, .9, 1], [0, 1, 0, 1, 0, 1, 0, 1]])
    z2 = np.array([[0, 0, 0, 1, 1, 1, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1]], dtype=float)
    assert mig(z1, Y1) == pytest.approx(1.0, abs=1e-6)
    assert mig(z2, Y1) == pytest.approx(0.188722, abs=1e-6)
    assert mig(z2, Y1) == pytest.approx(1 - (-(.25 * np.log(.25) + .75 * np.log(.75))) / np.log(2), abs=1e-12)


def test_mig_full_factorial():
    grid = np.array(list(itertools.product([0, 1, 2], [0, 1], [0, 1])), dtype=float).T
    codes = np.vstack([grid[0] / 2, grid[1], grid[2]])
    assert mig(codes, grid[:2]) == pytest.approx(1.0, abs=1e-6)


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.integers(0, 10, (10, n)).astype(float)
    f = rng.standard_normal((6, n))
    codes8 = np.vstack([f + 0.3 * rng.standard_normal((6, n)), rng.standard_normal((2, n))])
    return y, f, codes8


EW = {"binning": "equal_width"}  # disentanglement_lib's histogram_discretize


def test_mig_random_vectors(vectors):
    y, _, _ = vectors
    assert mig(y, y, **EW) == pytest.approx(0.992672, abs=1e-6)
    assert mig(np.exp(y[::-1] / 3), y, **EW) == pytest.approx(0.851599, abs=1e-6)
    assert mig(np.exp(y[::-1] / 3), y, code_bins=10, factor_bins=10, **EW) == pytest.approx(0.754656, abs=1e-6)
    assert mig(np.zeros_like(y), y, **EW) == 0.0
    assert mig(np.vstack([y, y]), y, **EW) == 0.0
    # y has 10 equally likely values: quantile bins keep them (a monotone code is the factor)
    assert mig(y, y) == pytest.approx(0.992672, abs=1e-6)
    assert mig(np.exp(y[::-1] / 3), y) == pytest.approx(0.992672, abs=1e-6)


def test_mig_continuous_factors(vectors):
    _, f, codes = vectors
    assert mig(codes, f, factor_bins=None, **EW) == pytest.approx(0.005571, abs=1e-6)
    binned = histogram_discretize(f, 20).astype(float)
    assert mig(codes, binned, factor_bins=None, **EW) == pytest.approx(0.446943, abs=1e-6)
    assert mig(codes, f, **EW) == pytest.approx(0.446943, abs=1e-6)
    rot = np.eye(8)
    c = np.sqrt(0.5)
    rot[:2, :2] = [[c, -c], [c, c]]
    assert mig(rot @ codes, f, **EW) == pytest.approx(0.302143, abs=1e-6)
    # quantile bins: invariant to any monotone transform of a code, equal-width bins are not
    assert mig(np.exp(codes), f) == pytest.approx(mig(codes, f), abs=1e-12)
    assert mig(np.exp(codes), f, **EW) < mig(codes, f, **EW) - 0.1


def test_mig_guards():
    with pytest.raises(MetricError, match="at least 2 codes"):
        mig(Y1, Y1)
    with pytest.raises(MetricError, match="'Jaw' is constant"):
        mig(np.vstack([Y1, Y1]), np.vstack([Y1, np.ones_like(Y1)]), factor_names=["Paw-x", "Jaw"])


def test_quantile_discretize_hand_cases():
    from benediff.metrics import quantile_discretize

    # 8 distinct values, 4 bins: edges at the 1/4, 2/4, 3/4 quantiles (1.75, 3.5, 5.25)
    assert quantile_discretize(np.array([[0., 1, 2, 3, 4, 5, 6, 7]]), 4).tolist() == [[0, 0, 1, 1, 2, 2, 3, 3]]
    # an outlier stays in the top bin and leaves the other frames' bins unchanged
    assert quantile_discretize(np.array([[0., 1, 2, 3, 4, 5, 6, 700]]), 4).tolist() == [[0, 0, 1, 1, 2, 2, 3, 3]]
    # ties: the 1/4 and 2/4 quantiles are both 0 (merged), the 3/4 one 0.25: the value most
    # frames share is one bin, the two frames above the last edge share the top bin
    assert quantile_discretize(np.array([[0., 0, 0, 0, 0, 0, 1, 2]]), 4).tolist() == [[1, 1, 1, 1, 1, 1, 2, 2]]


def test_histogram_discretize_max_in_last_bin():
    d = histogram_discretize(np.array([[0.0, 0.5, 1.0]]), 20)
    assert d.tolist() == [[1, 11, 20]]


def test_r2_and_rmse_hand_case():
    x = np.array([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]])
    pred = np.array([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]])
    mean_r2, per_dim = r2_scores(x, pred)
    # dim 0: ss_res 1, ss_tot 2 -> 50 %; dim 1: ss_res 1, ss_tot 8 -> 87.5 %
    assert per_dim.tolist() == pytest.approx([50.0, 87.5])
    assert mean_r2 == pytest.approx(68.75)
    assert rmse(x, pred) == pytest.approx(100 * np.sqrt(2 / 6))
    out = reconstruction_metrics([x[:2], x[2:]], [pred[:2], pred[2:]])
    assert out["r2"] == pytest.approx(68.75) and out["rmse"] == pytest.approx(100 * np.sqrt(1 / 3))


def test_single_latent_decoding_hand_case():
    z_train = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    u_train = np.stack([2 * z_train[:, 0] + 1, z_train[:, 1]], axis=1)
    z_test = np.array([[4.0, 0.0], [5.0, 1.0], [6.0, 1.0]])
    u_test = np.array([[9.0, 0.0], [11.0, 1.0], [13.0, 0.0]])
    dec = single_latent_decoding(z_train, u_train, z_test, u_test)
    assert dec.shape == (2, 2)
    assert dec[0, 0] == pytest.approx(100.0)
    # latent 1 predicts u1 exactly on rows 0,1 and misses row 2 by 1: ss_res 1, ss_tot 2/3
    assert dec[1, 1] == pytest.approx(100 * (1 - 1 / (2 / 3)))


def test_mig_floor_is_chance_level_and_shuffles_across_trials():
    from benediff.metrics import mig, mig_floor

    rng = np.random.default_rng(0)
    factors = [rng.normal(size=(50, 2)) for _ in range(12)]
    codes = [f.copy() for f in factors]  # perfectly disentangled: MIG near 100 %
    aligned = 100 * mig(np.concatenate(codes).T, np.concatenate(factors).T)
    floor = 100 * mig_floor(codes, factors, n_shuffles=5, seed=1)
    assert aligned > 80 and floor < 5  # independent trials: almost no information left
    # a trial never meets its own labels (derangement), and the same seed gives the same floor
    assert floor == 100 * mig_floor(codes, factors, n_shuffles=5, seed=1)
    # codes that do not depend on the trial's labels (a shared waveform): floor ~ the MIG itself
    shared = np.sin(np.linspace(0, 6, 50))[:, None] * np.ones((1, 2)) + 0.01 * rng.normal(size=(50, 2))
    common = [shared + 0.01 * rng.normal(size=(50, 2)) for _ in range(12)]
    lab = [np.c_[shared[:, 0], rng.normal(size=50)] for _ in range(12)]
    assert 100 * mig_floor(common, lab, n_shuffles=3) > 0.5 * 100 * mig(
        np.concatenate(common).T, np.concatenate(lab).T)


def test_lagged_design_shifts_with_edge_padding():
    from benediff.metrics import lagged_design

    u = np.arange(5.0)[:, None]
    out = lagged_design(u, [-1, 0, 2])
    assert out[:, 0].tolist() == [1, 2, 3, 4, 4]  # lag -1: the response leads
    assert out[:, 1].tolist() == [0, 1, 2, 3, 4]
    assert out[:, 2].tolist() == [0, 0, 0, 1, 2]  # lag +2: the response follows


def test_behavior_share_recovers_a_planted_linear_share():
    """x = sqrt(f)·(lagged behaviour) + sqrt(1 − f)·independent noise: the share is f."""
    from benediff.metrics import behavior_share

    rng = np.random.default_rng(0)
    f = 0.4
    u = [rng.standard_normal((200, 2)) for _ in range(20)]
    signal = [np.roll(t[:, :1] + t[:, 1:], 2, axis=0) / np.sqrt(2) for t in u]
    x = [np.sqrt(f) * s + np.sqrt(1 - f) * rng.standard_normal((200, 1)) for s in signal]
    share = behavior_share(x, u, lags=range(0, 4))
    assert abs(share - f) < 0.04
    # labels unrelated to x explain nothing (cross-validated: at most a little below zero)
    other = [rng.standard_normal((200, 2)) for _ in range(20)]
    assert -0.03 < behavior_share(x, other, lags=range(0, 4)) < 0.01


def test_decoder_mig_of_a_perfectly_decodable_region_is_the_labels_own_mig():
    """Neural = an invertible linear mix of the labels: the ridge decoder recovers them and its
    MIG equals the labels' MIG against themselves; unrelated neural data give a MIG near 0."""
    from benediff.metrics import decoder_mig, mig

    rng = np.random.default_rng(3)
    u = [rng.standard_normal((60, 3)) for _ in range(12)]
    mix = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    x = [t @ mix for t in u]
    own = mig(np.concatenate(u[8:]).T, np.concatenate(u[8:]).T)
    got = decoder_mig(x[:8], u[:8], x[8:], u[8:], lags=[0])
    assert abs(got - own) < 0.01
    noise = [rng.standard_normal((60, 4)) for _ in range(12)]
    assert decoder_mig(noise[:8], u[:8], noise[8:], u[8:], lags=[0]) < 0.1


def test_mig_gaps_hand_case():
    """Two codes, two binary factors: code 0 = factor 0, code 1 = factor 0 with half its values
    flipped (independent of it), factor 1 independent of both. I(code 0; f0) = H(f0) = ln 2,
    I(code 1; f0) = 0 → gap 1; f1: both codes carry nothing → gap 0; MIG = 0.5."""
    from benediff.metrics import mig, mig_gaps
    f0 = np.array([0, 1] * 8, float)
    f1 = np.array([0, 0, 1, 1] * 4, float)
    c1 = np.array([0, 0, 1, 1, 1, 1, 0, 0] * 2, float)  # independent of f0 and of f1
    codes, factors = np.stack([f0, c1]), np.stack([f0, f1])
    for binning in ("quantile", "equal_width"):
        gaps, normalised = mig_gaps(codes, factors, code_bins=2, factor_bins=2, binning=binning)
        assert np.allclose(normalised[:, 0], [1, 0]) and np.allclose(gaps, [1, 0])
        assert np.isclose(mig(codes, factors, code_bins=2, factor_bins=2, binning=binning), 0.5)


def test_relative_gap_and_calibrated_hand_cases():
    """Binary factor f (H = ln 2), code 0 = f with 1 of 8 frames flipped, code 1 = f with 3 of 8
    flipped. I(c; f) of a binary symmetric channel with flip rate p is ln 2 − H(p) (balanced
    f, balanced flips). Relative gap = (I₀ − I₁)/I₀; Chen's gap = (I₀ − I₁)/ln 2."""
    from benediff.metrics import calibrated, mig_gaps, relative_gap

    def h(p):
        return -(p * np.log(p) + (1 - p) * np.log(1 - p))

    f = np.array([0, 1] * 8, float)                       # 16 frames, balanced
    flip1 = np.zeros(16, bool)
    flip1[[0, 1]] = True                                  # 2 of 16: one 0 and one 1 flipped
    flip3 = np.zeros(16, bool)
    flip3[[0, 1, 2, 3, 4, 5]] = True                      # 6 of 16: three of each
    codes = np.stack([np.where(flip1, 1 - f, f), np.where(flip3, 1 - f, f)])
    i0, i1 = np.log(2) - h(1 / 8), np.log(2) - h(3 / 8)
    gaps, _ = mig_gaps(codes, f[None], code_bins=2, factor_bins=2)
    assert gaps[0] == pytest.approx((i0 - i1) / np.log(2), abs=1e-12)
    assert relative_gap(codes, f[None]) == pytest.approx((i0 - i1) / i0, abs=1e-12)
    assert calibrated(0.3, 0.1, 0.5) == pytest.approx(0.5)
    assert np.isnan(calibrated(0.3, 0.5, 0.5))


def _sim_test_labels(preset: str, blocks, seed: int = 1):
    """Test-split trials of a simulated session's behaviour at a preset's size (the demo: 40
    trials of 189 frames, 4 tested; the study's paper preset: 549, 54 tested), with 5 % label
    noise as a pose estimate has."""
    from benediff.io.split import make_split
    from benediff.simulate.behavior import make_timeline, simulate_behavior
    from benediff.simulate.params import params_from_config

    config = {"sessions": {"S": {"source": "simulate", "seed": seed}},
              "simulate": {"preset": preset}}
    p = params_from_config("S", config)
    rng = np.random.default_rng(seed)
    timeline = make_timeline(rng, p)
    behavior = simulate_behavior(rng, p, timeline)
    n = p.frames_per_trial
    trials = [behavior[s:s + n] for s in timeline.start_frame]
    test = make_split(len(trials), blocks, seed=0)["test"]
    return [trials[i] + 0.05 * trials[i].std(0) * rng.standard_normal(trials[i].shape) for i in test]


@pytest.mark.parametrize("preset, blocks", [("demo", (8, 1, 1)), ("paper", (8, 1, 1))])
def test_calibrated_mig_is_0_for_a_random_code_and_1_for_the_labels(preset, blocks):
    """The calibrated MIG on the demo's and the study's test frames: a random code scores
    0 ± 0.05 and a code equal to the labels scores 1 ± 0.05; the labels' own MIG is the
    ceiling and is below 1 when behaviours share information."""
    from benediff.metrics import mig_scale

    labels = _sim_test_labels(preset, blocks)
    rng = np.random.default_rng(0)
    shuffles = 10 if preset == "demo" else 3
    random = mig_scale([rng.standard_normal((len(t), 7)) for t in labels], labels, shuffles)
    own = mig_scale(labels, labels, shuffles)
    assert abs(random["calibrated"]) < 0.05
    assert abs(own["calibrated"] - 1) < 0.05
    assert own["mig"] == pytest.approx(own["ceiling"]) and 0.3 < own["ceiling"] < 1
    # a noisy copy of the labels plus a free latent lies between the two
    noisy = mig_scale([np.c_[t + 0.1 * t.std(0) * rng.standard_normal(t.shape),
                             rng.standard_normal(len(t))] for t in labels], labels, shuffles)
    assert 0.1 < noisy["calibrated"] < 0.9


@pytest.mark.parametrize("binning, limit", [("quantile", 1.0), ("equal_width", None)])
def test_one_outlier_frame_moves_mig_by_less_than_a_point(binning, limit):
    """One 30-SD frame in one latent: quantile bins move MIG by < 1 point (measured 0.01);
    disentanglement_lib's equal-width bins squeeze that latent's other frames into a few bins
    (measured: 3 points)."""
    labels = np.concatenate(_sim_test_labels("demo", (8, 1, 1)))
    rng = np.random.default_rng(2)
    code = (labels + 0.1 * labels.std(0) * rng.standard_normal(labels.shape)).T
    before = 100 * mig(code, labels.T, binning=binning)
    code[0, 100] += 30 * code[0].std()
    moved = abs(100 * mig(code, labels.T, binning=binning) - before)
    if limit is not None:
        assert moved < limit
    else:
        assert moved > 1.0
