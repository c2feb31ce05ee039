"""Kernel ridge regression (``krr``), tuned inside its n samples, exact up to the memory cap.

Model: f(x) = b + sum_i c_i k(x, x_i) with (K + a I) c = y - b, b = mean(y) (``fit_intercept``).

Tuning (when ``bandwidth``/``alpha`` are None): the bandwidth is the median heuristic s0 times
``bandwidth_grid``; the ridge a is ``alpha_grid`` (relative) times mean(diag K).  For n <=
``tune_max`` every (bandwidth, ridge) pair is scored by exact leave-one-out from one
eigendecomposition per bandwidth (:mod:`learners.ridge_tuning`), and the solution comes from the
same eigenpairs.  Above ``tune_max`` the bandwidth and ridge are scored the same way on a random
subsample of ``tune_max`` points, and the final system on all n is solved once by an in-place
Cholesky factorisation.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg as sla

from learners import kernels as kz
from learners.base import HierbenchLearner, Resources
from learners.ridge_tuning import (
    default_ridge_grid,
    eigh_solution,
    loo_errors_eigh,
    pick_best,
)

#: sustained matrix-product rate assumed by the time model [flop/s]
FLOPS = 4e10


class KernelRidgeLearner(HierbenchLearner):
    """Kernel ridge regression with the bandwidth and ridge tuned inside the n samples.

    Parameters: ``kernel`` in {rbf, laplace, polynomial, arccos}; ``bandwidth`` (None = tuned,
    float = fixed, absolute); ``bandwidth_grid`` multipliers of the median heuristic; ``degree``
    and ``coef0`` of the polynomial kernel; ``alpha`` (None = tuned, float = fixed absolute ridge,
    scikit-learn's ``alpha``); ``alpha_grid`` relative ridges; ``tune_max`` largest n tuned by
    exact LOO; ``memory_limit_gb`` cap on one n x n matrix; ``random_state`` seeds subsampling.
    """

    family = "non-hierarchical"

    def __init__(self, kernel="rbf", bandwidth=None, bandwidth_grid=(0.5, 1.0, 2.0), degree=3,
                 coef0=1.0, alpha=None, alpha_grid=None, fit_intercept=True, tune_max=2000,
                 memory_limit_gb=3.5, random_state=None):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.bandwidth_grid = bandwidth_grid
        self.degree = degree
        self.coef0 = coef0
        self.alpha = alpha
        self.alpha_grid = alpha_grid
        self.fit_intercept = fit_intercept
        self.tune_max = tune_max
        self.memory_limit_gb = memory_limit_gb
        self.random_state = random_state

    # ----------------------------------------------------------------- helpers
    def _kparams(self, s):
        return {"kernel": self.kernel, "bandwidth": float(s), "degree": self.degree,
                "coef0": self.coef0}

    def _rng(self):
        return np.random.default_rng(0 if self.random_state is None else self.random_state)

    def _bandwidths(self, X, rng):
        if self.bandwidth is not None:
            return np.array([float(self.bandwidth)])
        s0 = kz.reference_scale(X, self.kernel, rng)
        return s0 * np.asarray(self.bandwidth_grid, dtype=float)

    def _ridge_grid(self, kdiag_mean):
        if self.alpha is not None:
            return np.array([float(self.alpha)])
        rel = default_ridge_grid() if self.alpha_grid is None else np.asarray(self.alpha_grid)
        return np.sort(rel) * kdiag_mean

    # ----------------------------------------------------------------- tuning
    def _tune_eigh(self, X, y, bandwidths):
        """Exact LOO over bandwidths x ridges; returns (s, a, loo, eigenpairs of best s)."""
        best = None
        for s in bandwidths:
            kp = self._kparams(s)
            K = kz.kernel_matrix(X, **kp)
            ridges = self._ridge_grid(float(np.mean(np.diag(K))))
            w, V = sla.eigh(K, overwrite_a=True, check_finite=False, driver="evd")
            loo = loo_errors_eigh(w, V, y, ridges)
            j = pick_best(loo)
            if best is None or loo[j] < best[2]:
                best = (float(s), float(ridges[j]), float(loo[j]), (w, V))
        return best

    # ----------------------------------------------------------------- fit
    def fit(self, X, y):
        t0 = time.perf_counter()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        rng = self._rng()
        n = X.shape[0]
        self.intercept_ = float(np.mean(y)) if self.fit_intercept else 0.0
        yc = y - self.intercept_
        bandwidths = self._bandwidths(X, rng)
        fixed = self.alpha is not None and len(bandwidths) == 1
        info = {"kernel": self.kernel, "n": n, "dtype": "float64"}
        if n <= self.tune_max and not fixed:
            s, a, loo, (w, V) = self._tune_eigh(X, yc, bandwidths)
            self.dual_coef_ = eigh_solution(w, V, yc, a)
            info.update(solver="eigh", tuning="loo", loo_mse=loo)
        else:
            if fixed:
                s, a = float(bandwidths[0]), float(self.alpha)
                info.update(tuning="fixed")
            else:
                sub = np.sort(rng.choice(n, self.tune_max, replace=False))
                s, a, loo, _ = self._tune_eigh(X[sub], yc[sub], bandwidths)
                info.update(tuning="loo-subsample", tune_n=int(self.tune_max), loo_mse=loo)
            self.dual_coef_ = self._solve_cholesky(X, yc, s, a)
            info.update(solver="cholesky")
        self.X_fit_ = X
        self.bandwidth_ = s
        self.alpha_ = a
        info.update(bandwidth=s, alpha=a, fit_seconds=time.perf_counter() - t0)
        self.fit_info_ = info
        return self

    def _solve_cholesky(self, X, y, s, a):
        """c = (K + a I)^{-1} y by an in-place Cholesky of the symmetric K (C == F order)."""
        K = kz.kernel_matrix(X, **self._kparams(s))
        K.flat[:: K.shape[0] + 1] += a
        # K is symmetric: its C buffer is the Fortran-ordered K^T = K, so LAPACK needs no copy
        cf = sla.cho_factor(K.T, lower=True, overwrite_a=True, check_finite=False)
        return sla.cho_solve(cf, y, check_finite=False)

    def predict(self, X):
        X = np.asarray(X, dtype=np.float64)
        f = kz.kernel_matvec(X, self.X_fit_, self.dual_coef_, **self._kparams(self.bandwidth_))
        return f + self.intercept_

    # ----------------------------------------------------------------- resources
    def resources(self, n, d):
        """Peak memory [bytes] and time [s]: one n x n float64 matrix, a Cholesky, the tuning."""
        m = min(n, self.tune_max)
        mem = 8.0 * n * n + 3 * 8.0 * m * m + 8.0 * n * d * 4
        flops = n**3 / 3 + 2 * n * n * d + len(self.bandwidth_grid) * 10 * m**3
        return Resources(memory_bytes=mem, seconds=flops / FLOPS)
