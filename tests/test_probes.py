"""Tests of the ridge probe: R^2 ~ 1 on contained features, ~ 0 on noise, equal to RidgeCV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from learners.probes import LAMBDAS, fit_probe, pooled_r2, probe_matrix, probe_r2


def _features(n=2000, k=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, k))


def test_probe_recovers_features_contained_in_the_representation():
    """H = [F A + c, unrelated columns], A invertible, scaled columns: held-out R^2 ~ 1."""
    rng = np.random.default_rng(1)
    F = _features(4000, 4)
    A = rng.standard_normal((4, 4)) + 3 * np.eye(4)
    H = np.hstack([F @ A + 5.0, rng.standard_normal((4000, 30))]) * rng.uniform(0.1, 10, 34)
    r2, lams = probe_r2(H[:2000], [F[:2000]], H[2000:], [F[2000:]])
    assert r2[0] > 0.999 and lams[0] <= LAMBDAS[3]


def test_probe_scores_about_zero_on_independent_noise():
    rng = np.random.default_rng(2)
    F = _features(4000, 4, seed=3)
    H = rng.standard_normal((4000, 40))
    r2, lams = probe_r2(H[:2000], [F[:2000]], H[2000:], [F[2000:]])
    assert abs(r2[0]) < 0.02, r2
    assert lams[0] >= 1e-2  # LOO picks strong shrinkage when there is nothing to fit


def test_partial_information_gives_intermediate_r2():
    """H holds 2 of 4 unit-variance features: pooled R^2 = 1/2 (up to sampling)."""
    F = _features(6000, 4, seed=4)
    H = np.hstack([F[:, :2], np.random.default_rng(5).standard_normal((6000, 10))])
    r2, _ = probe_r2(H[:3000], [F[:3000]], H[3000:], [F[3000:]])
    assert 0.45 < r2[0] < 0.55


def test_probe_equals_sklearn_ridgecv_with_loo():
    """Same alpha (exact LOO, one alpha per output group) and the same predictions."""
    rng = np.random.default_rng(6)
    n, p = 300, 25
    H = rng.standard_normal((n, p)) * rng.uniform(0.5, 3, p) + rng.standard_normal(p)
    F = H[:, :3] @ rng.standard_normal((3, 4)) + 2.0 * rng.standard_normal((n, 4))
    fit = fit_probe(H, [F])
    Z = (H - H.mean(0)) / H.std(0)
    sk = RidgeCV(alphas=[n * lam for lam in LAMBDAS]).fit(Z, F)
    assert fit.lambdas[0] == pytest.approx(sk.alpha_ / n)
    Ht = rng.standard_normal((50, p))
    np.testing.assert_allclose(fit.predict(Ht), sk.predict((Ht - H.mean(0)) / H.std(0)),
                               atol=1e-10)


def test_groups_get_their_own_ridge_and_pooled_r2_is_variance_weighted():
    rng = np.random.default_rng(7)
    H = rng.standard_normal((1000, 10))
    easy = H[:, :2] @ rng.standard_normal((2, 3))
    hard = rng.standard_normal((1000, 2))
    fit = fit_probe(H, [easy, hard])
    assert fit.lambdas[0] < fit.lambdas[1]
    assert [g.stop - g.start for g in fit.groups] == [3, 2]
    Y = rng.standard_normal((200, 3)) * [1.0, 3.0, 0.5]
    Y_hat = Y + rng.standard_normal((200, 3)) * 0.7
    assert pooled_r2(Y, Y_hat) == pytest.approx(r2_score(Y, Y_hat,
                                                         multioutput="variance_weighted"))


def test_degenerate_inputs():
    F = _features(200, 2)
    H = np.hstack([F, np.ones((200, 1))])  # a constant column is dropped, not divided by 0
    r2, _ = probe_r2(H[:100], [F[:100]], H[100:], [F[100:]])
    assert r2[0] > 0.999
    H_bad = H.copy()
    H_bad[3, 0] = np.nan
    r2, lams = probe_r2(H_bad[:100], [F[:100]], H_bad[100:], [F[100:]])
    assert np.isnan(r2[0]) and np.isnan(lams[0])
    assert np.isnan(pooled_r2(np.ones((5, 2)), np.zeros((5, 2))))  # no variance to explain


def test_probe_matrix_pairs_each_representation_with_each_target():
    rng = np.random.default_rng(8)
    F1, F2 = _features(2000, 3, seed=9), _features(2000, 2, seed=10)
    reps = [np.hstack([F1, rng.standard_normal((2000, 5))]),
            np.hstack([F2, rng.standard_normal((2000, 5))])]
    M = probe_matrix([r[:1000] for r in reps], [F1[:1000], F2[:1000]],
                     [r[1000:] for r in reps], [F1[1000:], F2[1000:]])
    assert M.shape == (2, 2)
    assert M[0, 0] > 0.99 and M[1, 1] > 0.99
    assert abs(M[0, 1]) < 0.03 and abs(M[1, 0]) < 0.03
