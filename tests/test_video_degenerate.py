"""Degenerate generators as oracles of the specificity score (issue #24, item 4).

A simulated world whose behaviours are known: each of three behaviours moves a bright blob
along x in its own stripe of the frame, and a *perfect* extractor reads each behaviour back from
its stripe's intensity centroid. Against it, generators that game the old score must come out
not specific, each for the reason built into it, and a generator that really moves the target
along the requested trajectory at a real amplitude must come out specific:

(i)   the unguided videos with the target's motion amplified ×3 (ignores the request),
(i')  the honest videos with the target amplified ×3 (follows it, amplitude out of bounds),
(ii)  white flicker on the target's pixels of the unguided videos,
(ii') the honest videos plus white flicker on the target's pixels (follows it, wrong spectrum),
(iii) copies of the training trials where the target moves most (real, ignores the request).
"""

import numpy as np
import pandas as pd
import pytest

from benediff.video import claims as vclaims
from benediff.video import readout, scores

NAMES = ["A", "B", "C"]
FS, F, S, STRIPE = 30.0, 96, 32, 10  # frame rate, frames per trial, frame side, stripe height
SCALE = 1.5  # pixels per behaviour unit
N_VIDEOS = 10
X = np.arange(S, dtype=np.float64)


def smooth_trajectories(rng, n, width=4.0) -> np.ndarray:
    """(n, F) Gaussian-filtered white noise; trials move by different amounts (log-normal
    std, 0.35), ≈ 1 on average."""
    kernel = np.exp(-0.5 * (np.arange(-12, 13) / width) ** 2)
    x = np.stack([np.convolve(rng.normal(size=F + 24), kernel, mode="valid") for _ in range(n)])
    x -= x.mean(axis=1, keepdims=True)
    x /= x.std(axis=1, keepdims=True)
    return x * rng.lognormal(-0.06, 0.35, size=(n, 1))


def render(behaviour: np.ndarray) -> np.ndarray:
    """(F, B) behaviour values → (F, 1, S, S) uint8 frames: blob b at x = S/2 + SCALE·value in
    stripe b (a Gaussian of σ 1.5 px, clipped inside the frame)."""
    frames = np.zeros((len(behaviour), 1, S, S))
    for b in range(behaviour.shape[1]):
        centre = np.clip(S / 2 + SCALE * behaviour[:, b], 2, S - 3)
        blob = np.exp(-0.5 * ((X[None, :] - centre[:, None]) / 1.5) ** 2)  # (F, S)
        rows = np.exp(-0.5 * ((np.arange(STRIPE) - STRIPE / 2 + 0.5) / 1.5) ** 2)
        frames[:, 0, b * STRIPE:(b + 1) * STRIPE] = 200 * rows[None, :, None] * blob[:, None, :]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def perfect_extractor(frames) -> np.ndarray:
    """(F, 1, S, S) → (F, B): each stripe's intensity-weighted x centroid, in behaviour units."""
    x = np.asarray(frames, dtype=np.float64)[:, 0]
    out = []
    for b in range(len(NAMES)):
        stripe = x[:, b * STRIPE:(b + 1) * STRIPE].sum(axis=1)  # (F, S)
        out.append(((stripe * X).sum(axis=1) / np.maximum(stripe.sum(axis=1), 1e-9) - S / 2)
                   / SCALE)
    return np.stack(out, axis=1)


