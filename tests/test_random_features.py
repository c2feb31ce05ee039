"""random_features: the feature maps converge to their kernels; the tuned readout learns."""

from __future__ import annotations

import numpy as np
import pytest

from learners import make_learner
from learners.kernels import Kernel
from learners.ntk import NTKKernel
from learners.random_features import RandomFeaturesRegressor

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _fitted(features, m, X, s, b_std=0.5):
    est = RandomFeaturesRegressor(features=features, n_features=m, bandwidth=s, b_std=b_std,
                                  random_state=0)
    return est.fit(X, np.zeros(X.shape[0]))


def test_fourier_features_converge_to_rbf():
    X = np.random.default_rng(0).standard_normal((30, 4))
    errs = []
    for m in (1000, 16000):
        P = _fitted("fourier", m, X, 2.0).featurize(X)
        errs.append(np.max(np.abs(P @ P.T - Kernel("rbf", 2.0)(X))))
    assert errs[1] < 0.05 and errs[1] < errs[0] / 2  # ~ 1 / sqrt(m)


def test_relu_features_converge_to_one_layer_nngp():
    """phi.phi -> E[relu(u) relu(v)], u = w.x / (s sqrt d) + b g: the depth-1 NNGP with w_std = 1,
    b_std = b on inputs x / s, less the output layer's bias b^2."""
    X = np.random.default_rng(1).standard_normal((30, 4))
    P = _fitted("relu", 40000, X, 1.3, b_std=0.5).featurize(X)
    ref = NTKKernel("nngp", 1, "relu", 1.0, 0.5, bandwidth=1.3)(X) - 0.5**2
    assert np.max(np.abs(P @ P.T - ref)) <= 0.03 * np.max(ref)


@pytest.mark.parametrize("features", ["relu", "fourier"])
def test_readout_learns_and_is_deterministic(features):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((800, 5))
    f = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] / 2
    y = f + 0.1 * rng.standard_normal(800)
    Xt = rng.standard_normal((500, 5))
    ft = np.sin(Xt[:, 0]) + Xt[:, 1] * Xt[:, 2] / 2
    a = make_learner("random_features", features=features, n_features=400, random_state=5)
    b = make_learner("random_features", features=features, n_features=400, random_state=5)
    pa, pb = a.fit(X, y).predict(Xt), b.fit(X, y).predict(Xt)
    np.testing.assert_array_equal(pa, pb)
    assert np.mean((pa - ft) ** 2) / ft.var() < 0.35
    assert a.fit_info_["m"] == 400 and a.family == "non-hierarchical"
    c = make_learner("random_features", features=features, n_features=400, random_state=6)
    assert not np.array_equal(c.fit(X, y).predict(Xt), pa)  # the seed draws the features


def test_more_features_than_samples_uses_the_dual_and_matches_kernel_ridge():
    """m > n: the readout is solved through Phi Phi^T; with a fixed ridge it equals KRR on the
    feature kernel."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(150)
    est = RandomFeaturesRegressor("fourier", n_features=600, bandwidth=1.5, alpha_grid=[1e-3],
                                  random_state=0).fit(X, y)
    mu = est.featurize(X).mean(0)
    P, Pt = est.featurize(X) - mu, est.featurize(X[:20] + 0.3) - mu  # centred: free intercept
    c = np.linalg.solve(P @ P.T + est.alpha_ * np.eye(150), y - y.mean())
    np.testing.assert_allclose(est.predict(X[:20] + 0.3), Pt @ P.T @ c + y.mean(), rtol=1e-7,
                               atol=1e-9)


def test_resources_grow_with_width():
    est = RandomFeaturesRegressor(n_features=1000)
    small, big = est.resources(2000, 10), est.resources(20000, 10)
    assert 8 * 20000 * 1000 <= big.memory_bytes and small.memory_bytes < big.memory_bytes
