"""Trial structure and the six behaviour variables of a head-fixed mouse (values ~ 0..1).

Within each trial (``behavior_coupling: task``): the levers come in, the paw reaches and grabs,
later the spouts move in and the jaw licks rhythmically (~7 Hz) until they retract; the chest
breathes (~3 Hz) throughout. With ``independent`` the same movements happen on independent
random schedules (a control with uncorrelated behaviours). Every variable is back at rest by the
end of the trial, so inter-trial gaps are quiet.
"""

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from benediff.simulate.params import BEHAVIORS


@dataclass
class Timeline:
    """Per-channel neural frame timeline and the video timeline (which may have its own fps)."""

    start_frame: np.ndarray  # (n_trials,) first frame of each trial
    n_frames: int  # per-channel frames in the whole session
    video_start_frame: np.ndarray
    n_video_frames: int


def make_timeline(rng, params) -> Timeline:
    """Trials of ``frames_per_trial`` frames, each followed by a random gap of a few frames."""
    lo, hi = params.gap_frames
    gaps = rng.integers(lo, hi + 1, params.n_trials)
    starts = np.concatenate([[0], np.cumsum(params.frames_per_trial + gaps)[:-1]])
    n_frames = int(starts[-1] + params.frames_per_trial + gaps[-1])
    ratio = params.video_fps / params.frame_rate
    return Timeline(starts.astype(np.int64), n_frames,
                    np.round(starts * ratio).astype(np.int64), int(round(n_frames * ratio)))


def simulate_behavior(rng, params, timeline: Timeline) -> np.ndarray:
    """(n_frames, 6) behaviour variables in ``BEHAVIORS`` order on the neural timeline."""
    fs, L = params.frame_rate, params.frames_per_trial
    beh = np.zeros((timeline.n_frames, len(BEHAVIORS)))
    t_trial = np.arange(L) / fs
    trial = _independent_behavior if params.behavior_coupling == "independent" else _trial_behavior
    for start in timeline.start_frame:
        beh[start:start + L, :5] = trial(rng, t_trial, L / fs)
    beh[:, 5] = _breathing(rng, np.arange(timeline.n_frames) / fs)
    return beh


def _ramp(t, onset, width):
    """Smoothstep from 0 (t <= onset) to 1 (t >= onset + width)."""
    u = np.clip((t - onset) / width, 0, 1)
    return u * u * (3 - 2 * u)


def _bump(t, centre, width):
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def _trial_behavior(rng, t, dur):
    ramp = min(0.25, 0.05 * dur)
    lever_in, lever_out = dur * rng.uniform(0.08, 0.16), dur * rng.uniform(0.84, 0.9)
    spout_in, spout_out = dur * rng.uniform(0.5, 0.6), dur * rng.uniform(0.74, 0.8)
    grab = lever_in + ramp + dur * rng.uniform(0.04, 0.1)
    levers = _ramp(t, lever_in, ramp) - _ramp(t, lever_out, ramp)
    spouts = _ramp(t, spout_in, ramp) - _ramp(t, spout_out, ramp)
    hold = _ramp(t, grab, ramp) - _ramp(t, lever_out, ramp)
    paw_x, paw_y = 0.6 * hold, 0.25 * hold + _bump(t, grab - 0.3 * ramp, 0.6 * ramp)
    for _ in range(rng.poisson(1.5)):  # extra reaches while the lever is in
        c = rng.uniform(grab, lever_out)
        paw_x = paw_x + 0.35 * _bump(t, c, 0.8 * ramp)
        paw_y = paw_y + 0.5 * _bump(t, c - 0.4 * ramp, 0.6 * ramp)
    rate, phase = rng.uniform(6.5, 7.5), rng.uniform(0, 2 * np.pi)
    lick_env = _ramp(t, spout_in + ramp, ramp) - _ramp(t, spout_out, ramp)
    jaw = lick_env * 0.5 * (1 - np.cos(2 * np.pi * rate * (t - spout_in) + phase))
    rest = _ramp(t, 0, ramp) - _ramp(t, dur - 2 * ramp, ramp)  # quiet at the trial edges
    wobble = gaussian_filter1d(rng.standard_normal((2, len(t))), 3, axis=1) * 0.1 * rest
    return np.stack([levers, spouts, paw_x + wobble[0], paw_y + wobble[1], jaw], axis=1)


def _independent_behavior(rng, t, dur):
    """The same five movements as :func:`_trial_behavior`, each on its own random schedule:
    lever and spout windows, reaches (x and y apart) and licking bouts drawn independently."""
    ramp = min(0.25, 0.05 * dur)

    def window():
        a = rng.uniform(0.05, 0.8) * dur
        b = min(a + rng.uniform(0.1, 0.4) * dur, dur - 2 * ramp)
        return _ramp(t, a, ramp) - _ramp(t, max(b, a + ramp), ramp)

    def reaches(height):
        out = np.zeros_like(t)
        for c in rng.uniform(0.05, 0.9, rng.poisson(2.5)) * dur:
            out = out + height * _bump(t, c, rng.uniform(0.5, 1.0) * ramp)
        return out

    rate, phase = rng.uniform(6.5, 7.5), rng.uniform(0, 2 * np.pi)
    jaw = window() * 0.5 * (1 - np.cos(2 * np.pi * rate * t + phase))
    rest = _ramp(t, 0, ramp) - _ramp(t, dur - 2 * ramp, ramp)  # quiet at the trial edges
    return np.stack([window(), window(), reaches(0.6) * rest, reaches(0.6) * rest, jaw], axis=1)


def _breathing(rng, t):
    """~3 Hz breathing with slowly drifting rate and depth, in 0..1."""
    drift = gaussian_filter1d(rng.standard_normal(len(t)), 45)
    drift /= drift.std() + 1e-12
    rate = rng.uniform(2.6, 3.4) + 0.3 * drift
    phase = 2 * np.pi * np.cumsum(rate) * (t[1] - t[0] if len(t) > 1 else 0) + rng.uniform(0, 6.3)
    depth = 0.85 + 0.15 * np.tanh(drift)
    return 0.5 + 0.5 * depth * np.sin(phase)


def resample_to_video(behavior, params, timeline: Timeline) -> np.ndarray:
    """Behaviour at the video frame times (linear interpolation of the neural timeline)."""
    t_neural = np.arange(timeline.n_frames) / params.frame_rate
    t_video = np.arange(timeline.n_video_frames) / params.video_fps
    return np.stack([np.interp(t_video, t_neural, b) for b in behavior.T], axis=1)