def flicker(frames, target: int, rng, strength: float) -> np.ndarray:
    """White flicker on the target's pixels: the right part of its stripe brightens by a fresh
    uniform random amount every frame."""
    out = frames.astype(np.float64)
    rows = slice(target * STRIPE, (target + 1) * STRIPE)
    out[:, 0, rows, S // 2 + 3:] += rng.uniform(0, strength, size=(len(frames), 1, 1))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    behaviour = lambda n: np.stack([smooth_trajectories(rng, n) for _ in NAMES], axis=2)  # noqa
    train, test, pool = behaviour(24), behaviour(12), behaviour(12)
    unguided = 0.4 * behaviour(N_VIDEOS)  # the VDM without guidance moves 0.4× as much
    requested = smooth_trajectories(rng, N_VIDEOS)  # what guidance toward the target asked for
    return {"train": train, "test": test, "pool": pool, "unguided": unguided,
            "requested": requested, "rng": rng}


def real_readouts(world, extractor=perfect_extractor):
    return {"test": [extractor(render(b)) for b in world["test"]],
            "labels": list(world["test"]),
            "pool": [extractor(render(b)) for b in world["pool"]]}


def generators(world, target: int) -> dict:
    """Frames (n videos) of every oracle guided toward ``target``."""
    rng = np.random.default_rng(1 + target)
    unguided, requested = world["unguided"], world["requested"]
    honest = unguided.copy()
    honest[:, :, target] = requested  # the target follows the request at real amplitude
    amplified = unguided.copy()
    amplified[:, :, target] *= 3
    honest3 = honest.copy()
    honest3[:, :, target] *= 3
    busiest = np.argsort(world["train"][:, :, target].var(axis=1))[::-1][:N_VIDEOS]
    return {
        "unguided": [render(b) for b in unguided],
        "honest": [render(b) for b in honest],
        "(i) unguided target ×3": [render(b) for b in amplified],
        "(i') honest target ×3": [render(b) for b in honest3],
        "(ii) white flicker": [flicker(render(b), target, rng, 120) for b in unguided],
        "(ii') honest + flicker": [flicker(render(b), target, rng, 10) for b in honest],
        "(iii) busiest training trials": [render(world["train"][i]) for i in busiest],
    }


def score(world, extractor=perfect_extractor, **settings) -> pd.DataFrame:
    readouts, requested = {}, {}
    for d, target in enumerate(NAMES):
        for method, videos in generators(world, d).items():
            readouts[("R", method, target)] = [extractor(v) for v in videos]
            requested[("R", method, target)] = list(world["requested"])
    return scores.score_table(readouts, requested, real_readouts(world, extractor), NAMES,
                            segment=16, fs=FS, seed=0, **{"n_boot": 300, **settings})


@pytest.fixture(scope="module")
def table(world):
    return score(world).set_index(["method", "target"])


def test_the_perfect_extractor_reads_the_simulated_behaviour(world):
    b = world["test"][0]
    np.testing.assert_allclose(perfect_extractor(render(b)), b, atol=0.05)


def test_the_honest_generator_is_specific_on_every_target(table):
    honest = table.xs("honest", level="method")
    assert honest["specific"].all() and honest["specific_lo"].all(), honest.T
    assert (honest["fidelity_lo"] > 0.9).all()
    assert honest["amplitude"].between(0.8, 1.2).all()
    assert (honest["lift_margin_lo"] > 2).all()
    # its other behaviours move like the unguided VDM's (0.4× real): no better than that realism
    unguided = table.xs("unguided", level="method")
    assert (honest["realism_ratio"] < unguided["realism_ratio"]).all()
    assert (unguided["realism_ratio_lo"] > 3).all()


@pytest.mark.parametrize("oracle", ["(i) unguided target ×3", "(i') honest target ×3",
                                    "(ii) white flicker", "(ii') honest + flicker",
                                    "(iii) busiest training trials"])
def test_every_degenerate_generator_is_not_specific(table, oracle):
    rows = table.xs(oracle, level="method")
    assert not rows["specific"].any() and not rows["specific_lo"].any(), rows.T


def test_each_check_is_what_catches_its_oracle(table):
    """Each degenerate generator passes the old score (largest lift) and fails exactly the
    check built for it, so dropping any one check lets an oracle through."""
    def rows(method):
        return table.xs(method, level="method")

    for method in table.index.get_level_values("method").unique():
        if method not in ("unguided", "real"):
            assert (rows(method)["lift_margin"] > 1).all(), method  # all would pass by lift
    # (i) ignores the request: fidelity fails; its amplitude (3 × 0.4) is within bounds
    assert not rows("(i) unguided target ×3")["fidelity_ok"].any()
    assert rows("(i) unguided target ×3")["amplitude_ok"].all()
    # (i') follows it at 3× the real amplitude: only the upper amplitude bound catches it
    r = rows("(i') honest target ×3")
    assert r["fidelity_ok"].all() and r["spectrum_ok"].all() and not r["amplitude_ok"].any()
    # (ii) flicker: white spectrum, far above the real band, and follows nothing
    r = rows("(ii) white flicker")
    assert not r["spectrum_ok"].any() and not r["fidelity_ok"].any()
    assert (r["centroid"] > 2 * r["band_hi"]).all()
    # (ii') flicker over an honest video: follows the request, only the spectrum catches it
    r = rows("(ii') honest + flicker")
    assert r["fidelity_ok"].all() and r["amplitude_ok"].all() and not r["spectrum_ok"].any()
    # (iii) real training trials: real amplitude and spectrum, best realism, follow nothing
    r = rows("(iii) busiest training trials")
    assert r["amplitude_ok"].all() and r["spectrum_ok"].all() and not r["fidelity_ok"].any()
    assert (r["fidelity_hi"] < 0.5).all()
    assert r["realism_ratio"].max() < 3


def test_degenerate_oracles_fail_the_video_claims(table):
    """The claims on a table where a degenerate generator plays ``ours``: fails (or at best
    inconclusive), never holds; the honest generator as ``ours`` holds."""
    flat = table.reset_index()
    for player, expected in (("honest", {"holds"}),
                             ("(i) unguided target ×3", {"fails"}),
                             ("(ii) white flicker", {"fails"}),
                             ("(iii) busiest training trials", {"fails"})):
        t = flat[flat["method"].isin([player, "unguided", "real"])].replace({player: "ours"})
        specific = [c for c in vclaims.video_claims(t, control=False) if "specific on" in c[0]]
        assert [c[1] for c in specific] and set(c[1] for c in specific) <= expected, specific


def test_the_non_linear_extractor_learns_the_world_and_the_oracles_still_fail(world):
    """The default extractor (MLP on pooled pixels, training clips only) instead of the perfect
    one: high held-out R², the honest generator faithful, the degenerate ones not specific."""
    frames = np.concatenate([render(b) for b in world["train"]])
    labels = np.concatenate(list(world["train"]))
    mlp = readout.BehaviorRegressor().fit(frames, labels, NAMES)  # the schema's defaults
    test_frames = np.concatenate([render(b) for b in world["test"]])
    assert min(mlp.score(test_frames, np.concatenate(list(world["test"])))) > 0.9
    t = score(world, extractor=mlp.predict).set_index(["method", "target"])
    honest = t.xs("honest", level="method")
    # an MLP fitted on 24 trials reads unseen pose combinations less cleanly than the perfect
    # extractor (one target's off-target readouts swell), but the honest videos follow the
    # request at a real amplitude on every target and are specific on most
    assert (honest["fidelity_lo"] > 0.7).all() and honest["amplitude_ok"].all()
    assert honest["specific"].sum() >= 2
    for oracle in ("(i) unguided target ×3", "(i') honest target ×3", "(ii) white flicker",
                   "(iii) busiest training trials"):
        assert not t.xs(oracle, level="method")["specific"].any(), oracle


def test_the_realism_floor_has_the_rows_video_count(world):
    """n real trials that are not the reference score ≈ 1× the same-n floor for n = 3 and 10
    (means over many draws: the distance is heavy-tailed for 3 videos); the floor of a big
    pool of trials at once (what the old score compared with) is biased low for few videos."""
    rng = np.random.default_rng(5)
    real = real_readouts(world)
    test_features = scores.trajectory_features(real["test"], 16)

    def trials(n):
        return [perfect_extractor(render(b)) for b in
                np.stack([smooth_trajectories(rng, n) for _ in NAMES], axis=2)]

    pool, fresh = trials(40), trials(60)
    big = scores.frechet_distance(scores.trajectory_features(pool, 16), test_features)
    for n in (3, 10):
        floor = scores.realism_floor(pool, test_features, n, 16, 300, np.random.default_rng(n))
        scored = scores.realism_floor(fresh, test_features, n, 16, 300, np.random.default_rng(9))
        assert 0.75 < scored.mean() / floor.mean() < 1.33, (n, scored.mean(), floor.mean())
        if n == 3:
            assert scored.mean() / big > 1.5, (scored.mean(), big)
    with pytest.raises(scores.SpecificityError, match="raise video.specificity.floor_trials"):
        scores.realism_floor(real["pool"], test_features, 13, 16, 5, np.random.default_rng(0))
