"""Energies by degree of every task: against an independent quadrature (or the cube enumerated)
and against 1 - R^2 of a least-squares polynomial fit of degree q_low on many samples."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import bfc as bfc_module
from tasks.bfc import BFCTask
from tasks.diagnostics import (
    cube_points,
    gauss_hermite_grid,
    hermite_degree_profile,
    monomial_features,
    walsh_degree_profile,
)
from tasks.hier_poly import HierPolyTask
from tasks.multi_index import MultiIndexTask
from tasks.staircase import StaircaseTask


@pytest.mark.parametrize("d,L,seed", [(3, 2, 0), (4, 2, 1), (3, 3, 2), (4, 3, 0)])
def test_bfc_energies_match_tensor_quadrature(d, L, seed):
    """Tensor Gauss-Hermite rule in u = R x (2^L + 1 nodes per axis, exact for degree 2^L)."""
    task = BFCTask(d, seed=seed, L=L, k=3, gap=0.7)
    n = 2**L + 1
    U, w = gauss_hermite_grid(d, n)
    y = task.target(U @ task.R)
    profile = hermite_degree_profile(y, d, n)
    energy = task.energy_by_degree()
    assert energy.shape == (2**L + 1,) and task.info()["energy_method"] == "exact"
    np.testing.assert_allclose(profile[: 2**L + 1], energy, atol=1e-10)
    assert profile[2**L + 1:].sum() < 1e-12
    assert w @ y == pytest.approx(0.0, abs=1e-10) and w @ y**2 == pytest.approx(1.0, abs=1e-10)
    assert task.q_low == 2 ** (L - 1)
    assert task.top_share() == pytest.approx(profile[task.q_low + 1:].sum(), abs=1e-10)


@pytest.mark.parametrize("kwargs", [{"r": 2, "p": 3}, {"r": 2, "p": 4}, {"r": 3, "p": 2},
                                    {"r": 1, "p": 5, "pure": True}])
def test_multi_index_energies_match_quadrature(kwargs):
    task = MultiIndexTask(9, seed=3, **kwargs)
    n = task.p + 1
    Z, _ = gauss_hermite_grid(task.r, n)
    profile = hermite_degree_profile(task.target(Z @ task.U), task.r, n)
    np.testing.assert_allclose(profile[: task.p + 1], task.energy_by_degree(), atol=1e-10)
    assert task.top_share() == pytest.approx(profile[task.q_low + 1:].sum(), abs=1e-10)


@pytest.mark.parametrize("k,q", [(1, 3), (2, 2), (3, 2), (2, 3)])
def test_hier_poly_energies_match_quadrature(k, q):
    """width 3: h depends on three coordinates of u, where a tensor rule is exact."""
    task = HierPolyTask(7, seed=k + q, k=k, q=q, width=3, low_share=0.6)
    n = k * q + 1
    U, w = gauss_hermite_grid(3, n)
    y = task.target(U @ task.R)
    profile = hermite_degree_profile(y, 3, n)
    np.testing.assert_allclose(profile[: k * q + 1], task.energy_by_degree(), atol=1e-10)
    assert task.feasible and task.q_low == k
    assert profile[: k + 1].sum() == pytest.approx(0.6, abs=1e-10)  # low_share = energy <= k
    p = task.inner(U @ task.R)
    assert (w @ (p * y)) ** 2 == pytest.approx(task.linear_share(), abs=1e-10)


@pytest.mark.parametrize("kind,weights", [("staircase", None), ("staircase", [3, 2, 1, 1]),
                                          ("parity", None)])
def test_staircase_energies_match_enumeration(kind, weights):
    task = StaircaseTask(9, seed=4, D=4, kind=kind, weights=weights)
    profile = walsh_degree_profile(task.target(cube_points(9)), 9)
    np.testing.assert_allclose(profile[:5], task.energy_by_degree(), atol=1e-12)
    assert task.q_low == 3
    assert task.top_share() == pytest.approx(profile[4], abs=1e-12)


def _fit_residual(task, n, seed):
    """mean squared residual of the least-squares degree-q_low polynomial fit of y* on n inputs,
    and its standard error (Var(y*) = 1 exactly, so this is 1 - R^2 without a noisy denominator).
    """
    X = task._draw_inputs(n, np.random.default_rng(seed))
    y = task.target(X)
    F = monomial_features(X, task.q_low)
    w, *_ = np.linalg.lstsq(F, y, rcond=None)
    r2 = (y - F @ w) ** 2
    return r2.mean(), r2.std() / np.sqrt(n), F.shape[1] / n


@pytest.mark.parametrize("make,n", [
    (lambda: BFCTask(5, seed=0, L=2, k=4, gap=0.7), 400_000),
    (lambda: MultiIndexTask(5, seed=0, r=2, p=3), 200_000),
    (lambda: HierPolyTask(5, seed=0, k=2, q=2), 200_000),
    (lambda: StaircaseTask(8, seed=0, D=3), 100_000),
])
def test_top_share_is_one_minus_r2_of_degree_q_low_fit(make, n):
    """The fit leaves E_top (up to Monte Carlo error and the p/n in-sample bias); the old BFC
    calibration (R^2 increments) was off by ~0.15 here, far outside this tolerance."""
    task = make()
    resid, se, bias = _fit_residual(task, n, seed=11)
    assert abs(resid - task.top_share()) < 5 * se + 2 * bias * task.top_share(), \
        (resid, task.top_share(), se)


@pytest.mark.parametrize("d,L,seed", [(4, 2, 3), (4, 3, 0), (5, 3, 2)])
def test_bfc_top_share_is_the_least_squares_residual(d, L, seed):
    """E_top = the smallest mean squared residual of any degree-q_low polynomial.

    The population least-squares fit in the monomial basis (weighted by a tensor Gauss-Hermite
    rule, independent of the Hermite algebra) leaves exactly E_top; a fit on 10^5 samples leaves at
    least E_top in the population (heavy tails make its sample residual too noisy at L = 3: its
    standard error is ~0.02-0.07 there).  The old calibration claimed 0.139 at L = 3 where the
    truth was ~0.06: the lower bound below fails for it.
    """
    task = BFCTask(d, seed=seed, L=L, k=4, gap=0.7)
    U, wq = gauss_hermite_grid(d, 2**L + 1)
    Xq = U @ task.R
    yq, Fq = task.target(Xq), monomial_features(Xq, task.q_low)
    sw = np.sqrt(wq)
    coef, *_ = np.linalg.lstsq(Fq * sw[:, None], yq * sw, rcond=None)
    assert wq @ (yq - Fq @ coef) ** 2 == pytest.approx(task.top_share(), abs=1e-9)
    X = task._draw_inputs(100_000, np.random.default_rng(11))
    F = monomial_features(X, task.q_low)
    coef, *_ = np.linalg.lstsq(F, task.target(X), rcond=None)
    population = wq @ (yq - Fq @ coef) ** 2
    assert task.top_share() - 1e-10 <= population <= 1.5 * task.top_share()


def test_bfc_monte_carlo_fallback_is_unbiased_within_its_error(monkeypatch):
    """Forcing the Mehler estimator (MAX_PAIRS = QUAD_MAX_POINTS = 0) at a size where the exact
    value is known."""
    exact = BFCTask(6, seed=5, L=2, k=3, gap=0.7, fixed_alpha=True)
    monkeypatch.setattr(bfc_module, "MAX_PAIRS", 0)
    monkeypatch.setattr(bfc_module, "QUAD_MAX_POINTS", 0)
    bfc_module._calibrate_cached.cache_clear()
    mc = BFCTask(6, seed=5, L=2, k=3, gap=0.7, fixed_alpha=True, n_ref=50_000)
    bfc_module._calibrate_cached.cache_clear()
    info = mc.info()
    assert info["energy_method"] == "monte_carlo" and 0 < info["top_share_se"] < 0.05
    assert abs(mc.top_share() - exact.top_share()) < 4 * info["top_share_se"]


@pytest.mark.parametrize("d,L,seed", [(4, 3, 1), (3, 4, 0), (4, 4, 2)])
def test_bfc_quadrature_route_equals_the_algebra(monkeypatch, d, L, seed):
    """Where the sparse algebra is out of reach (bfc L = 4 at d = 5, 6) the constants and
    energies come from the tensor Gauss-Hermite transform; forced here (MAX_PAIRS = 0) at sizes
    the algebra also reaches, both routes give the same teacher to round-off."""
    algebra = BFCTask(d, seed=seed, L=L, k=4, gap=0.7)
    monkeypatch.setattr(bfc_module, "MAX_PAIRS", 0)
    bfc_module._calibrate_cached.cache_clear()
    quad = BFCTask(d, seed=seed, L=L, k=4, gap=0.7)
    bfc_module._calibrate_cached.cache_clear()
    assert quad.info()["energy_method"] == "exact" and quad.top_share_se == 0.0
    np.testing.assert_allclose(quad.energy_by_degree(), algebra.energy_by_degree(), atol=1e-12)
    np.testing.assert_allclose(quad.alpha, algebra.alpha, rtol=1e-10)
    X = quad._draw_inputs(2000, np.random.default_rng(3))
    np.testing.assert_allclose(quad.target(X), algebra.target(X), atol=1e-10)
    np.testing.assert_allclose(quad.top_residual(X), algebra.top_residual(X), atol=1e-10)


def test_bfc_depth_4_is_exact_where_the_monte_carlo_was_unusable():
    """d = 5, L = 4: the Mehler estimate gave E_top = -219 +- 17431; the quadrature route gives
    the calibrated band energy (the same on every teacher, as where the algebra is exact)."""
    task = BFCTask(5, seed=0, L=4, gap=0.7)
    ref = BFCTask(4, seed=0, L=4, gap=0.7)
    assert task.info()["energy_method"] == "exact" and "energy_warning" not in task.info()
    assert task.top_share() == pytest.approx(ref.top_share(), abs=1e-12)
    assert task.energy_by_degree().sum() == pytest.approx(1.0, abs=1e-12)


def test_recommended_n_test_from_residual_kurtosis():
    """n = 100 (kappa - 1): the standard error of a test error eps is then eps / 10."""
    stair = StaircaseTask(8, D=3)
    assert stair.residual_kurtosis() == pytest.approx(1.0)  # r = chi_D / sqrt(D): r^2 constant
    assert stair.recommended_n_test() == 200  # the Gaussian floor kappa = 3
    task = MultiIndexTask(8, seed=0, r=2, p=3)
    kappa = task.residual_kurtosis()
    r = task.top_residual(task._draw_inputs(400_000, np.random.default_rng(0)))
    assert kappa == pytest.approx(np.mean(r**4) / np.mean(r**2) ** 2, rel=0.15)
    assert task.recommended_n_test() == int(np.ceil(100 * (kappa - 1)))


@pytest.mark.parametrize("cls,params,key", [
    (BFCTask, {"L": 1}, "L"), (BFCTask, {"gap": 1.5}, "gap"), (BFCTask, {"bogus": 1}, "bogus"),
    (MultiIndexTask, {"p": 1}, "p"), (StaircaseTask, {"D": 99}, "D"),
    (HierPolyTask, {"q": 1}, "q"),
])
def test_check_params_one_line(cls, params, key):
    with pytest.raises(ValueError, match=key) as exc:
        cls.check_params(8, params)
    assert "\n" not in str(exc.value) and cls.name in str(exc.value)
    cls.check_params(8, {})  # defaults are valid
