"""Tests of ``three_layer``: the learned feature tracks p(x), the link is fitted on it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from learners import make_learner
from learners.three_layer import ThreeLayerLearner
from tasks import make_task

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _data(d=16, n=8000, n_test=5000, seed=0, q=3):
    task = make_task("hier_poly", d=d, seed=seed, k=2, q=q)
    X, y = task.sample(n, np.random.default_rng(seed + 1))
    Xt = task.sample(n_test, np.random.default_rng(seed + 2))[0]
    return task, X, y, Xt, task.target(Xt)


def test_three_layer_learns_the_inner_feature_and_beats_the_mean():
    task, X, y, Xt, yt = _data()
    est = ThreeLayerLearner(device="cpu", random_state=0).fit(X, y)
    p_true = task.hierarchy(Xt)[0][:, 0]
    corr = abs(np.corrcoef(est.learned_feature(Xt), p_true)[0, 1])
    assert corr > 0.85, corr  # measured 0.92
    err = float(np.mean((est.predict(Xt) - yt) ** 2) / np.var(yt))
    assert err < 0.65, err  # measured 0.46; kernel ridge (rbf) 0.74 at this n
    info = est.fit_info_
    assert info["n_stage1"] + info["n_stage2"] == 8000 and info["ridge_lambda_1"] > 0


def test_three_layer_conventions_seed_shapes_and_split():
    _, X, y, Xt, _ = _data(d=6, n=400, n_test=9)
    est = make_learner("three_layer", width1=64, width2=16, random_state=2)
    assert isinstance(est, ThreeLayerLearner) and est.family == "layerwise" and est.uses_gpu
    a = clone(est).fit(X, y).predict(Xt)
    np.testing.assert_array_equal(a, est.fit(X, y).predict(Xt))
    assert a.dtype == np.float64 and a.shape == (9,)
    assert [h.shape for h in est.hidden_representations(Xt)] == [(9, 64), (9, 1), (9, 16)]
    both = ThreeLayerLearner(width1=64, width2=16, stage_fraction=None, random_state=2).fit(X, y)
    assert both.fit_info_["n_stage1"] == both.fit_info_["n_stage2"] == 400
    with pytest.raises(Exception, match="not fitted"):
        ThreeLayerLearner().predict(Xt)


def test_three_layer_resources_grow_with_width_and_n():
    small, big = ThreeLayerLearner(width1=512), ThreeLayerLearner(width1=4096)
    assert big.resources(10000, 32).memory_bytes > small.resources(10000, 32).memory_bytes
    assert big.resources(10000, 32).seconds > small.resources(10000, 32).seconds
    assert small.resources(10**6, 32).memory_bytes > small.resources(10**4, 32).memory_bytes
