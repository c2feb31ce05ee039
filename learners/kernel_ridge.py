"""Kernel ridge regression (``krr``), bandwidth and ridge tuned jointly on the full n samples.

Model: f(x) = b + sum_i c_i k(x, x_i) with (K + a I) c = y - b, b = mean(y) (``fit_intercept``).
The ridge a is absolute (scikit-learn's ``alpha``); the tuning grid is relative to mean(diag K)
of each bandwidth.  Every (bandwidth, ridge) pair of the grids is scored on all n samples; the
pair with the smallest error wins.  Three paths, chosen by :meth:`KernelRidgeLearner.plan`:

``eigh`` (n <= ``tune_max``)
    one eigendecomposition of K per bandwidth gives the exact leave-one-out error of every
    ridge and the solution (:mod:`learners.ridge_tuning`).
``exact`` (one n x n matrix fits ``memory_limit_gb``)
    per bandwidth, the hold-out error (the last n_v rows of a random order) of every ridge
    needed to bracket the minimum, by Nystrom-PCG and in-place Cholesky factors of the training
    block (:mod:`learners.krr_holdout`); then (K + a I) c = y on all n at the winning pair.
``nystrom`` (past the cap)
    Falkon with m centres (:mod:`learners.krr_falkon`), the same joint hold-out.

dtype: float64 whenever n x n float64 fits the cap.  Only past it is float32 used, and then the
ridge grid is cut below 10 eps32 lambda_max(K) (lambda_max predicted from a subsample): a float32
matrix perturbs K by ~eps32 lambda_max, which must stay far below the ridge so that round-off
never acts as a larger ridge than the one tuning chose.  A subsample's (<= 2000 points) eigenvalues
only predict iteration counts and lambda_max; they never choose a bandwidth or ridge.
"""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from learners import kernels as kz
from learners import krr_cost as cost
from learners.base import HierbenchLearner, Resources
from learners.krr_holdout import HoldoutScorer, holdout_size, solve_full
from learners.ridge_tuning import (
    default_ridge_grid,
    eigh_solution,
    eigh_sym,
    loo_errors_eigh,
    pick_best,
)

__all__ = ["KernelRidgeLearner", "RIDGE_CONSTRAINTS", "holdout_size"]

SOLVERS = ("auto", "eigh", "exact", "nystrom")
DTYPES = ("auto", "float32", "float64")
#: points of the spectrum probe (its eigenvalues predict K_n's; never used to choose).  2000, so
#: that the exact path's Nystrom preconditioner can take 1000 columns (half the probe, see
#: :func:`learners.krr_cost.precond_m`): on an RBF kernel in d = 32 the spectrum drops by ~4x
#: after the 561 harmonics of degree <= 2, and 1000 columns instead of 500 cut PCG at ridge
#: 1e-3 x mean diag K from 61 to 13 iterations (n_t = 14 400)
PROBE_MAX = 2000

_POS = Interval(Real, 0, None, closed="neither")
#: constraints shared by every kernel-ridge learner (krr, ntk, nngp)
RIDGE_CONSTRAINTS: dict = {
    "bandwidth": [_POS, None],
    "bandwidth_grid": ["array-like"],
    "alpha": [Interval(Real, 0, None, closed="left"), None],
    "alpha_grid": ["array-like", None],
    "fit_intercept": ["boolean"],
    "solver": [StrOptions(set(SOLVERS))],
    "dtype": [StrOptions(set(DTYPES))],
    "n_centers": [Interval(Integral, 1, None, closed="left"), None],
    "max_centers": [Interval(Integral, 1, None, closed="left")],
    "val_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "tune_max": [Interval(Integral, 0, None, closed="left")],
    "tol": [Interval(Real, 0, 1, closed="neither"), None],
    "memory_limit_gb": [_POS],
    "random_state": [Interval(Integral, 0, None, closed="left"), None],
}


