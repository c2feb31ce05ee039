"""poly_features: feature count, Hermite orthonormality, exact recovery, memory refusal."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

from learners import make_learner
from learners.poly_features import PolyFeaturesRegressor, n_poly_features, poly_features

PLUGINS = Path(__file__).parent / "plugins"

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def test_feature_count_and_monomials():
    X = np.array([[2.0, 3.0]])
    P = poly_features(X, 2, "monomial")
    assert P.shape[1] == n_poly_features(2, 2) == 5
    np.testing.assert_allclose(P[0], [2, 3, 4, 6, 9])  # x1, x2, x1^2, x1 x2, x2^2
    assert n_poly_features(32, 3) == math.comb(35, 3) - 1


def test_hermite_features_are_orthonormal_under_gaussian_inputs():
    """Exact Gauss-Hermite quadrature on a 2-d tensor grid (degree <= 4 products integrate
    exactly with 5 nodes per axis)."""
    t, w = hermegauss(5)
    w = w / w.sum()
    X = np.array([[a, b] for a in t for b in t])
    W = np.array([u * v for u in w for v in w])
    P = poly_features(X, 2, "hermite")
    G = P.T @ (W[:, None] * P)
    np.testing.assert_allclose(G, np.eye(P.shape[1]), atol=1e-12)


@pytest.mark.parametrize("basis", ["hermite", "monomial"])
def test_recovers_a_degree_q_polynomial(basis):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 4))
    f = X[:, 0] * X[:, 1] * X[:, 2] - 2 * X[:, 3] ** 2 + X[:, 1]
    y = f + 0.01 * rng.standard_normal(600)
    Xt = rng.standard_normal((500, 4))
    ft = Xt[:, 0] * Xt[:, 1] * Xt[:, 2] - 2 * Xt[:, 3] ** 2 + Xt[:, 1]
    for q, ok in ((3, True), (2, False)):
        est = make_learner("poly_features", degree=q, basis=basis).fit(X, y)
        err = np.mean((est.predict(Xt) - ft) ** 2) / ft.var()
        assert (err < 1e-3) == ok, (q, err)
    assert est.family == "non-hierarchical" and est.fit_info_["p"] == n_poly_features(4, 2)


def test_refuses_what_does_not_fit_and_says_so_in_resources():
    est = PolyFeaturesRegressor(degree=4, memory_limit_gb=0.05)
    res = est.resources(5000, 30)
    assert res.memory_bytes > 0.05 * 2**30
    with pytest.raises(MemoryError, match="p=46375"):
        est.fit(np.zeros((5000, 30)), np.zeros(5000))


def _job(learner_params, task_params, d=4, n=400):
    from harness.experiment import Job

    return Job(task="multi_index", task_label="mi", task_params=task_params, d=d,
               learner="poly_features", label="poly", learner_params=learner_params, n=n,
               seed=0, n_test=500)


@pytest.mark.parametrize("p", [2, 3])
def test_degree_task_follows_the_task_degree_in_a_job(p):
    """degree = "task" becomes the task's degree (multi_index: p): a noiseless degree-p target
    is then recovered exactly, and fit_info records the degree used."""
    from harness.run import run_job

    rec = run_job(_job({"degree": "task"}, {"r": 1, "p": p, "pure": True}))
    assert rec.status == "ok", rec.reason
    assert rec.fit_info["degree"] == p and rec.test_error < 1e-6
    assert rec.learner_params == {"degree": "task"}  # the job's identity is unchanged


def test_degree_task_without_a_task_degree_fails_in_one_line():
    from types import SimpleNamespace

    from harness.experiment import resolve_task_values
    from registry import load_plugin_file

    load_plugin_file(PLUGINS / "linear_task.py")  # a plugin task that declares no degree
    no_degree = SimpleNamespace(degree=None, info=lambda: {})
    with pytest.raises(ValueError) as info:
        resolve_task_values("poly_features", {"degree": "task"}, "linear", 4, {}, no_degree)
    msg = str(info.value)
    assert msg == ("learner 'poly_features': parameter 'degree' = 'task' needs the task's "
                   "polynomial degree, but task 'linear' has none")
    with_degree = SimpleNamespace(degree=6, info=lambda: {})  # a built plugin task's degree
    assert resolve_task_values("poly_features", {"degree": "task", "basis": "hermite"},
                               "linear", 4, {}, with_degree) == {"degree": 6, "basis": "hermite"}
    # a built-in task answers from its parameters (bfc: 2^L), whatever task object is passed
    assert resolve_task_values("poly_features", {"degree": "task"}, "bfc", 4, {"L": 2},
                               no_degree) == {"degree": 4}


def test_bad_values_fail_in_one_line_and_unresolved_task_degree_is_refused():
    X = np.zeros((10, 2))
    for key, value in (("degree", 0), ("degree", "auto"), ("basis", "legendre")):
        with pytest.raises(ValueError) as info:
            PolyFeaturesRegressor(**{key: value}).fit(X, X[:, 0])
        msg = str(info.value)
        assert "\n" not in msg and "PolyFeaturesRegressor" in msg and repr(key) in msg
    with pytest.raises(ValueError, match="'task' was not resolved"):
        PolyFeaturesRegressor(degree="task").fit(X, X[:, 0])
    assert PolyFeaturesRegressor(degree="task").resources(100, 4).seconds is None
