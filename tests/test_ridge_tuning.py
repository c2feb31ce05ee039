"""Ridge selection: the closed-form leave-one-out errors equal brute-force refits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from learners.random_features import RandomFeaturesRegressor
from learners.ridge_tuning import eigh_sym, fit_linear_loo, loo_errors_eigh
from tasks import make_task

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest

REL = np.logspace(-8, 1, 7)


def brute_force_loo(Phi, y, ridges, intercept):
    """Mean squared LOO residual by n refits of scikit-learn's Ridge (the direct solve)."""
    n = len(y)
    out = []
    for a in ridges:
        e = []
        for i in range(n):
            keep = np.arange(n) != i
            m = Ridge(alpha=a, fit_intercept=intercept, solver="svd").fit(Phi[keep], y[keep])
            e.append(y[i] - m.predict(Phi[i:i + 1])[0])
        out.append(np.mean(np.square(e)))
    return np.array(out)


@pytest.mark.parametrize("p", [10, 40, 60])  # fewer, as many (interpolation) and more features
@pytest.mark.parametrize("intercept", [True, False])
def test_linear_loo_equals_refits(p, intercept):
    rng = np.random.default_rng(p)
    n = 40
    Phi = rng.standard_normal((n, p)) + 0.5  # a non-zero mean, so the intercept matters
    y = Phi[:, 0] - Phi[:, 1] ** 2 + 0.3 * rng.standard_normal(n) + 2.0
    Pc = Phi - Phi.mean(0) if intercept else Phi
    ridges = REL * float(np.mean(np.sum(Pc * Pc, 1)))
    w, b, a, j, loo = fit_linear_loo(Phi.copy(), y, REL, intercept)
    ref = brute_force_loo(Phi, y, ridges, intercept)
    np.testing.assert_allclose(loo, ref, rtol=1e-6)
    direct = Ridge(alpha=a, fit_intercept=intercept, solver="svd").fit(Phi, y)
    np.testing.assert_allclose(Phi @ w + b, direct.predict(Phi), rtol=1e-8, atol=1e-8)


def test_kernel_loo_equals_refits():
    """Kernel ridge (no intercept in the hat): (K + a I)^{-1} on n - 1 points, for each point."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 3))
    K = np.exp(-0.5 * np.sum((X[:, None] - X[None]) ** 2, -1))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(30)
    ridges = np.array([1e-6, 1e-3, 1e-1, 1.0])
    w, V = eigh_sym(K)
    loo = loo_errors_eigh(w, V, y, ridges)
    ref = []
    for a in ridges:
        e = []
        for i in range(30):
            k = np.arange(30) != i
            c = np.linalg.solve(K[np.ix_(k, k)] + a * np.eye(29), y[k])
            e.append(y[i] - K[i, k] @ c)
        ref.append(np.mean(np.square(e)))
    np.testing.assert_allclose(loo, ref, rtol=1e-5)


def test_random_features_beat_the_mean_at_small_n():
    """With m = n ReLU features the smallest ridge interpolates; the exact LOO (intercept leverage
    included) must not pick it when it generalises badly.  Without the 1/n leverage the tuned
    readout scored normalised test errors of 33, 2.3 and 3195 on these three teachers."""
    errs = []
    for seed in range(3):
        task = make_task("multi_index", d=8, seed=seed, p=2, r=2, low_share=0.5)
        rng = np.random.default_rng(seed)
        X, y = task.sample(64, rng)
        Xt = task.sample(4000, rng)[0]
        ft = task.target(Xt)
        est = RandomFeaturesRegressor(random_state=seed).fit(X, y)
        errs.append(np.mean((est.predict(Xt) - ft) ** 2) / np.var(ft))
    assert max(errs) < 1.0, errs
