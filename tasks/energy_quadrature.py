"""Exact Hermite coefficients and energies by degree from a tensor Gauss-Hermite rule.

For u ~ N(0, I_d) and a polynomial f of degree <= D in each coordinate, the normalised Hermite
coefficient of every multi-index alpha (alpha_j <= D) is

    c_alpha = E[f(u) h_alpha(u)] = sum_i w_i f(x_i) h_alpha(x_i),   h_alpha = prod_j h_{alpha_j},

exactly, with the tensor rule of n nodes per axis when 2n - 1 >= 2D (each coordinate's integrand
has degree <= 2D).  The sum separates: with H[i, k] = w_i h_k(x_i) (n x (D + 1)) and F the values
of f on the grid as a (n,)*d tensor, C = F x_1 H x_2 H ... x_d H (a mode product along every
axis), d n^(d+1) flops.  Then E_m(f) = sum_{|alpha| = m} c_alpha^2 and cross terms give the Gram
by degree of several functions.  h_k = He_k / sqrt(k!) (:func:`tasks.hermite.hermite_table`).

Used where the sparse algebra of :mod:`tasks.hermite_algebra` is out of reach but n^d grid
points are affordable (bfc L = 4 at d = 5, 6: 17^6 = 2.4e7 points): exact to round-off, where
the Monte Carlo fallback (:mod:`tasks.energy_mc`) gives E_top +- more than E_top.  Written by hand
because numpy/scipy offer 1-D rules only (``hermegauss``) and no chunked tensor transform.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tasks.hermite import hermite_table

#: grid points evaluated per chunk (memory ~ chunk x d x 8 bytes per array)
CHUNK_POINTS = 2**18


def rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) of the n-point Gauss-Hermite rule for N(0, 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def grid_chunks(d: int, n: int, chunk: int = CHUNK_POINTS
                ) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """(flat positions, nodes (c, d), weights (c,)) over the n^d tensor grid in C order."""
    x, w = rule(n)
    total = n**d
    for a in range(0, total, chunk):
        b = min(a + chunk, total)
        idx = np.stack(np.unravel_index(np.arange(a, b), (n,) * d), axis=1)
        yield slice(a, b), x[idx], np.prod(w[idx], axis=1)


def coefficients(values: np.ndarray, d: int, n: int, max_degree: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients c_alpha of the function with these grid ``values`` (n^d,), for every
    alpha with |alpha| <= max_degree: (multi-indices (A, d), c (A,)), exact when the function
    has degree <= min(max_degree, n - 1) in each coordinate and 2n - 1 >= 2 max_degree."""
    x, w = rule(n)
    top = min(max_degree, n - 1)
    H = hermite_table(x, top) * w[:, None]  # (node, degree)
    C = np.asarray(values, dtype=np.float64).reshape((n,) * d)
    for axis in range(d):
        C = np.moveaxis(np.tensordot(C, H, axes=([axis], [0])), -1, axis)
    alpha = np.indices((top + 1,) * d).reshape(d, -1).T
    keep = alpha.sum(axis=1) <= max_degree
    return alpha[keep], C.reshape(-1)[keep]


def gram_by_degree(alpha: np.ndarray, coef: np.ndarray, max_degree: int) -> np.ndarray:
    """G[m] = sum_{|alpha| = m} c_alpha c_alpha^T for coef (L, A): shape (max_degree + 1, L, L)."""
    deg = alpha.sum(axis=1)
    G = np.zeros((max_degree + 1, coef.shape[0], coef.shape[0]))
    for m in range(max_degree + 1):
        c = coef[:, deg == m]
        G[m] = c @ c.T
    return G
