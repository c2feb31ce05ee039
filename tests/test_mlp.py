"""Tests of the ``mlp`` learner: accuracy on a degree-2 target, sklearn conventions, hooks."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.base import clone

from learners import make_learner
from learners.mlp import MLPLearner
from tasks import make_task

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _data(d=16, n=4000, n_test=4000, seed=0, p=2):
    task = make_task("multi_index", d=d, seed=seed, p=p)
    X, y = task.sample(n, np.random.default_rng(seed + 10))
    Xt = task.sample(n_test, np.random.default_rng(seed + 20))[0]
    return X, y, Xt, task.target(Xt)


def _err(f, y):
    return float(np.mean((f - y) ** 2) / np.var(y))


def test_mlp_learns_degree2_multi_index_fast():
    X, y, Xt, yt = _data()
    t0 = time.process_time()
    est = MLPLearner(device="cpu", random_state=0).fit(X, y)
    cpu = time.process_time() - t0  # CPU seconds on one thread: robust to a loaded machine
    err = _err(est.predict(Xt), yt)
    assert err < 0.1, (err, est.fit_info_)
    assert cpu < 60, cpu
    info = est.fit_info_
    assert info["n_train"] + info["n_val"] == 4000
    assert info["lr"] in (1e-3, 3e-3) and info["retries"] == 0
    assert 0 < info["best_step"] <= info["steps_run"] <= 3000


def test_mlp_registry_clone_and_predict_dtype():
    est = make_learner("mlp", width=8, depth=2, max_steps=20, lr_grid=(1e-2,), random_state=3)
    assert isinstance(est, MLPLearner) and est.family == "hierarchical" and est.uses_gpu
    c = clone(est)
    assert c.get_params() == est.get_params()
    X, y, Xt, _ = _data(d=5, n=100, n_test=7)
    pred = c.fit(X, y).predict(Xt)
    assert pred.dtype == np.float64 and pred.shape == (7,)
    assert not hasattr(est, "model_")


def test_mlp_same_seed_same_predictions_other_seed_differs():
    X, y, Xt, _ = _data(d=6, n=300, n_test=50)
    kw = dict(width=16, depth=2, max_steps=60, lr_grid=(1e-3, 1e-2), device="cpu")
    a = MLPLearner(random_state=7, **kw).fit(X, y).predict(Xt)
    b = MLPLearner(random_state=7, **kw).fit(X, y).predict(Xt)
    c = MLPLearner(random_state=8, **kw).fit(X, y).predict(Xt)
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(a - c)) > 1e-6


@pytest.mark.parametrize("activation,residual", [("quadratic", False), ("gelu", True)])
def test_mlp_hidden_representations_and_callback(activation, residual):
    X, y, Xt, _ = _data(d=6, n=200, n_test=9)
    seen = []

    def probe(step, model):
        seen.append((step, [h.shape for h in model.hidden_representations(Xt)]))

    est = MLPLearner(width=12, depth=3, activation=activation, residual=residual, max_steps=40,
                     lr_grid=(1e-3,), callback=probe, callback_every=10, random_state=0)
    est.fit(X, y)
    hs = est.hidden_representations(Xt)
    assert [h.shape for h in hs] == [(9, 12)] * 3
    assert all(h.dtype == np.float64 and np.isfinite(h).all() for h in hs)
    assert [s for s, _ in seen] == [10, 20, 30, 40][: len(seen)] and len(seen) >= 1
    assert seen[0][1] == [(9, 12)] * 3


def test_mlp_resources_grow_with_n_and_width():
    small = MLPLearner(width=64).resources(1000, 16)
    big_n = MLPLearner(width=64).resources(100000, 16)
    wide = MLPLearner(width=1024).resources(1000, 16)
    assert big_n.memory_bytes > small.memory_bytes
    assert wide.memory_bytes > small.memory_bytes and wide.seconds > small.seconds
