"""Tests of tasks.hier_poly: exact normalisation and shares, degrees, the quadratic option."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.diagnostics import (
    gauss_hermite_grid,
    hermite_degree_profile,
    incremental_r2,
    incremental_r2_se,
    polynomial_r2,
)
from tasks.hier_poly import HierPolyTask


@pytest.mark.parametrize("k,q", [(1, 3), (2, 2), (3, 2), (2, 3)])
def test_exact_moments_by_quadrature(k, q):
    """With width 2, p depends on two directions: a 2-d Gauss-Hermite rule is exact.

    (Changed on purpose: low_share is now the energy at degrees <= k, no longer Corr(h, p)^2,
    which ``linear_share()`` still reports; 0.5 because width 2 cannot reach E_top = 0.7 at
    k = q = 2.)
    """
    task = HierPolyTask(6, seed=k + q, k=k, q=q, width=2, low_share=0.5)
    n = k * q + 1
    U, w = gauss_hermite_grid(2, n)
    X = U @ task.R  # rows of R are orthonormal: inner coordinates of X are U
    y = task.target(X)
    assert w @ y == pytest.approx(0.0, abs=1e-10)
    assert w @ y**2 == pytest.approx(1.0, abs=1e-10)
    p = task.hierarchy(X)[0][:, 0]
    assert (w @ (p * y)) ** 2 == pytest.approx(task.linear_share(), abs=1e-10)
    profile = hermite_degree_profile(y, 2, n)
    assert profile[: k + 1].sum() == pytest.approx(task.level_shares()[0], abs=1e-10)
    assert task.level_shares()[0] == pytest.approx(0.5, abs=1e-10)
    assert profile[k * q] > 1e-6 and profile[k * q + 1:].sum() < 1e-20  # degree exactly k q


@pytest.mark.parametrize("k,q", [(1, 3), (2, 2), (3, 2)])
def test_degree_least_squares(k, q):
    task = HierPolyTask(4 if k * q <= 4 else 3, seed=0, k=k, q=q)
    X = task._draw_inputs(3000, np.random.default_rng(1))
    y = task.target(X)
    assert polynomial_r2(X, y, k * q) > 0.999999
    assert polynomial_r2(X, y, k * q - 1) < 0.99
    p = task.inner(X)
    assert polynomial_r2(X, p, k) > 0.999999
    assert polynomial_r2(X, p, k - 1) < 0.99


@pytest.mark.parametrize("d", [8, 32])
def test_monte_carlo_linear_share(d):
    """Corr(h, p)^2 (what a fit on p explains) within Monte Carlo error of the exact value.

    (Changed on purpose: level_shares() are now degree energies, tested in test_tasks_energy.)
    """
    task = HierPolyTask(d, seed=5, k=2, q=3, low_share=0.4)
    X, y = task.sample(100_000, np.random.default_rng(2))
    shares, se = incremental_r2_se(task.hierarchy(X)[:1], y)
    assert abs(shares[0] - task.linear_share()) < 4 * se[0] + 1e-3


def test_quadratic_feature_is_normalised_quadratic_form():
    task = HierPolyTask(10, seed=1, p_kind="quadratic")
    A = task.R.T @ np.diag(task.lam) @ task.R  # p = (x^T A x - tr A) / sqrt(2 ||A||_F^2)
    X = task._draw_inputs(200, np.random.default_rng(0))
    expect = (np.einsum("ni,ij,nj->n", X, A, X) - np.trace(A)) / np.sqrt(2 * np.sum(A**2))
    np.testing.assert_allclose(task.inner(X), expect, rtol=1e-10, atol=1e-10)
    assert np.linalg.matrix_rank(A) == 10


def test_explicit_link_and_interface():
    task = HierPolyTask(8, seed=0, k=2, q=3, g_coef=[0.0, 0.0, 1.0])  # pure h_3(p)
    assert task.degree == 6 and task.hierarchy_index == 6.0
    assert task.theory_exponents() == {"non-hierarchical": 6.0, "layerwise": 2.0,
                                       "hierarchical": 2.0}
    X = task._draw_inputs(1000, np.random.default_rng(0))
    levels = task.hierarchy(X)
    np.testing.assert_allclose(levels[1][:, 0], task.target(X))
    assert incremental_r2(levels[:1], task.target(X))[0] < 0.2


@pytest.mark.parametrize("kwargs,param", [
    ({"k": 0}, "k"), ({"q": 1}, "q"), ({"width": 99}, "width"), ({"p_kind": "x"}, "p_kind"),
    ({"low_share": 1.0}, "low_share"), ({"g_coef": [1.0]}, "g_coef"),
])
def test_validation(kwargs, param):
    with pytest.raises(ValueError, match=f"hier_poly: {param}"):
        HierPolyTask(8, **kwargs)


def test_degree_parameter_indexes_the_family():
    a, b = HierPolyTask(8, k=2, degree=6), HierPolyTask(8, k=2, q=3)
    assert a.q == 3 and a.hierarchy_index == 6.0 and HierPolyTask.index_param == "degree"
    X = a._draw_inputs(50, np.random.default_rng(0))
    np.testing.assert_array_equal(a.target(X), b.target(X))
    for bad in ({"k": 2, "degree": 5}, {"k": 2, "q": 2, "degree": 6}):
        with pytest.raises(ValueError, match="hier_poly: degree"):
            HierPolyTask(8, **bad)
