"""Least-squares diagnostics used to verify the tasks (degrees, per-level variance shares).

* ``polynomial_r2(X, y, degree)``: R^2 of the least-squares fit of y on all monomials of X up to
  ``degree`` (constant included).  A target of degree p gives R^2 = 1 (up to round-off) at degree p
  on noiseless data with enough samples, and R^2 < 1 at degree p - 1 unless it has no degree-p part.
* ``incremental_r2(levels, y)``: the increase in R^2 as each level's features join a least-squares
  fit on the features of the levels below it (constant included): the "share beyond the levels
  below" that ``Task.level_shares`` reports; ``incremental_r2_lstsq`` is its slow, rank-robust
  reference (one least-squares fit per level).
* ``gauss_hermite_grid`` / ``hermite_degree_profile``: exact population versions for Gaussian
  inputs in small d.  A tensor Gauss-Hermite rule with n nodes per axis integrates polynomials of
  degree <= 2n - 1 in each variable exactly, so for f of degree <= n - 1 the Hermite coefficients
  c_a = E[f(x) prod_j h_{a_j}(x_j)] and the energy of each total degree, sum_{|a| = m} c_a^2, are
  exact: no Monte Carlo error and no heavy-tail problem.
* ``cube_points`` / ``walsh_degree_profile``: the same on {-1, +1}^d by enumerating all 2^d points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
from sklearn.preprocessing import PolynomialFeatures

from tasks.hermite import hermite_table


def monomial_features(X: np.ndarray, degree: int) -> np.ndarray:
    """All monomials of the columns of X up to ``degree``, constant first: (n, C(d + degree, d))."""
    return PolynomialFeatures(degree=degree, include_bias=True).fit_transform(X)


def lstsq_r2(F: np.ndarray, y: np.ndarray) -> float:
    """R^2 = 1 - ||y - F w||^2 / ||y - mean(y)||^2 of the least-squares fit y ~ F w.

    F should contain a constant column; columns are rescaled to unit norm for conditioning.
    """
    y = np.asarray(y, dtype=np.float64)
    scale = np.linalg.norm(F, axis=0)
    scale[scale == 0] = 1.0
    w, *_ = scipy.linalg.lstsq(F / scale, y, lapack_driver="gelsy", check_finite=False)
    resid = y - (F / scale) @ w
    tot = np.sum((y - y.mean()) ** 2)
    return float(1.0 - resid @ resid / tot)


def polynomial_r2(X: np.ndarray, y: np.ndarray, degree: int) -> float:
    """R^2 of the least-squares fit of y on all monomials of X up to ``degree``."""
    return lstsq_r2(monomial_features(X, degree), y)


def incremental_r2(levels: Sequence[np.ndarray], y: np.ndarray,
                   weights: np.ndarray | None = None) -> list[float]:
    """Increase of R^2 as each level's features (n, k_l) join the fit on the lower levels.

    ``weights`` (n,), summing to 1, turn the sample into a quadrature rule (population values).

    One Cholesky factorisation of the Gram matrix of [1, F_1, ..., F_L, y] (columns scaled to unit
    norm): with A = [M, y] = Q R, the entries R[i, -1] are the coordinates of y in the orthonormal
    basis Q, so each level's increase in R^2 is the sum of their squares over its block of rows.
    Falls back to least squares when the features are (numerically) collinear.
    """
    n = y.shape[0]
    feats = [np.asarray(F, dtype=np.float64).reshape(n, -1) for F in levels]
    A = np.hstack([np.ones((n, 1))] + feats + [np.asarray(y, dtype=np.float64)[:, None]])
    if weights is not None:
        A = A * np.sqrt(np.asarray(weights, dtype=np.float64))[:, None]
    scale = np.linalg.norm(A, axis=0)
    scale[scale == 0] = 1.0
    A = A / scale
    try:
        # tiny ridge: y may lie exactly in the span of the features (then A^T A is singular)
        R = np.linalg.cholesky(A.T @ A + 1e-12 * np.eye(A.shape[1])).T
    except np.linalg.LinAlgError:
        if weights is not None:
            raise
        return incremental_r2_lstsq(feats, y)
    coords = R[:-1, -1] ** 2
    tss = coords.sum() + R[-1, -1] ** 2 - coords[0]  # total minus the constant's part
    bounds = np.cumsum([1] + [F.shape[1] for F in feats])
    return [float(coords[bounds[i]:bounds[i + 1]].sum() / tss) for i in range(len(feats))]


def incremental_r2_lstsq(feats: Sequence[np.ndarray], y: np.ndarray) -> list[float]:
    """Slow, rank-robust version of :func:`incremental_r2` (one least-squares fit per level)."""
    n = y.shape[0]
    cols = [np.ones((n, 1))]
    out, prev = [], 0.0
    for F in feats:
        cols.append(F)
        r2 = lstsq_r2(np.hstack(cols), y)
        out.append(r2 - prev)
        prev = r2
    return out


def incremental_r2_se(levels: Sequence[np.ndarray], y: np.ndarray,
                      n_batches: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Per-level shares on the whole sample and their standard errors from batch means.

    The sample is split into ``n_batches`` contiguous batches; the standard error is the standard
    deviation of the per-batch shares over sqrt(n_batches).  Heavy-tailed targets make this an
    underestimate (rare large values dominate the variance), so use it as a floor.
    """
    n = y.shape[0]
    whole = np.array(incremental_r2(levels, y))
    edges = np.linspace(0, n, n_batches + 1).astype(int)
    per = np.array([incremental_r2([F[a:b] for F in levels], y[a:b])
                    for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return whole, per.std(axis=0, ddof=1) / np.sqrt(n_batches)


def gauss_hermite_grid(d: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss-Hermite rule for N(0, I_d): nodes (n^d, d) in C order, weights (n^d,), sum 1."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * d), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.ones(1)
    for _ in range(d):
        weights = np.multiply.outer(weights, w).ravel()
    return nodes, weights


def hermite_degree_profile(values: np.ndarray, d: int, n: int) -> np.ndarray:
    """Energy E[f_m^2] of each total Hermite degree m = 0..d(n-1) of f, from f on the grid.

    ``values`` is f at ``gauss_hermite_grid(d, n)[0]``; exact when f has degree <= n - 1 in each
    variable.  The entries sum to E[f^2]; entry 0 is E[f]^2.
    """
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    H = hermite_table(x, n - 1) * w[:, None]  # (node, degree)
    C = np.asarray(values, dtype=np.float64).reshape((n,) * d)
    for axis in range(d):
        C = np.moveaxis(np.tensordot(C, H, axes=([axis], [0])), -1, axis)
    degree = np.add.reduce(np.indices((n,) * d), axis=0)
    return np.bincount(degree.ravel(), weights=(C**2).ravel(), minlength=d * (n - 1) + 1)


def cube_points(d: int) -> np.ndarray:
    """All 2^d points of {-1, +1}^d, shape (2^d, d): row i has x_j = (-1)^(bit j of i)."""
    i = np.arange(2**d)[:, None]
    return 1.0 - 2.0 * ((i >> np.arange(d)) & 1)


def walsh_degree_profile(values: np.ndarray, d: int) -> np.ndarray:
    """Energy of each Walsh degree m = 0..d of f given at ``cube_points(d)`` (exact)."""
    c = np.asarray(values, dtype=np.float64).copy()
    h = 1
    while h < c.size:  # fast Walsh-Hadamard transform
        c = c.reshape(-1, 2, h)
        c = np.stack([c[:, 0] + c[:, 1], c[:, 0] - c[:, 1]], axis=1).reshape(-1)
        h *= 2
    c /= c.size
    degree = np.array([bin(s).count("1") for s in range(c.size)])
    return np.bincount(degree, weights=c**2, minlength=d + 1)
