"""Tests of the shared helpers: Hermite polynomials, random rotations, LSQ diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.diagnostics import (
    cube_points,
    gauss_hermite_grid,
    hermite_degree_profile,
    incremental_r2,
    incremental_r2_lstsq,
    walsh_degree_profile,
)
from tasks.hermite import (
    hermite_coefficients,
    hermite_e,
    hermite_norm,
    hermite_table,
    random_orthonormal_rows,
)


def test_hermite_matches_numpy_and_is_orthonormal():
    z = np.linspace(-3, 3, 13)
    for n in range(8):
        unit = np.zeros(n + 1)
        unit[n] = 1
        np.testing.assert_allclose(hermite_e(n, z), np.polynomial.hermite_e.hermeval(z, unit),
                                   rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(np.polynomial.polynomial.polyval(z, hermite_coefficients(n)),
                                   hermite_norm(n, z), rtol=1e-12, atol=1e-9)
    x, w = gauss_hermite_grid(1, 12)
    H = hermite_table(x[:, 0], 7)
    np.testing.assert_allclose(H.T @ (w[:, None] * H), np.eye(8), atol=1e-12)
    np.testing.assert_allclose(H[:, 5], hermite_norm(5, x[:, 0]), rtol=1e-12)


def test_random_orthonormal_rows():
    U = random_orthonormal_rows(3, 7, np.random.default_rng(0))
    np.testing.assert_allclose(U @ U.T, np.eye(3), atol=1e-12)
    with pytest.raises(ValueError):
        random_orthonormal_rows(8, 7, np.random.default_rng(0))


def test_degree_profiles_on_known_polynomials():
    X, _ = gauss_hermite_grid(2, 5)
    f = 2 * X[:, 0] + X[:, 0] * X[:, 1] + (X[:, 1] ** 3 - 3 * X[:, 1]) / np.sqrt(6) + 1
    np.testing.assert_allclose(hermite_degree_profile(f, 2, 5)[:5], [1, 4, 1, 1, 0], atol=1e-12)
    P = cube_points(4)
    g = P[:, 0] - 2 * P[:, 1] * P[:, 2] * P[:, 3]
    np.testing.assert_allclose(walsh_degree_profile(g, 4), [0, 1, 0, 4, 0], atol=1e-12)


def test_fast_incremental_r2_matches_least_squares():
    rng = np.random.default_rng(0)
    F1, F2 = rng.standard_normal((500, 3)), rng.standard_normal((500, 2))
    y = F1 @ [1, 0.5, 0] + F2[:, 0] * 0.3 + np.tanh(F1[:, 0] * F2[:, 1]) + 0.1
    np.testing.assert_allclose(incremental_r2([F1, F2], y), incremental_r2_lstsq([F1, F2], y),
                               atol=1e-9)


def _random_polyvec(codec, rng, k=3):
    """k random polynomials with He_1, He_2 terms in every coordinate and a constant."""
    from tasks.hermite_algebra import PolyVec

    d = codec.d
    keys = np.concatenate([codec.univariate(np.arange(d), np.full(d, 1)),
                           codec.univariate(np.arange(d), np.full(d, 2)), [0]])
    return PolyVec.from_terms(codec, keys, rng.standard_normal((k, keys.size)))


def test_hermite_algebra_products_match_pointwise_evaluation():
    from tasks.hermite_algebra import Codec

    rng = np.random.default_rng(0)
    codec = Codec(5, 8, 4)
    P = _random_polyvec(codec, rng)
    U = rng.standard_normal((20, 5))
    v = P.evaluate(U)
    sq = P.squares()
    np.testing.assert_allclose(sq.evaluate(U), v**2, rtol=1e-10, atol=1e-10)
    quartic = sq.squares()
    np.testing.assert_allclose(quartic.evaluate(U), v**4, rtol=1e-9, atol=1e-9)
    mixed = sq.times(P.combine(np.eye(3)[:1]))  # f_i^2 * f_0
    np.testing.assert_allclose(mixed.evaluate(U), v**2 * v[:, :1], rtol=1e-10, atol=1e-10)
    coords, degs = codec.unpack(quartic.keys)
    np.testing.assert_array_equal(codec.pack(coords, degs), quartic.keys)


def test_hermite_algebra_moments_match_quadrature():
    """Mean, energy per degree and Gram matrices against a tensor Gauss-Hermite rule (d = 3)."""
    from tasks.hermite_algebra import Codec

    rng = np.random.default_rng(1)
    codec = Codec(3, 8, 3)
    quartic = _random_polyvec(codec, rng).squares().squares()  # degree 8
    U, w = gauss_hermite_grid(3, 9)
    vals = quartic.evaluate(U)
    np.testing.assert_allclose(quartic.mean(), w @ vals, rtol=1e-10)
    for i in range(3):
        profile = hermite_degree_profile(vals[:, i], 3, 9)
        np.testing.assert_allclose(quartic.energy_by_degree(8)[i], profile[:9],
                                   rtol=1e-9, atol=1e-9 * profile.sum())
    gram = quartic.gram_by_degree(8).sum(axis=0)
    np.testing.assert_allclose(gram, vals.T @ (vals * w[:, None]), rtol=1e-9)
