"""krr: exactness against scikit-learn, tuning quality, determinism, resource model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from learners import make_learner
from learners.kernel_ridge import KernelRidgeLearner


def _data(n, d, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] / 2 + noise * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("kernel,sk_kw", [
    ("rbf", {"kernel": "rbf", "gamma": 1 / (2 * 3.0**2)}),
    ("polynomial", {"kernel": "polynomial", "gamma": 1 / 3.0**2, "coef0": 1.0, "degree": 3}),
])
def test_fixed_ridge_equals_sklearn(kernel, sk_kw):
    X, y = _data(600, 8)
    Xt, _ = _data(200, 8, seed=1)
    ours = KernelRidgeLearner(kernel=kernel, bandwidth=3.0, alpha=0.05, fit_intercept=False,
                              dtype="float64",
                              degree=3).fit(X, y)
    ref = KernelRidge(alpha=0.05, **sk_kw).fit(X, y)
    p, q = ours.predict(Xt), ref.predict(Xt)
    assert np.max(np.abs(p - q)) <= 1e-6 * np.max(np.abs(q))
    np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=1e-6, atol=1e-9)


def test_registry_and_determinism():
    X, y = _data(400, 5)
    a = make_learner("krr", random_state=3).fit(X, y)
    b = make_learner("krr", random_state=3).fit(X, y)
    assert a.family == "non-hierarchical"
    assert a.fit_info_ == {**b.fit_info_, "fit_seconds": a.fit_info_["fit_seconds"]}
    np.testing.assert_array_equal(a.predict(X[:50]), b.predict(X[:50]))
