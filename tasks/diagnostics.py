"""Least-squares diagnostics used to verify the tasks (degrees, per-level variance shares).

* ``polynomial_r2(X, y, degree)``: R^2 of the least-squares fit of y on all monomials of X up to
  ``degree`` (constant included).  A target of degree p gives R^2 = 1 (up to round-off) at degree p
  on noiseless data with enough samples, and R^2 < 1 at degree p - 1 unless it has no degree-p part.
* ``incremental_r2(levels, y)``: the increase in R^2 as each level's features join a least-squares
  fit on the features of the levels below it (constant included): the "share beyond the levels
  below" that ``Task.level_shares`` reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import PolynomialFeatures


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
    w, *_ = np.linalg.lstsq(F / scale, y, rcond=None)
    resid = y - (F / scale) @ w
    tot = np.sum((y - y.mean()) ** 2)
    return float(1.0 - resid @ resid / tot)


def polynomial_r2(X: np.ndarray, y: np.ndarray, degree: int) -> float:
    """R^2 of the least-squares fit of y on all monomials of X up to ``degree``."""
    return lstsq_r2(monomial_features(X, degree), y)


def incremental_r2(levels: Sequence[np.ndarray], y: np.ndarray) -> list[float]:
    """Increase of R^2 as each level's features (n, k_l) join the fit on the lower levels."""
    n = y.shape[0]
    cols = [np.ones((n, 1))]
    out, prev = [], 0.0
    for feats in levels:
        cols.append(np.asarray(feats, dtype=np.float64).reshape(n, -1))
        r2 = lstsq_r2(np.hstack(cols), y)
        out.append(r2 - prev)
        prev = r2
    return out
