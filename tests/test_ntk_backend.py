"""Native NTK/NNGP kernels against neural-tangents' stax (optional extra ``hierbench[ntk]``)."""

from __future__ import annotations

import numpy as np
import pytest

from learners.ntk import NNGPRegressor, NTKKernel, NTKRegressor

pytestmark = pytest.mark.ntk_backend
pytest.importorskip("neural_tangents", exc_type=ImportError)


@pytest.mark.parametrize("activation", ["relu", "erf", "quadratic"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_native_matches_neural_tangents(kind, depth, activation):
    rng = np.random.default_rng(depth)
    X, Z = rng.standard_normal((7, 5)), rng.standard_normal((4, 5))
    native = NTKKernel(kind, depth, activation, 1.3, 0.2)
    ref = NTKKernel(kind, depth, activation, 1.3, 0.2, backend="neural-tangents")
    a, b = native(X, Z), ref(X, Z)
    assert np.max(np.abs(a - b)) <= 1e-6 * np.max(np.abs(b))


def test_regressor_with_neural_tangents_backend_equals_native():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(120)
    for cls in (NTKRegressor, NNGPRegressor):
        p = cls(depth=2, alpha=0.1).fit(X, y).predict(X[:10])
        q = cls(depth=2, alpha=0.1, backend="neural-tangents").fit(X, y).predict(X[:10])
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-9)
