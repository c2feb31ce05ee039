"""The random streams of tasks/streams.py: distinct, independent, and used by data and learners."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from harness.run import draw_test_set, draw_training_set
from learners.base import train_val_split
from learners.mlp import MLPLearner
from learners.three_layer import ThreeLayerLearner
from tasks import make_task
from tasks.base import reference_rng
from tasks.streams import Stream, stream_rng, stream_torch_seed

DATA = (Stream.TRAIN_DATA, Stream.TEST_DATA, Stream.PROBE)
LEARNER = (Stream.SPLIT, Stream.INIT, Stream.BATCHES, Stream.FEATURES)


def test_every_stream_gives_a_different_sequence():
    for seed in (0, 1, 7):
        draws = {s: tuple(stream_rng(seed, s).integers(0, 2**62, 4)) for s in Stream}
        assert len(set(draws.values())) == len(Stream), seed
        assert len({stream_torch_seed(seed, s) for s in Stream}) == len(Stream)


def test_streams_are_uncorrelated_across_seeds():
    """For seeds 0..999 the first uniform of each stream: no pair of streams is correlated
    (|r| < 0.15; independent streams give |r| ~ N(0, 1/1000), sd 0.032)."""
    seeds = range(1000)
    u = {s: np.array([stream_rng(k, s).random() for k in seeds]) for s in Stream}
    for a, b in itertools.combinations(Stream, 2):
        r = np.corrcoef(u[a], u[b])[0, 1]
        assert abs(r) < 0.15, (a, b, r)


def test_data_and_teacher_streams_keep_their_historical_words():
    """Training sets, test sets, probes and teachers are those of earlier run folders."""
    for k, s in ((1, Stream.TRAIN_DATA), (2, Stream.TEST_DATA), (3, Stream.PROBE)):
        np.testing.assert_array_equal(stream_rng(5, s).random(3),
                                      np.random.default_rng([5, k]).random(3))
    np.testing.assert_array_equal(reference_rng(5, 0).random(3),
                                  np.random.default_rng([5, 7919, 0]).random(3))
    np.testing.assert_array_equal(reference_rng(5, Stream.TEACHER_PAIRS).random(3),
                                  reference_rng(5, 2).random(3))
    task = make_task("multi_index", d=3, seed=5, p=2)
    X, _ = draw_training_set(task, 5, 10)
    np.testing.assert_array_equal(X, task._draw_inputs(10, np.random.default_rng([5, 1])))
    X_test, _ = draw_test_set(task, 5, 10)
    np.testing.assert_array_equal(X_test, task._draw_inputs(10, np.random.default_rng([5, 2])))


@pytest.mark.parametrize("data", DATA)
def test_a_learners_split_is_not_a_data_streams_permutation(data):
    """The collisions the streams replaced: the nets' split had been the training stream's
    permutation, two_layer's the test stream's, three_layer's the probe stream's."""
    n = 64
    split = stream_rng(3, Stream.SPLIT).permutation(n)
    assert not np.array_equal(split, stream_rng(3, data).permutation(n))
    for s in LEARNER:
        assert not np.array_equal(stream_rng(3, s).permutation(n),
                                  stream_rng(3, data).permutation(n))


def test_learner_split_is_its_own_stream_whatever_the_data():
    """The same learner seed splits two data sets from different data streams identically, by
    the SPLIT permutation (it is a function of random_state only, not of the data's generator)."""
    task = make_task("multi_index", d=3, seed=0, p=2)
    n = 40
    for data in DATA:
        X, y = task.sample(n, stream_rng(2, data))
        est = MLPLearner(width=4, depth=1, max_steps=1, lr_grid=(1e-3,), device="cpu",
                         random_state=2).fit(X, y)
        X_tr, _, _, _ = train_val_split(X, y, 0.2, stream_rng(2, Stream.SPLIT))
        np.testing.assert_allclose(est.scaler_.mu_x, X_tr.mean(axis=0))
    three = ThreeLayerLearner(width1=8, width2=4)
    i1, _ = three._split(n, stream_rng(2, Stream.SPLIT))
    np.testing.assert_array_equal(i1, stream_rng(2, Stream.SPLIT).permutation(n)[:20])
    assert not np.array_equal(i1, stream_rng(2, Stream.PROBE).permutation(n)[:20])


def test_init_stream_is_not_the_global_torch_state():
    """Initialisation comes from the INIT stream: the global torch seed does not change a fit."""
    X = np.random.default_rng(0).standard_normal((50, 3))
    preds = []
    for g in (0, 123):
        torch.manual_seed(g)
        est = MLPLearner(width=4, depth=1, max_steps=5, lr_grid=(1e-3,), device="cpu",
                         random_state=1).fit(X, X[:, 0])
        preds.append(est.predict(X))
    np.testing.assert_array_equal(preds[0], preds[1])


def test_stream_sequence_rejects_a_raw_number():
    with pytest.raises(TypeError):
        stream_rng(0, 1)
