"""The shared training pieces: epoch order and early stopping, on hand-worked sequences."""

import math

import numpy as np
import torch

from benediff.training import EarlyStopping, epoch_order


def test_epoch_order_is_a_fixed_permutation_per_seed_and_epoch():
    a = epoch_order(3, 1, 10)
    assert sorted(a.tolist()) == list(range(10))
    assert np.array_equal(a, epoch_order(3, 1, 10))
    assert not np.array_equal(a, epoch_order(3, 2, 10))


def _module(value):
    m = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(value)
    return m


def test_early_stopping_keeps_best_weights_and_counts_patience_from_significant_gains():
    stop = EarlyStopping(patience=2, min_delta=0.1)
    # loss 10 (restart), 9.5 (best, but < 10 % better: patience 1), 9.4 (best, patience 2: stop)
    assert not stop.update(10.0, _module(1.0))
    assert not stop.update(9.5, _module(2.0))
    assert stop.update(9.4, _module(3.0))
    assert stop.best_loss == 9.4 and stop.stall_loss == 10.0 and stop.bad_epochs == 2
    target = _module(0.0)
    stop.restore_best(target)
    assert target.weight.item() == 3.0


def test_early_stopping_grace_keeps_every_epoch_and_never_stops():
    stop = EarlyStopping(patience=1)
    for loss, value in [(1.0, 1.0), (5.0, 2.0), (7.0, 3.0)]:
        assert not stop.update(loss, _module(value), grace=True)
    assert stop.best_loss == 7.0 and stop.bad_epochs == 0
    assert stop.update(8.0, _module(4.0))  # first epoch after grace without a gain
    target = _module(0.0)
    stop.restore_best(target)
    assert target.weight.item() == 3.0


def test_early_stopping_state_round_trips_through_plain_fields():
    stop = EarlyStopping(patience=3, min_delta=0.01)
    stop.update(2.0, _module(1.0))
    again = EarlyStopping(**vars(stop))
    assert again == stop and math.isinf(EarlyStopping(1).best_loss)