class KernelRidgeLearner(HierbenchLearner):
    """Kernel ridge regression with the bandwidth and ridge tuned jointly on the n samples.

    Parameters: ``kernel`` in {rbf, laplace, polynomial, arccos}; ``bandwidth`` (None = median
    heuristic times ``bandwidth_grid``, float = fixed); ``degree``/``coef0`` of the polynomial
    kernel; ``alpha`` (None = tuned, float = fixed absolute ridge); ``alpha_grid`` relative
    ridges; ``solver`` in {auto, eigh, exact, nystrom}; ``dtype`` in {auto, float32, float64};
    ``n_centers`` (Nystrom centres, None = grow with n up to ``max_centers``); ``val_fraction``
    of the hold-out (None = 20 % at small n to 10 % at large n); ``tune_max`` largest n tuned by
    exact LOO; ``tol`` relative residual of the iterative solvers; ``memory_limit_gb`` cap on
    the largest matrix; ``random_state`` seeds all sampling.
    """

    family = "non-hierarchical"
    _parameter_constraints: dict = {
        **RIDGE_CONSTRAINTS,
        "kernel": [StrOptions(set(kz.KERNELS))],
        "degree": [Interval(Integral, 1, None, closed="left")],
        "coef0": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, kernel="rbf", bandwidth=None, bandwidth_grid=(0.5, 1.0, 2.0), degree=3,
                 coef0=1.0, alpha=None, alpha_grid=None, fit_intercept=True, solver="auto",
                 dtype="auto", n_centers=None, max_centers=10000, val_fraction=None,
                 tune_max=1000, tol=None, memory_limit_gb=3.5, random_state=None):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.bandwidth_grid = bandwidth_grid
        self.degree = degree
        self.coef0 = coef0
        self.alpha = alpha
        self.alpha_grid = alpha_grid
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.dtype = dtype
        self.n_centers = n_centers
        self.max_centers = max_centers
        self.val_fraction = val_fraction
        self.tune_max = tune_max
        self.tol = tol
        self.memory_limit_gb = memory_limit_gb
        self.random_state = random_state

    # ----------------------------------------------------------------- kernel hooks
    def _make_kernel(self, s: float):
        """The kernel at bandwidth s (subclasses return other kernel objects)."""
        return kz.Kernel(self.kernel, float(s), self.degree, self.coef0)

    def _reference_scale(self, X, rng) -> float:
        return kz.reference_scale(X, self.kernel, rng)

    def _feature_dim(self, d: int) -> int | None:
        """Dimension of the kernel's feature space when finite (polynomial: C(d + q, q))."""
        if self.kernel == "polynomial":
            return math.comb(d + int(self.degree), int(self.degree))
        return None

    # ----------------------------------------------------------------- planning
    def _limit(self) -> float:
        return float(self.memory_limit_gb) * 2**30

    def _centers(self, n: int) -> int:
        """m = 16 sqrt(n), at most ``max_centers`` and 3 m^2 float64 <= 30 % of the cap."""
        if self.n_centers is not None:
            return int(min(n, self.n_centers))
        m_mem = math.sqrt(0.1 * self._limit() / 8)
        return int(max(1, min(n, self.max_centers, 16 * math.sqrt(n), m_mem)))

    def plan(self, n: int, d: int) -> dict:
        """The path ('eigh' | 'exact' | 'nystrom') and the dtype's itemsize fit would use."""
        tuned = self.alpha is None or self.bandwidth is None
        fits = {8: n * n * 8 <= self._limit(), 4: n * n * 4 <= self._limit()}
        if self.dtype != "auto":
            item = np.dtype(self.dtype).itemsize
            fits = {item: fits[item]}
        if self.solver == "eigh" or (self.solver == "auto" and tuned and n <= self.tune_max):
            return {"path": "eigh", "itemsize": 8}
        if self.solver == "exact" or (self.solver == "auto" and any(fits.values())):
            return {"path": "exact", "itemsize": 8 if fits.get(8) else min(fits)}
        return {"path": "nystrom", "itemsize": 4 if self.dtype == "auto" else min(fits),
                "m": self._centers(n)}

    # ----------------------------------------------------------------- grids
    def _bandwidths(self, X, rng):
        if self.bandwidth is not None:
            return np.array([float(self.bandwidth)])
        return self._reference_scale(X, rng) * np.asarray(self.bandwidth_grid, dtype=float)

    def _ridge_grid(self, kdiag_mean):
        if self.alpha is not None:
            return np.array([float(self.alpha)])
        rel = default_ridge_grid() if self.alpha_grid is None else np.asarray(self.alpha_grid)
        return np.sort(np.asarray(rel, dtype=float)) * kdiag_mean

    def _tol(self, dtype) -> float:
        if self.tol is not None:
            return float(self.tol)
        return 1e-6 if np.dtype(dtype) == np.float64 else 1e-5

    # ----------------------------------------------------------------- fit
    def fit(self, X, y):
        self._validate_params()
        t0 = time.perf_counter()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        rng = np.random.default_rng(0 if self.random_state is None else self.random_state)
        n, d = X.shape
        perm = rng.permutation(n)  # the hold-out order (first: the hold-out paths)
        self.intercept_ = float(np.mean(y)) if self.fit_intercept else 0.0
        yc = y - self.intercept_
        plan = self.plan(n, d)
        kerns = [self._make_kernel(s) for s in self._bandwidths(X, rng)]
        info = {"n": n, "path": plan["path"]}
        if plan["path"] == "eigh":
            kern, a = self._fit_eigh(X, yc, kerns, info)
        elif plan["path"] == "exact":
            kern, a = self._fit_exact(X, yc, kerns, perm, plan, rng, info)
        else:
            from learners.krr_falkon import fit_falkon

            kern, a, self.X_fit_, self.dual_coef_ = fit_falkon(
                self, X, yc, kerns, perm, plan, rng, info)
        self.kernel_ = kern
        self.alpha_ = float(a)
        self.bandwidth_ = float(getattr(kern, "bandwidth", 1.0))
        info.update(kern.info(), alpha=self.alpha_, fit_seconds=time.perf_counter() - t0)
        self.fit_info_ = info
        return self

    def _fit_eigh(self, X, y, kerns, info):
        """Exact LOO over bandwidths x ridges on all n: one eigendecomposition per bandwidth."""
        best, curves = None, {}
        for kern in kerns:
            K = kern(X)
            ridges = self._ridge_grid(float(np.mean(np.diag(K))))
            w, V = eigh_sym(K)
            loo = loo_errors_eigh(w, V, y, ridges)
            j = pick_best(loo)
            curves[f"{kern.bandwidth:.4g}"] = float(loo[j])
            if best is None or loo[j] < best[3]:
                best = (kern, ridges, j, float(loo[j]), w, V)
        kern, ridges, j, loo, w, V = best
        self.dual_coef_, self.X_fit_ = eigh_solution(w, V, y, ridges[j]), X
        info.update(solver="eigh", dtype="float64", tuning="loo", loo_mse=loo,
                    loo_by_bandwidth=curves)
        return kern, ridges[j]

    def _probe(self, kern, X, rng):
        """Spectrum of K_n predicted from a subsample, lambda_k(K_n) ~ (n / m) lambda_k(K_m)
        (decreasing): it predicts PCG iterations and lambda_max, and chooses nothing."""
        n = X.shape[0]
        m = min(n, PROBE_MAX, max(500, n // 4))
        sub = np.sort(rng.choice(n, m, replace=False))
        w = torch.linalg.eigvalsh(torch.from_numpy(kern(X[sub]))).numpy()
        return np.maximum(w[::-1], 0) * n / m

    def _fit_exact(self, X, y, kerns, perm, plan, rng, info):
        """Hold-out over bandwidths x ridges, then the solve on all n at the winning pair."""
        n = X.shape[0]
        tuned = len(kerns) > 1 or self.alpha is None
        n_v = holdout_size(n, self.val_fraction) if tuned else 0
        n_t = n - n_v
        Xp, yp = X[perm], y[perm]
        dtype = np.dtype(np.float64 if plan["itemsize"] == 8 else np.float32)
        tol = self._tol(dtype)
        self.X_fit_, self.dual_coef_ = X, np.empty(n)
        if not tuned:
            kern = kerns[0]
            spec = self._probe(kern, Xp, rng)
            self.dual_coef_[perm] = solve_full(kern, Xp, yp, float(self.alpha), dtype, spec,
                                               tol, info=info)
            info.update(dtype=dtype.name, tuning="fixed", n_val=0)
            return kern, float(self.alpha)
        results, hint, scorer = [], None, None
        for kern in kerns:
            if scorer is not None:
                scorer.release()
            spec = self._probe(kern, Xp, rng)
            ridges = self._ridge_grid(float(np.mean(kern.diag(Xp))))
            floor = 10.0 * cost.EPS32 * float(spec[0]) if dtype == np.float32 else 0.0
            ridges_ok = ridges[ridges >= floor] if floor > 0 else ridges
            if ridges_ok.size == 0:
                ridges_ok = ridges[-1:]
            start = None
            if hint is not None:  # the previous bandwidth's best (relative ridges carry over)
                start = int(min(max(hint - (len(ridges) - len(ridges_ok)), 0),
                                len(ridges_ok) - 1))
            scorer = HoldoutScorer(kern, Xp, yp, n_t, dtype, spec, tol)
            scorer.search(ridges_ok, start)
            j, err = scorer.best()
            hint = j + (len(ridges) - len(ridges_ok))
            results.append({"kern": kern, "ridges": ridges_ok, "j": j, "err": err,
                            "spec": spec, "warm": scorer.warm.get(j), "info": scorer.info,
                            "errors": dict(scorer.errors), "floor": floor, "scorer": scorer})
        k = int(np.argmin([r["err"] for r in results]))
        best = results[k]
        reuse = best["scorer"].K if (best["scorer"] is scorer and scorer.factor is None) else None
        for r in results:
            r.pop("scorer")
        scorer = None
        kern, ridges, j = best["kern"], best["ridges"], best["j"]
        a = float(ridges[j])
        self.dual_coef_[perm] = solve_full(kern, Xp, yp, a, dtype, best["spec"], tol,
                                           warm=best["warm"], K=reuse, info=info)
        sinfo = best["info"]
        info.update(
            dtype=dtype.name, tuning="holdout", n_val=n_v, holdout_mse=best["err"],
            holdout_curve=[[float(ridges[i]), e] for i, e in sorted(best["errors"].items())],
            holdout_by_bandwidth={f"{r['kern'].bandwidth:.4g}": r["err"] for r in results},
            cholesky_ridges=sinfo["cholesky_ridges"], pcg_iterations=sinfo["pcg_iterations"],
            factor_pcg_iterations=sinfo["factor_pcg_iterations"],
            factorisations=sum(len(r["info"]["cholesky_ridges"]) for r in results),
            lambda_max_est=float(best["spec"][0]))
        if best["floor"] > 0:
            info["ridge_floor"] = best["floor"]
        return kern, a

    # ----------------------------------------------------------------- predict
    def predict(self, X):
        X = np.asarray(X, dtype=np.float64)
        f = kz.kernel_matvec(self.kernel_, X, self.X_fit_, self.dual_coef_)
        return f + self.intercept_

    # ----------------------------------------------------------------- resources
    def resources(self, n, d):
        """Predicted peak memory [bytes] and fit time [s] of the path ``plan(n, d)`` picks.

        eigh: 3 n^2 float64 (K, eigenvectors, their squares), 10 n^3 flops per bandwidth.
        exact: one n^2 matrix + the probe; time per bandwidth = probe + kernel build + PCG
        budget (half a training-block Cholesky) + ~1.5 training-block Cholesky factors, then
        one build and one Cholesky on all n.
        nystrom: n m K_nm (or one block) + a few m^2 factors; ~40 passes per bandwidth.
        """
        p = self.plan(int(n), int(d))
        nb = 1 if self.bandwidth is not None else len(self.bandwidth_grid)
        base = 8.0 * n * d * 3 + 2**27
        if p["path"] == "eigh":
            return Resources(base + 3 * 8.0 * n * n, nb * 10.0 * n**3 / cost.FLOPS[8])
        m_s = min(n, PROBE_MAX, max(500, n // 4))
        probe_mem, probe_t = 3 * 8.0 * m_s**2, 10.0 * m_s**3 / cost.FLOPS[8]
        item = p["itemsize"]
        build = cost.build_seconds(n, n, d, item)
        if p["path"] == "exact":
            n_t = n - holdout_size(n, self.val_fraction)
            mem = item * n * n + 8.0 * n * (3 * cost.precond_m(n, m_s) + 60) + probe_mem
            t_tt = cost.cholesky_seconds(n_t, item)
            per_bw = probe_t + build + 2.0 * t_tt
            return Resources(base + mem, nb * per_bw + build + cost.cholesky_seconds(n, item))
        m = p["m"]
        knm = n * m * item if n * m * item <= 0.6 * self._limit() else 64 * 2**20
        mem = knm + 4.0 * m * m * 8 + 8.0 * n * 20
        t_build = cost.build_seconds(n, m, d, item)
        passes = 40 * (1 if knm < n * m * item else t_build / cost.pass_seconds(n, m, 3, item))
        per_bw = t_build + passes * 2 * cost.pass_seconds(n, m, 3, 8) + 4 * m**3 / cost.FLOPS[8]
        return Resources(base + mem, nb * per_bw + per_bw)
