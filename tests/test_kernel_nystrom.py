"""Iterative solvers: batched PCG, the Nystrom preconditioner, Falkon vs the exact solve."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import torch

from learners.kernel_ridge import KernelRidgeLearner
from learners.kernels import Kernel
from learners.nystrom import (
    KnmOperator,
    NystromPreconditioner,
    batched_pcg,
    shifted_matvec,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _falkon(op, Kmm, y, a, tol, max_iter=100):
    """beta (m,), iterations, converged of Falkon at ridge a (the learner's solver)."""
    from learners import krr_falkon

    beta, its, conv = krr_falkon.FalkonSystem(op, krr_falkon.CentreFactors(Kmm)).solve(
        y, [a], tol=tol)
    return beta[:, 0].numpy(), its[0], conv[0]


def _problem(n, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    f = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] / 2
    return X, f + 0.1 * rng.standard_normal(n), f


def test_batched_pcg_with_nystrom_preconditioner_matches_direct_solves():
    X, y, _ = _problem(1500)
    K = Kernel("rbf", 4.0)(X)
    ridges = np.array([1e-3, 1e-2, 1e-1])
    Kt = torch.from_numpy(K)
    pre = NystromPreconditioner(Kt[:, :300], Kt[:300, :300])
    rt = torch.from_numpy(ridges)
    B = torch.from_numpy(y)[:, None].expand(-1, 3).clone()
    C, its, conv, _ = batched_pcg(shifted_matvec(Kt, rt), pre.bind(rt), B, tol=1e-10,
                                  max_iter=1000)
    _, plain_its, _, _ = batched_pcg(shifted_matvec(Kt, rt), lambda R, c: R, B, tol=1e-10,
                                     max_iter=1000)
    assert bool(conv.all())
    for j, a in enumerate(ridges):
        exact = sla.solve(K + a * np.eye(1500), y, assume_a="pos")
        np.testing.assert_allclose(C[:, j].numpy(), exact, rtol=1e-6,
                                   atol=1e-7 * np.abs(exact).max())
    assert (its < plain_its).all() and its[0] < plain_its[0] / 3  # the preconditioner pays off


def test_falkon_equals_exact_when_centres_are_all_points():
    X, y, _ = _problem(3000)
    kern = Kernel("rbf", 4.0)
    K = kern(X)
    a = 1e-2
    exact = sla.solve(K + a * np.eye(3000), y, assume_a="pos")
    op = KnmOperator(torch.from_numpy(K), dtype=np.float64)
    beta, its, conv = _falkon(op, torch.from_numpy(K), torch.from_numpy(y), a, tol=1e-6)
    pred, ref = K @ beta, K @ exact
    # at m = n the model equals exact KRR; the preconditioner is exact up to the jitter that
    # K_mm's Cholesky needs (its round-off directions), so CG converges in a few dozen steps
    assert conv and its <= 20
    assert np.max(np.abs(pred - ref)) <= 1e-4 * np.max(np.abs(ref))


def test_falkon_degrades_gracefully_as_centres_shrink():
    X, y, f = _problem(3000)
    Xt, _, ft = _problem(2000, seed=1)
    kern = Kernel("rbf", 4.0)
    a = 1e-2
    exact = sla.solve(kern(X) + a * np.eye(3000), y, assume_a="pos")
    errs = {3000: np.mean((kern(Xt, X) @ exact - ft) ** 2) / ft.var()}  # m = n is exact KRR
    for m in (1000, 300, 100):
        C = X[:m]
        op = KnmOperator(torch.from_numpy(kern(X, C)), dtype=np.float64)
        beta, _, _ = _falkon(op, torch.from_numpy(kern(C)), torch.from_numpy(y), a, tol=1e-8)
        pred = kern(Xt, C) @ beta
        errs[m] = np.mean((pred - ft) ** 2) / ft.var()
    assert errs[1000] <= 1.1 * errs[3000]  # m = n/3 is nearly as good as exact
    assert errs[3000] <= errs[300] <= errs[100] <= 1.0  # smoothly worse, never worse than 1
    assert errs[100] <= 20 * errs[3000]


def test_float32_storage_keeps_float64_accuracy():
    X, y, _ = _problem(2000)
    kern = Kernel("rbf", 4.0)
    C = X[:400]
    out = []
    for dt in (np.float64, np.float32):
        op = KnmOperator(torch.from_numpy(kern(X, C, dtype=dt)), dtype=dt)
        beta, _, _ = _falkon(op, torch.from_numpy(kern(C)), torch.from_numpy(y), 1e-4, tol=1e-8)
        out.append(kern(X[:200], C) @ beta)
    assert np.max(np.abs(out[0] - out[1])) <= 1e-3 * np.max(np.abs(out[0]))


def test_on_the_fly_knm_equals_stored():
    X, y, _ = _problem(900)
    kern = Kernel("laplace", 4.0)
    C = X[:100]
    stored = KnmOperator(torch.from_numpy(kern(X, C)), dtype=np.float64)
    fly = KnmOperator(kern=kern, X=X, centres=C, dtype=np.float64)
    W = torch.randn(100, 3, dtype=torch.float64)
    torch.testing.assert_close(stored.gram(W), fly.gram(W))
    torch.testing.assert_close(stored.rows(0, 500).matvec(W), fly.rows(0, 500).matvec(W))
    torch.testing.assert_close(stored.rows(500).matvec(W), fly.rows(500).matvec(W))
    torch.testing.assert_close(stored.rows(500).matvec(W), stored.matvec(W)[500:])


def test_streamed_products_over_many_blocks_equal_dense_ones(monkeypatch):
    """Blocks of 16 KiB (a few rows each, the last one ragged) written into one reused buffer:
    every streamed product equals the dense float64 one."""
    from learners import kernels

    monkeypatch.setattr(kernels, "STREAM_BLOCK_BYTES", 16 * 2**10)
    X, _, _ = _problem(1003)
    kern, C = Kernel("rbf", 4.0), X[:300]
    K = kern(X, C)
    W, U = torch.randn(300, 3, dtype=torch.float64), torch.randn(1003, 3, dtype=torch.float64)
    Kt = torch.from_numpy(K)
    for op in (KnmOperator(kern=kern, X=X, centres=C, dtype=np.float64),
               KnmOperator(torch.from_numpy(K.astype(np.float32)), dtype=np.float32)):
        tol = 1e-12 if op.K is None else 1e-6  # float32 storage rounds K
        torch.testing.assert_close(op.matvec(W), Kt @ W, rtol=tol, atol=tol)
        torch.testing.assert_close(op.rmatvec(U), Kt.T @ U, rtol=tol, atol=tol * 100)
        torch.testing.assert_close(op.gram(W), Kt.T @ (Kt @ W), rtol=tol, atol=tol * 1000)
    v = np.random.default_rng(1).standard_normal((300, 2))
    np.testing.assert_allclose(kernels.kernel_matvec(kern, X, C, v), K @ v, rtol=1e-12,
                               atol=1e-12)

def test_knm_streamed_by_row_spans_in_threads_equals_dense(monkeypatch):
    """With two torch threads a stored float32 K_nm is streamed by two Python threads (one row
    span each, one BLAS thread each): the products equal the dense float64 ones of the same
    (float32-rounded) K to round-off, and the torch thread count is restored afterwards."""
    from learners import kernels

    monkeypatch.setattr(kernels, "STREAM_BLOCK_BYTES", 16 * 2**10)
    X, _, _ = _problem(1003)
    K32 = Kernel("rbf", 4.0)(X, X[:300], dtype=np.float32)
    Kt = torch.from_numpy(K32).to(torch.float64)
    W, U = torch.randn(300, 3, dtype=torch.float64), torch.randn(1003, 3, dtype=torch.float64)
    before = torch.get_num_threads()
    try:
        for threads, spans in ((1, 1), (2, 2)):
            torch.set_num_threads(threads)
            op = KnmOperator(torch.from_numpy(K32), dtype=np.float32)
            assert len(op._spans()) == spans
            assert op._spans()[0][0] == 0 and op._spans()[-1][1] == 1003
            torch.testing.assert_close(op.gram(W), Kt.T @ (Kt @ W), rtol=1e-11, atol=1e-9)
            torch.testing.assert_close(op.rmatvec(U), Kt.T @ U, rtol=1e-11, atol=1e-10)
            torch.testing.assert_close(op.matvec(W), Kt @ W, rtol=1e-11, atol=1e-11)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_learner_nystrom_path_past_the_memory_cap():
    X, y, f = _problem(3000)
    Xt, _, ft = _problem(2000, seed=1)
    est = KernelRidgeLearner(memory_limit_gb=0.03, tune_max=400, random_state=0).fit(X, y)
    info = est.fit_info_
    assert info["path"] == "nystrom" and info["solver"] == "falkon" and info["converged"]
    assert info["m"] == est.dual_coef_.shape[0] < 3000
    exact = KernelRidgeLearner(tune_max=400, random_state=0).fit(X, y)
    e_ny = np.mean((est.predict(Xt) - ft) ** 2) / ft.var()
    e_ex = np.mean((exact.predict(Xt) - ft) ** 2) / ft.var()
    assert e_ny <= 1.5 * e_ex + 0.01
    assert est.resources(3000, 8).memory_bytes <= 0.2 * 2**30


def test_falkon_marks_fits_with_too_few_centres_approximate():
    """Degree-4 polynomial kernel at d = 6 (C(10, 4) = 210 features): 100 centres cannot hold
    every degree-<=4 polynomial (approximate, reason feature_dim); 300 centres can (K_mm has
    rank 210, the spectrum criterion is then silent too) and the fit is exact."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 6))
    y = X[:, 0] ** 4 - X[:, 1] * X[:, 2]
    Xt = rng.standard_normal((500, 6))
    yt = Xt[:, 0] ** 4 - Xt[:, 1] * Xt[:, 2]
    out = {}
    for m in (100, 300):
        est = KernelRidgeLearner(kernel="polynomial", degree=4, bandwidth_grid=(1.0,),
                                 solver="nystrom", n_centers=m, random_state=0).fit(X, y)
        out[m] = (est.fit_info_, np.mean((est.predict(Xt) - yt) ** 2) / np.var(yt))
    info, err = out[100]
    assert info["approximate"] and "feature_dim" in info["approx_reason"]
    assert info["n_centres"] == 100 and err > 0.01
    info, err = out[300]
    assert not info["approximate"] and info["approx_reason"] == "" and err < 1e-3, (info, err)


def test_centre_factors_lambda_min_bound_and_lanczos():
    """The free bound min_i Lk_ii^2 is >= lambda_min(K_mm + jitter), and Lanczos finds
    lambda_min to its 1e-2 tolerance (eigvalsh of Lk Lk^T as the reference)."""
    from learners.krr_falkon import CentreFactors

    X = np.random.default_rng(1).standard_normal((400, 5))
    fac = CentreFactors(torch.from_numpy(Kernel("rbf", 1.5)(X)))
    exact = float(torch.linalg.eigvalsh(fac.Lk @ fac.Lk.T)[0])
    assert fac.lambda_min_bound() >= exact * (1 - 1e-9)
    assert fac.lambda_min() == pytest.approx(exact, rel=2e-2)


def test_lower_gram_equals_dense_product():
    """lower_gram's lower triangle is that of L^T L (what a Cholesky reads); above the block
    diagonal it is zero, and factorising it gives the dense product's factor."""
    from learners.krr_falkon import lower_gram

    A = torch.randn(700, 700, dtype=torch.float64)
    L = torch.linalg.cholesky(A @ A.T + 700 * torch.eye(700, dtype=torch.float64))
    P, dense = lower_gram(L, block=128), L.T @ L
    torch.testing.assert_close(P.tril(), dense.tril(), rtol=1e-12, atol=1e-9)
    assert float(P[:128, 128:].abs().max()) == 0.0  # right of the first diagonal block
    torch.testing.assert_close(torch.linalg.cholesky(P), torch.linalg.cholesky(dense),
                               rtol=1e-10, atol=1e-10)


def test_precond_factor_float32_and_its_float64_fallback(monkeypatch):
    """A A^T = scale T T^T + a I: to float32 accuracy from the float32 factorisation, and
    exactly the float64 factor when the float32 one reports failure."""
    from learners.krr_falkon import CentreFactors, lower_gram

    g = torch.Generator().manual_seed(3)
    Q, _ = torch.linalg.qr(torch.randn(60, 60, dtype=torch.float64, generator=g))
    Kmm = Q @ torch.diag(torch.logspace(0, -2, 60, dtype=torch.float64)) @ Q.T
    fac = CentreFactors(Kmm)
    target = 7.0 * lower_gram(fac.Lk)
    target.diagonal().add_(0.1)
    ref = torch.linalg.cholesky(target)
    A = fac.precond_factor(7.0, 0.1)
    assert A.dtype == torch.float64 and not torch.equal(A, ref)  # the float32 path
    torch.testing.assert_close(A @ A.T, ref @ ref.T, rtol=1e-5, atol=1e-5)

    real = torch.linalg.cholesky_ex

    def fails_in_float32(M):
        L, info = real(M)
        return L, (torch.ones_like(info) if M.dtype == torch.float32 else info)

    monkeypatch.setattr(torch.linalg, "cholesky_ex", fails_in_float32)
    torch.testing.assert_close(fac.precond_factor(7.0, 0.1), ref, rtol=1e-12, atol=1e-14)


def test_falkon_system_matches_direct_solve_cold_and_warm():
    """(K_mn K_nm + a K_mm) beta = K_mn y by the split-preconditioned CG equals a direct solve
    of the normal equations (compared through the fitted values K_nm beta), from a cold start
    and from a warm start at a neighbouring ridge's solution - which needs fewer iterations.
    float32 storage of K_nm rounds K, so it is compared more loosely."""
    from learners.krr_falkon import CentreFactors, FalkonSystem

    X, y, _ = _problem(2000)
    kern = Kernel("rbf", 4.0)
    C = X[:300]
    Knm, Kmm = kern(X, C), kern(C)
    a = 0.1
    ref = Knm @ sla.solve(Knm.T @ Knm + a * Kmm, Knm.T @ y, assume_a="pos")
    fac = CentreFactors(torch.from_numpy(Kmm))
    yt = torch.from_numpy(y)
    for dt, rel in ((np.float64, 1e-6), (np.float32, 1e-3)):
        sysm = FalkonSystem(KnmOperator(torch.from_numpy(Knm.astype(dt)), dtype=dt), fac)
        cold, its_cold, conv = sysm.solve(yt, [a], tol=1e-8)
        near, _, _ = sysm.solve(yt, [1.3 * a], tol=1e-8)
        warm, its_warm, conv_w = sysm.solve(yt, [a], tol=1e-8, beta0=near)
        assert conv[0] and conv_w[0] and its_warm[0] < its_cold[0]
        for b in (cold, warm):
            np.testing.assert_allclose(Knm @ b[:, 0].numpy(), ref, atol=rel * np.abs(ref).max())


def test_falkon_ridge_walk_breaks_solver_noise_ties_towards_the_larger_ridge():
    from learners.krr_falkon import TIE_RTOL, _best

    assert _best({0: 0.5, 1: 0.5 * (1 + TIE_RTOL / 2), 2: 0.6}) == 1  # a tie: larger ridge
    assert _best({0: 0.5, 1: 0.5 * (1 + 3 * TIE_RTOL), 2: 0.6}) == 0  # a real difference
    assert _best({3: 0.2, 4: 0.1, 5: 0.3}) == 4  # indices are grid positions


def test_holdout_pcg_stage_budgets_the_columns_it_solves():
    """Stage 1 scores the k largest ridges with k as large as the budget for k columns allows:
    every scored ridge is predicted within pcg_cap(k), and adding the next ridge would not fit
    pcg_cap(k + 1).  (A cap computed for the whole grid scored far fewer ridges.)"""
    from learners import krr_cost as cost
    from learners.krr_holdout import HoldoutScorer
    from learners.ridge_tuning import default_ridge_grid

    X, y, _ = _problem(6000)
    kern = Kernel("rbf", 4.0)
    n_t = 5400
    spec = KernelRidgeLearner(random_state=0)._probe(kern, X, np.random.default_rng(0))
    ridges = default_ridge_grid()
    sc = HoldoutScorer(kern, X, y - y.mean(), n_t, np.float64, spec, 1e-6)
    sc.pcg_stage(ridges)
    pred = np.array([cost.pcg_iterations(spec, 6000, a, n_t, sc.tol) for a in ridges])
    scored = sorted(np.flatnonzero([f"{a:.3g}" in sc.info["pcg_iterations"] for a in ridges]))
    k = len(scored)
    assert k >= 1 and scored == list(range(len(ridges) - k, len(ridges)))  # the largest ridges
    assert sc.info["pcg_budget"] == sc.pcg_cap(k)
    assert pred[scored].max() <= sc.pcg_cap(k)
    if k < len(ridges):
        assert pred[len(ridges) - k - 1] > sc.pcg_cap(k + 1)
    assert k > int(np.sum(pred <= sc.pcg_cap(len(ridges))))  # more than the whole-grid cap
    for i in scored:  # every scored ridge converged and its hold-out error is recorded
        assert i in sc.errors


def _holdout_scorer(monkeypatch, X, y, n_t):
    """A HoldoutScorer of RBF bandwidth 2 on (X, y), with the cost model's rates fixed at the
    values measured on 2026-12-05 (the tests depend on which ridges PCG scores)."""
    from learners import krr_cost
    from learners.krr_holdout import HoldoutScorer
    from learners.ridge_tuning import default_ridge_grid

    monkeypatch.setattr(krr_cost, "FLOPS", {8: 3e10, 4: 5e10})
    kern = Kernel("rbf", 2.0)
    spec = KernelRidgeLearner(random_state=0)._probe(kern, X, np.random.default_rng(0))
    return HoldoutScorer(kern, X, y, n_t, np.float64, spec, 1e-6), kern, default_ridge_grid()


def test_holdout_search_goes_to_the_bottom_when_pcg_scores_only_the_top(monkeypatch):
    """A noise-free target's hold-out error falls to the bottom of the ridge grid.  When the
    Nystrom-PCG stage has scored only the large ridges, the first factor (first bandwidth, no
    hint) goes to the bottom of the grid - one factor - instead of stepping down one reach per
    factor (three here before 2026-12-05); the chosen ridge is the exhaustive hold-out minimum
    over the grid (an eigendecomposition of K_tt)."""
    rng = np.random.default_rng(3)
    n, n_t = 2400, 2000
    X = rng.standard_normal((n, 6))
    y = np.sin(X[:, 0]) * X[:, 1] + X[:, 2] * X[:, 3] * X[:, 4]  # noise-free
    y = y - y.mean()
    sc, kern, ridges = _holdout_scorer(monkeypatch, X, y, n_t)
    sc.search(ridges)
    assert sc.info["pcg_iterations"], "the test needs PCG scores on the large ridges"
    assert len(sc.info["cholesky_ridges"]) == 1
    K = kern(X)
    w, V = np.linalg.eigh(K[:n_t, :n_t])
    proj = V.T @ y[:n_t]
    ref = [np.mean((y[n_t:] - K[n_t:, :n_t] @ (V @ (proj / (w + a)))) ** 2) for a in ridges]
    j, err = sc.best()
    assert j == int(np.argmin(ref))
    assert err == pytest.approx(ref[j], rel=1e-3)


def test_holdout_pcg_extension_scores_the_missing_neighbour_without_a_factor(monkeypatch):
    """Stage 1b: the best PCG-scored ridge sits at the low edge of the scored set; one more
    Nystrom-PCG solve (warm-started) scores its neighbour, which brackets the minimum - no
    factorisation - and that hold-out error equals a direct solve's."""
    rng = np.random.default_rng(0)
    n, n_t = 3000, 2700
    X = rng.standard_normal((n, 8))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] / 2 + 0.5 * rng.standard_normal(n)
    y = y - y.mean()
    sc, kern, ridges = _holdout_scorer(monkeypatch, X, y, n_t)
    sc.pcg_stage(ridges)
    before = set(sc.errors)
    assert not sc.bracketed(len(ridges))
    sc.pcg_extend(ridges)
    new = set(sc.errors) - before
    assert len(new) == 1 and sc.bracketed(len(ridges))
    sc.search(ridges)  # nothing left to do: no factor
    assert sc.info["cholesky_ridges"] == []
    (i,) = new
    K = kern(X)
    c = sla.solve(K[:n_t, :n_t] + ridges[i] * np.eye(n_t), y[:n_t], assume_a="pos")
    ref = np.mean((y[n_t:] - K[n_t:, :n_t] @ c) ** 2)
    assert sc.errors[i] == pytest.approx(ref, rel=1e-6)
    np.testing.assert_allclose(sc.warm[i][0].numpy(), c, atol=1e-4 * np.abs(c).max())
