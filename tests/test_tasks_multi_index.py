"""Tests of tasks.multi_index: degrees, invariance, shares (generic checks: test_tasks_common)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import make_task
from tasks.diagnostics import incremental_r2, polynomial_r2
from tasks.multi_index import MultiIndexTask


def test_registry_and_validation():
    task = make_task("multi_index", d=16, seed=0, p=2)
    assert task.hierarchy_index == 2.0 and task.level_shares() == [1.0]
    with pytest.raises(ValueError, match="multi_index: p"):
        MultiIndexTask(8, p=1)
    with pytest.raises(ValueError, match="multi_index: r"):
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
