"""Tests of ``two_layer``: Damian et al.'s one-step algorithm and plain two-layer SGD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import task_data
from sklearn.base import clone

from learners import make_learner
from learners.two_layer import TwoLayerLearner, ridge_loo

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _data(d=16, n=2000, n_test=4000, p=2, seed=0):
    return task_data("multi_index", d, n, n_test, seed, p=p)


def _err(f, y):
    return float(np.mean((f - y) ** 2) / np.var(y))


def test_ridge_loo_matches_brute_force_leave_one_out():
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((40, 6))
    y = Phi @ rng.standard_normal(6) + 0.3 * rng.standard_normal(40) + 2.0
    P, yt = torch.tensor(Phi), torch.tensor(y)
    a, c, lam, scores = ridge_loo(P, yt, (1e-3, 1e-1))
    for t, score in scores.items():
        lam_t = float(t) * float(torch.linalg.eigvalsh(
            (P - P.mean(0)).T @ (P - P.mean(0))).mean())
        errs = []
        for i in range(40):
            keep = np.arange(40) != i
            A, b = Phi[keep], y[keep]
            mu, yb = A.mean(0), b.mean()
            w = np.linalg.solve((A - mu).T @ (A - mu) + lam_t * np.eye(6), (A - mu).T @ (b - yb))
            errs.append((y[i] - (yb + (Phi[i] - mu) @ w)) ** 2)
        assert score == pytest.approx(np.mean(errs), rel=1e-8)
    best = min(scores, key=scores.get)
    mu, yb = Phi.mean(0), y.mean()
    w = np.linalg.solve((Phi - mu).T @ (Phi - mu) + lam * np.eye(6), (Phi - mu).T @ (y - yb))
    np.testing.assert_allclose(a.numpy(), w, rtol=1e-8)
    assert c == pytest.approx(yb - mu @ w) and lam > 0 and best in scores


def test_one_step_learns_principal_subspace_and_degree2_target():
    task, X, y, Xt, yt = _data()
    est = TwoLayerLearner(width=512, device="cpu", random_state=0).fit(X, y)
    assert _err(est.predict(Xt), yt) < 0.05
    W = est.first_layer_()
    m = W.shape[0] // 2
    np.testing.assert_allclose(W[m:], -W[:m])
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0)
    in_span = np.mean(np.sum((W @ task.U.T) ** 2, axis=1))  # random directions: r / d = 0.125
    assert in_span > 0.6, in_span
    info = est.fit_info_
    assert info["n_step"] + info["n_ridge"] == 2000 and info["variant"] == "one_step"


def test_one_step_without_split_uses_all_samples_for_both_phases():
    _, X, y, _, _ = _data(d=6, n=300)
    est = TwoLayerLearner(width=64, step_fraction=None, random_state=0).fit(X, y)
    assert est.fit_info_["n_step"] == est.fit_info_["n_ridge"] == 300


def test_sgd_variant_and_conventions():
    _, X, y, Xt, yt = _data(d=8, n=1500, n_test=2000)
    est = make_learner("two_layer", variant="sgd", width=64, max_steps=600, random_state=1)
    assert est.family == "hierarchical" and est.uses_gpu
    a = clone(est).fit(X, y).predict(Xt)
    b = est.fit(X, y).predict(Xt)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float64 and _err(a, yt) < 0.5
    assert est.fit_info_["variant"] == "sgd" and est.fit_info_["n_params"] == 8 * 64 + 64 + 65
    one = TwoLayerLearner(width=32, random_state=1)
    np.testing.assert_array_equal(one.fit(X, y).predict(Xt),
                                  clone(one).fit(X, y).predict(Xt))
    with pytest.raises(ValueError, match="variant"):
        TwoLayerLearner(variant="two_step").fit(X, y)


def test_two_layer_resources():
    small, big = TwoLayerLearner(width=128), TwoLayerLearner(width=2048)
    assert big.resources(10000, 64).memory_bytes > small.resources(10000, 64).memory_bytes
    assert big.resources(10000, 64).seconds > small.resources(10000, 64).seconds
    assert TwoLayerLearner(variant="sgd").resources(1000, 8).seconds > 0
