"""Tests of tasks.bfc: degrees per level, calibrated shares, full-rank level 1, options."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.bfc import BFCTask
from tasks.diagnostics import (
    gauss_hermite_grid,
    hermite_degree_profile,
    polynomial_r2,
)


def test_level_degrees_least_squares():
    """At d = 4, L = 2: degree-2^l monomials fit level l exactly, one degree less does not."""
    task = BFCTask(4, seed=0, L=2)
    X = task._draw_inputs(3000, np.random.default_rng(0))
    levels, y = task.hierarchy(X), task.target(X)
    for l, F in enumerate(levels, start=1):
        for i in range(task.k):
            assert polynomial_r2(X, F[:, i], 2**l) > 0.999999
            assert polynomial_r2(X, F[:, i], 2**l - 1) < 0.99
    assert polynomial_r2(X, y, 4) > 0.999999
    assert polynomial_r2(X, y, 3) < 0.99


@pytest.mark.parametrize("L", [2, 3, 4])
def test_degree_profile_exact(L):
    """Exact Hermite degree profile (quadrature): y has degree exactly 2^L, mean 0, variance 1."""
    d, n = 3, 2**L + 1
    task = BFCTask(d, seed=1, L=L)
    assert task.exact  # small grid: calibrated by quadrature
    U, w = gauss_hermite_grid(d, n)
    y = task.target(U @ task.R)  # grid points in the rotated coordinates u = R x
    profile = hermite_degree_profile(y, d, n)
    assert profile[0] < 1e-20 and profile.sum() == pytest.approx(1.0, abs=1e-10)
    assert profile[2**L] > 1e-8  # the top degree is present ...
    assert profile[2**L + 1:].sum() < 1e-20  # ... and nothing above it


def test_band_shares_are_the_requested_ones_under_quadrature():
    """Population energies per degree band (finer grid) equal the requested shares exactly.

    (Changed on purpose: the shares were R^2 increments of the level features; they are now the
    energy of y in the degree bands (2^(l-1), 2^l], the last one E_top.)
    """
    task = BFCTask(4, seed=2, L=3, gap=0.4)
    U, w = gauss_hermite_grid(4, 10)
    profile = hermite_degree_profile(task.target(U @ task.R), 4, 10)
    bands = [profile[:3].sum(), profile[3:5].sum(), profile[5:].sum()]
    np.testing.assert_allclose(bands, task.requested_shares, atol=1e-10)
    np.testing.assert_allclose(task.level_shares(), task.requested_shares, atol=1e-12)
    assert task.top_share() == pytest.approx(task.requested_shares[-1], abs=1e-12)
    assert task.info()["energy_method"] == "exact" and task.info()["top_share_se"] == 0.0


def test_level_one_is_full_rank_quadratic_forms():
    d, k = 8, 3
    task = BFCTask(d, seed=4, L=2, k=k)
    A = task.level1_forms()
    assert A.shape == (k, d, d)
    for Ai in A:
        assert np.linalg.matrix_rank(Ai) == d  # not a function of a k-dim projection of x
    X = task._draw_inputs(50, np.random.default_rng(0))
    forms = np.einsum("nb,ibc,nc->ni", X, A, X) - np.trace(A, axis1=1, axis2=2)
    np.testing.assert_allclose(forms, task.hierarchy(X)[0], rtol=1e-10, atol=1e-10)


def test_fixed_alpha_shares_vary_between_teachers():
    tops = [BFCTask(16, seed=s, L=2, fixed_alpha=True, n_ref=4000).top_share() for s in range(5)]
    assert max(tops) > 1.3 * min(tops)
    calibrated = [BFCTask(16, seed=s, L=2, n_ref=4000).top_share() for s in range(5)]
    np.testing.assert_allclose(calibrated, 0.2, atol=1e-9)


def test_explicit_shares_and_connections():
    task = BFCTask(4, seed=0, L=3, shares=[1, 1, 2], connections=[[1], [0, 1, 2]])
    np.testing.assert_allclose(task.level_shares(), [0.25, 0.25, 0.5], atol=1e-9)
    assert task.connections == [[1], [0, 1, 2]] and task.feasible
    assert sorted(task.W[3]) == [0, 1, 2]
    assert task.theory_exponents() == {"non-hierarchical": 8.0}


@pytest.mark.parametrize("kwargs,param", [
    ({"L": 1}, "L"), ({"k": 0}, "k"), ({"gap": 1.0}, "gap"), ({"shares": [1, 2]}, "shares"),
    ({"connections": [[0]]}, "connections"), ({"n_ref": 10}, "n_ref"),
])
def test_validation(kwargs, param):
    with pytest.raises(ValueError, match=f"task 'bfc': parameter '{param}'"):
        BFCTask(8, **kwargs)
