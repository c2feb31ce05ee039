"""Tests of tasks.staircase: exact moments and degrees by enumerating the cube."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.diagnostics import cube_points, incremental_r2, polynomial_r2, walsh_degree_profile
from tasks.staircase import StaircaseTask


@pytest.mark.parametrize("kind", ["staircase", "parity"])
def test_exact_moments_and_degree(kind):
    d, D = 8, 4
    task = StaircaseTask(d, seed=2, D=D, kind=kind)
    P = cube_points(d)
    y = task.target(P)
    assert y.mean() == pytest.approx(0.0, abs=1e-12)
    assert y.var() == pytest.approx(1.0, abs=1e-12)
    profile = walsh_degree_profile(y, d)
    expect = np.zeros(d + 1)
    if kind == "staircase":
        expect[1:D + 1] = 1 / D
    else:
        expect[D] = 1.0
    np.testing.assert_allclose(profile, expect, atol=1e-12)
    assert incremental_r2(task.hierarchy(P), y) == pytest.approx(task.level_shares(), abs=1e-9)


@pytest.mark.parametrize("kind", ["staircase", "parity"])
def test_degree_least_squares(kind):
    task = StaircaseTask(4, seed=0, D=3, kind=kind)
    X = task._draw_inputs(2000, np.random.default_rng(0))
    y = task.target(X)
    assert polynomial_r2(X, y, 3) > 0.999999
    assert polynomial_r2(X, y, 2) < 0.99


def test_staircase_terms_and_weights():
    task = StaircaseTask(10, seed=1, D=3, weights=[3, 2, 1])
    assert len(set(task.support)) == 3 and task.support.max() < 10
    X = task._draw_inputs(100, np.random.default_rng(0))
    s = task.support
    chi = [X[:, s[0]], X[:, s[0]] * X[:, s[1]], X[:, s[0]] * X[:, s[1]] * X[:, s[2]]]
    np.testing.assert_allclose(task.hierarchy(X)[2][:, 0], chi[2])
    w = np.sqrt(np.array([3, 2, 1]) / 6)
    np.testing.assert_allclose(task.target(X), sum(wi * c for wi, c in zip(w, chi, strict=True)))
    assert task.level_shares() == pytest.approx([0.5, 1 / 3, 1 / 6])
    assert set(np.unique(X)) == {-1.0, 1.0}


def test_theory_and_index():
    stair, parity = StaircaseTask(16, D=4), StaircaseTask(16, D=4, kind="parity")
    assert stair.hierarchy_index == 4.0 and stair.leap == 1 and parity.leap == 4
    assert stair.theory_exponents() == {"non-hierarchical": 4.0, "hierarchical": 1.0}
    assert parity.theory_exponents() == {"non-hierarchical": 4.0, "hierarchical": 3.0}
    assert parity.level_shares() == [1.0]


@pytest.mark.parametrize("kwargs,param", [
    ({"D": 0}, "D"), ({"D": 9}, "D"), ({"kind": "x"}, "kind"), ({"weights": [1]}, "weights"),
])
def test_validation(kwargs, param):
    with pytest.raises(ValueError, match=f"task 'staircase': parameter '{param}'"):
        StaircaseTask(8, **kwargs)
