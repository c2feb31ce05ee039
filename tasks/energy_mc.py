"""Unbiased Monte Carlo estimate of the energy by Hermite degree (Mehler / Ornstein-Uhlenbeck).

For f: R^d -> R^L square-integrable under N(0, I_d) and rho in [-1, 1], let (X, Y_rho) be
rho-correlated standard Gaussian vectors, Y_rho = rho X + sqrt(1 - rho^2) X'.  Mehler's formula
gives, with P_m the projection on Hermite degree m,

    C(rho) = E[f(X) f(Y_rho)^T] = sum_m rho^m G_m,      G_m = E[P_m f (P_m f)^T]   (L x L).

For a polynomial f of degree D, C is a polynomial of degree D in rho: its values at D + 1 nodes
rho_j (Chebyshev points cos(pi j / D)) determine G_m = sum_j (V^-1)_{mj} C(rho_j), V_{jm} =
rho_j^m.  Averaging sum_j (V^-1)_{mj} f(X_i) f(Y_{rho_j, i})^T over n independent pairs i is an
unbiased estimate of G_m.  Pairs are drawn in batches; the spread of the batch means gives the
standard error (central limit theorem over batches).  Heavy-tailed f and the inverse Vandermonde
both inflate the variance (at degree 16 beyond use): this is a fallback for configurations the
exact algebra of :mod:`tasks.hermite_algebra` cannot reach.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def mehler_gram(func: Callable[[np.ndarray], np.ndarray], d: int, degree: int, n: int,
                rng: np.random.Generator, n_batches: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Estimate G_m (degree + 1, L, L) of ``func`` (maps (b, d) to (b, L)) from n pairs.

    Returns the estimate and the ``n_batches`` batch means (n_batches, degree + 1, L, L) whose
    mean it is (equal batch sizes, n rounded down to a multiple of n_batches).
    """
    D = int(degree)
    rho = np.cos(np.pi * np.arange(D + 1) / D)
    Vinv = np.linalg.inv(rho[:, None] ** np.arange(D + 1)[None, :])  # (m, j)
    size = max(1, int(n) // n_batches)
    batches = []
    for _ in range(n_batches):
        X, Xp = rng.standard_normal((size, d)), rng.standard_normal((size, d))
        FX = np.asarray(func(X), dtype=np.float64)
        C = np.empty((D + 1, FX.shape[1], FX.shape[1]))
        for j, r in enumerate(rho):
            FY = np.asarray(func(r * X + np.sqrt(max(0.0, 1.0 - r * r)) * Xp), dtype=np.float64)
            M = FX.T @ FY / size
            C[j] = 0.5 * (M + M.T)
        batches.append(np.einsum("mj,jlk->mlk", Vinv, C))
    B = np.stack(batches)
    return B.mean(axis=0), B
