"""Polynomial-features regression (``poly_features``): linear regression over a feature mapping.

Features: every monomial of degree 1..q in the d inputs (the constant is the intercept), either
plain monomials prod_i x_i^{k_i} or products of normalised probabilists' Hermite polynomials
prod_i He_{k_i}(x_i) / sqrt(k_i!) (``basis="hermite"``, orthonormal under N(0, I) inputs, so the
Gram matrix is well conditioned).  Number of features p = C(d + q, q) - 1.

f(x) = b + w.phi(x) with min |Phi w + b - y|^2 + a |w|^2 (b unpenalised, i.e. Phi and y centred),
a = rel * mean |phi|^2 chosen by exact
leave-one-out over ``alpha_grid`` from one eigendecomposition of the smaller Gram matrix
(:func:`learners.ridge_tuning.fit_linear_loo`).  This is the "linear regression over feature
mappings" baseline: it needs n ~ d^q samples for degree-q targets.  p is checked against the
memory cap before anything is allocated.
"""

from __future__ import annotations

import itertools
import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from learners.base import Family, HierbenchLearner, Resources
from learners.ridge_tuning import default_ridge_grid, fit_linear_loo

BASES = ("hermite", "monomial")
#: ``degree = "task"``: the harness replaces it by the task's polynomial degree before the fit
TASK_DEGREE = "task"


def n_poly_features(d: int, q: int) -> int:
    """Monomials of degree 1..q in d variables: C(d + q, q) - 1."""
    return math.comb(d + q, q) - 1


def _univariate(X: np.ndarray, q: int, basis: str) -> list[np.ndarray]:
    """P[k] = He_k(X) / sqrt(k!) (or X^k), k = 0..q, each (n, d); He_{k+1} = x He_k - k He_{k-1}."""
    P = [np.ones_like(X), X.copy()]
    raw = [np.ones_like(X), X.copy()]
    for k in range(1, q):
        raw.append(X * raw[k] - (k * raw[k - 1] if basis == "hermite" else 0.0))
        P.append(raw[k + 1] / (math.sqrt(math.factorial(k + 1)) if basis == "hermite" else 1.0))
    return P[: q + 1]


def poly_features(X: np.ndarray, q: int, basis: str = "hermite") -> np.ndarray:
    """Phi(X), shape (n, C(d + q, q) - 1), columns ordered by degree then lexicographically.

    Built feature by feature into the rows of a (p, n) array (each a contiguous product of at
    most q univariate rows) and returned as its transpose, a Fortran-ordered (n, p) view: writing
    columns of a C-ordered (n, p) array strides through memory and was ~7x slower at n = 8192,
    p = 4844.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    P = [np.ascontiguousarray(a.T) for a in _univariate(X, q, basis)]  # P[k][i] = h_k(x_i), (n,)
    out = np.empty((n_poly_features(d, q), n))
    col = 0
    for deg in range(1, q + 1):
        for combo in itertools.combinations_with_replacement(range(d), deg):
            factors = [P[combo.count(v)][v] for v in sorted(set(combo))]
            row = out[col]
            if len(factors) == 1:
                row[:] = factors[0]
            else:
                np.multiply(factors[0], factors[1], out=row)
                for f in factors[2:]:
                    row *= f
            col += 1
    return out.T


class PolyFeaturesRegressor(HierbenchLearner):
    """Ridge regression on all monomials (or Hermite products) of degree <= ``degree``.

    Parameters: ``degree`` q (an int >= 1, or ``"task"``: the task's degree, filled in by the
    harness where the learner is built from a job, so the baseline has the right degree on every
    task); ``basis`` in {hermite, monomial}; ``alpha_grid`` relative ridges; ``fit_intercept``;
    ``memory_limit_gb`` cap checked before the features are built (MemoryError past it).
    ``fit_info_["degree"]`` is the degree used.
    """

    family = Family.NON_HIERARCHICAL
    _parameter_constraints: ClassVar[dict] = {
        "degree": [Interval(Integral, 1, None, closed="left"), StrOptions({TASK_DEGREE})],
        "basis": [StrOptions(set(BASES))],
        "alpha_grid": ["array-like", None],
        "fit_intercept": ["boolean"],
        "memory_limit_gb": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, degree=2, basis="hermite", alpha_grid=None, fit_intercept=True,
                 memory_limit_gb=3.5):
        self.degree = degree
        self.basis = basis
        self.alpha_grid = alpha_grid
        self.fit_intercept = fit_intercept
        self.memory_limit_gb = memory_limit_gb

    def fit(self, X, y):
        self._validate_params()
        if self.degree == TASK_DEGREE:
            raise ValueError("poly_features: parameter 'degree' = 'task' was not resolved; "
                             "the harness sets it from the task's degree, elsewhere pass an int")
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        n, d = X.shape
        need = self.resources(n, d).memory_bytes
        if need > self.memory_limit_gb * 2**30:
            raise MemoryError(f"poly_features: p={n_poly_features(d, self.degree)} features at "
                              f"n={n} need {need / 2**30:.1f} GiB > {self.memory_limit_gb} GiB")
        rel = default_ridge_grid() if self.alpha_grid is None else np.asarray(self.alpha_grid)
        Phi = poly_features(X, self.degree, self.basis)
        p = Phi.shape[1]
        self.coef_, self.intercept_, self.alpha_, _, loo = fit_linear_loo(
            Phi, y, rel, self.fit_intercept)
        self.fit_info_ = {"degree": int(self.degree), "basis": self.basis, "p": p,
                          "alpha": self.alpha_, "loo_mse": float(loo.min()), "solver": "eigh",
                          "dtype": "float64"}
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=np.float64)
        p = self.coef_.shape[0]
        step = max(1, (64 * 2**20) // (8 * p))
        out = np.concatenate([poly_features(X[i:i + step], self.degree, self.basis) @ self.coef_
                              for i in range(0, X.shape[0], step)])
        return out + self.intercept_

    def resources(self, n, d):
        """Memory: Phi (n p), Gram/eigenvectors 3 k^2 and U (n k), k = min(n, p) [float64].

        Time: n p q (features) + 2 n p k (Gram) + 10 k^3 (eigendecomposition) flops at 4e10/s.
        ``limit_bytes``: ``memory_limit_gb``, past which ``fit`` raises MemoryError.
        With ``degree = "task"`` still unresolved the cost is unknown (seconds None).
        """
        limit = float(self.memory_limit_gb) * 2**30  # fit refuses past it
        if self.degree == TASK_DEGREE:  # not known before the harness resolves it
            return Resources(8.0 * 4 * n * d, None, limit)
        p = n_poly_features(d, self.degree)
        k = min(n, p)
        mem = 8.0 * (2 * n * p + 3 * k * k + n * k + n * d)
        t = (1.0 * n * p * self.degree + 2.0 * n * p * k + 10.0 * k**3) / 4e10
        return Resources(mem, t, limit)
