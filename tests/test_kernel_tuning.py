"""krr tuned on the full n: reference checks that fail if the tuning regresses.

* the degree-4 polynomial kernel's sharp threshold at n ~ C(d+4, 4) on a noise-free degree-4
  single-index target (error far above eps below it, ~0 above it), on both tuning paths;
* the joint (bandwidth, ridge) search finds the best hold-out pair of the whole grid, checked
  against direct solves of every pair;
* the float32 path never acts as a larger ridge than the one chosen;
* bad parameter values fail with one line naming the learner, the key and the value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
from sklearn.utils._param_validation import InvalidParameterError

from learners import make_learner
from learners.kernel_ridge import KernelRidgeLearner, holdout_size
from learners.krr_cost import EPS32

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _single_index(n, d, seed):
    """y = h_4(u.x) / sqrt(24) (unit variance; probabilists' Hermite h_4), x ~ N(0, I_d)."""
    rng = np.random.default_rng(seed)
    u = np.random.default_rng(100 + d).standard_normal(d)
    u /= np.linalg.norm(u)
    X = rng.standard_normal((n, d))
    z = X @ u
    return X, (z**4 - 6 * z**2 + 3) / math.sqrt(24)


@pytest.mark.parametrize("tune_max", [1000, 0], ids=["loo", "holdout"])
def test_polynomial_kernel_sharp_threshold_at_number_of_monomials(tune_max):
    d = 5
    N = math.comb(d + 4, 4)  # 126 polynomials of degree <= 4
    Xt, yt = _single_index(2000, d, seed=99)
    err = {}
    for n in (64, 250):
        X, y = _single_index(n, d, seed=n)
        est = KernelRidgeLearner(kernel="polynomial", degree=4, tune_max=tune_max,
                                 random_state=0).fit(X, y)
        assert est.fit_info_["path"] == ("eigh" if tune_max else "exact")
        err[n] = float(np.mean((est.predict(Xt) - yt) ** 2))
    assert 64 < N < 250 - holdout_size(250, None)
    assert err[64] > 0.3  # below the threshold: far above eps = 0.1 (var y = 1)
    assert err[250] < 1e-3, err  # above: the target is interpolated exactly


def test_joint_search_finds_the_best_holdout_pair_of_the_grid():
    """Every (bandwidth, ridge) of the grid by a direct train/val solve; the search's pick must
    have the smallest hold-out error (within 2 %) of all of them."""
    X, y = _single_index(700, 6, seed=1)
    y = y + 0.05 * np.random.default_rng(3).standard_normal(700)
    est = KernelRidgeLearner(kernel="polynomial", degree=4, tune_max=0, dtype="float64",
                             random_state=2).fit(X, y)
    info = est.fit_info_
    rng = np.random.default_rng(2)
    perm = rng.permutation(700)  # the hold-out order is the generator's first draw
    n_v = info["n_val"]
    tr, va = perm[:700 - n_v], perm[700 - n_v:]
    yc = y - est.intercept_
    scales = est._reference_scale(X, rng) * np.asarray(est.bandwidth_grid)
    best = np.inf
    for s in scales:
        kern = est._make_kernel(s)
        Ktr, Kva = kern(X[tr]), kern(X[va], X[tr])
        for a in est._ridge_grid(float(np.mean(kern.diag(X)))):
            c = sla.solve(Ktr + a * np.eye(len(tr)), yc[tr], assume_a="pos")
            best = min(best, float(np.mean((yc[va] - Kva @ c) ** 2)))
    assert info["holdout_mse"] <= 1.02 * best, (info["holdout_mse"], best)
    assert est.bandwidth_ in {float(s) for s in scales}


def test_float32_path_never_acts_as_a_larger_ridge():
    """Past the float64 cap the grid is cut at 10 eps32 lambda_max(K): the chosen ridge is far
    above float32 round-off of K (checked against the true lambda_max)."""
    X, y = _single_index(1500, 5, seed=4)
    est = KernelRidgeLearner(kernel="polynomial", degree=4, tune_max=0, bandwidth_grid=(1.0,),
                             memory_limit_gb=0.012, random_state=0).fit(X, y)
    info = est.fit_info_
    assert info["path"] == "exact" and info["dtype"] == "float32"
    lam_max = float(sla.eigvalsh(est.kernel_(X), subset_by_index=[1499, 1499])[0])
    assert est.alpha_ >= 5 * EPS32 * lam_max  # the probe predicts lambda_max within 2x
    assert info["ridge_floor"] > 0
    f64 = KernelRidgeLearner(kernel="polynomial", degree=4, tune_max=0, bandwidth_grid=(1.0,),
                             random_state=0).fit(X, y)
    assert f64.fit_info_["dtype"] == "float64" and f64.alpha_ < est.alpha_


@pytest.mark.parametrize("name,key,value", [
    ("krr", "kernel", "gauss"), ("krr", "degree", 0), ("krr", "val_fraction", 1.5),
    ("krr", "solver", "lu"), ("ntk", "activation", "tanh"), ("nngp", "depth", 0),
    ("random_features", "features", "sigmoid"), ("random_features", "n_features", -3),
])
def test_bad_parameter_values_fail_in_one_line(name, key, value):
    est = make_learner(name, **{key: value})
    with pytest.raises(InvalidParameterError) as exc:
        est.fit(np.zeros((20, 3)), np.zeros(20))
    msg = str(exc.value)
    assert "\n" not in msg and repr(key) in msg and type(est).__name__ in msg
    assert str(value) in msg
