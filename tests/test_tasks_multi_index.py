"""Tests of tasks.multi_index: degrees, invariance, shares (generic checks: test_tasks_common)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import make_task
from tasks.diagnostics import (
    gauss_hermite_grid,
    hermite_degree_profile,
    incremental_r2,
    polynomial_r2,
)
from tasks.multi_index import MultiIndexTask


def test_registry_and_validation():
    task = make_task("multi_index", d=16, seed=0, p=2)
    assert task.hierarchy_index == 2.0 and task.level_shares() == [1.0]
    with pytest.raises(ValueError, match="task 'multi_index': parameter 'p'"):
        MultiIndexTask(8, p=1)
    with pytest.raises(ValueError, match="task 'multi_index': parameter 'r'"):
        MultiIndexTask(4, r=5)


def test_invariant_orthogonal_to_U():
    task = MultiIndexTask(16, seed=1, r=3, p=3)
    X, y = task.sample(500, np.random.default_rng(2))
    V = np.random.default_rng(3).standard_normal(X.shape)
    V -= V @ task.U.T @ task.U  # remove the row space of U
    np.testing.assert_allclose(task.target(X + 5 * V), y, rtol=1e-10, atol=1e-10)
    assert not np.allclose(task.target(X + 0.1 * task.U[0]), y)


@pytest.mark.parametrize("p", [2, 3, 4])
def test_degree_exact(p):
    task = MultiIndexTask(4, seed=0, p=p)
    X = task._draw_inputs(3000, np.random.default_rng(4))
    y = task.target(X)
    assert polynomial_r2(X, y, p) > 0.999999
    assert polynomial_r2(X, y, p - 1) < 0.99


def test_level_shares_and_rank():
    task = MultiIndexTask(8, seed=2, r=2, p=4, low_share=0.3)
    X = task._draw_inputs(100_000, np.random.default_rng(5))
    shares = incremental_r2(task.hierarchy(X), task.target(X))
    np.testing.assert_allclose(shares, [0.3, 0.7], atol=0.01)
    assert task.top_share() == pytest.approx(0.7)
    # E[grad^2 f] = U^T diag(sqrt(2) a) U has rank r: every direction has a degree-2 part
    a = task.coef[:task.r]
    assert np.all(np.abs(a) > 0)
    assert np.linalg.matrix_rank(task.U.T @ np.diag(a) @ task.U) == task.r


@pytest.mark.parametrize("kwargs", [{"r": 2, "p": 4}, {"r": 3, "p": 3}, {"r": 2, "p": 2},
                                    {"r": 1, "p": 5, "pure": True}])
def test_exact_moments_by_quadrature(kwargs):
    """In the coordinates z = U x the target is an r-variate polynomial: Gauss-Hermite is exact."""
    task = MultiIndexTask(10, seed=4, **kwargs)
    n = task.p + 1
    Z, w = gauss_hermite_grid(task.r, n)
    y = task.target(Z @ task.U)  # U has orthonormal rows: U (Z U)^T = Z^T
    assert w @ y == pytest.approx(0.0, abs=1e-12)
    assert w @ y**2 == pytest.approx(1.0, abs=1e-12)
    profile = hermite_degree_profile(y, task.r, n)
    degrees = task.level_degrees()
    np.testing.assert_allclose(profile[degrees], task.level_shares() if len(degrees) > 1
                               else [1.0], atol=1e-12)


def test_pure_single_index_option():
    task = MultiIndexTask(8, seed=0, r=1, p=4, pure=True)
    assert task.level_shares() == [1.0] and task.level_degrees() == [4]
    assert task.theory_exponents() == {"non-hierarchical": 4.0, "hierarchical": 3.0}
    X = task._draw_inputs(200, np.random.default_rng(0))
    z = X @ task.U[0]
    np.testing.assert_allclose(np.abs(task.target(X)), np.abs(z**4 - 6 * z**2 + 3) / np.sqrt(24))
