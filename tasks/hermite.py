"""Hermite polynomials and random orthogonal matrices shared by the Gaussian-input tasks.

Probabilists' Hermite polynomials He_n satisfy the three-term recurrence

    He_0(z) = 1,   He_1(z) = z,   He_{n+1}(z) = z He_n(z) - n He_{n-1}(z),

and are orthogonal under the standard Gaussian: E[He_m(Z) He_n(Z)] = n! [m = n] for Z ~ N(0, 1).
The normalised polynomials h_n = He_n / sqrt(n!) are therefore orthonormal, and products
prod_i h_{a_i}(z_i) over distinct coordinates of z ~ N(0, I_r) are orthonormal across multi-indices
a.  A sum of such products with coefficients c_a has mean c_0 and variance sum_{a != 0} c_a^2 in
closed form, which is how the tasks normalise their targets exactly where they can.
"""

from __future__ import annotations

import math

import numpy as np


def hermite_e(n: int, z: np.ndarray) -> np.ndarray:
    """Probabilists' Hermite polynomial He_n evaluated elementwise at z (any shape)."""
    if n < 0:
        raise ValueError(f"hermite: degree must be >= 0, got {n}")
    z = np.asarray(z, dtype=np.float64)
    prev, cur = np.ones_like(z), z.copy()
    if n == 0:
        return prev
    for m in range(1, n):
        prev, cur = cur, z * cur - m * prev
    return cur


def hermite_norm(n: int, z: np.ndarray) -> np.ndarray:
    """Normalised Hermite polynomial h_n = He_n / sqrt(n!): E[h_n(Z)^2] = 1 for Z ~ N(0, 1)."""
    return hermite_e(n, z) / math.sqrt(math.factorial(n))


def hermite_table(z: np.ndarray, n_max: int) -> np.ndarray:
    """All normalised h_0..h_{n_max} at z: shape z.shape + (n_max + 1,), one recurrence pass."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty(z.shape + (n_max + 1,))
    out[..., 0] = 1.0
    if n_max >= 1:
        out[..., 1] = z
    for m in range(1, n_max):
        # He_{m+1} = z He_m - m He_{m-1}, rewritten for h_m = He_m / sqrt(m!)
        out[..., m + 1] = (z * out[..., m] - math.sqrt(m) * out[..., m - 1]) / math.sqrt(m + 1)
    return out


def hermite_coefficients(n: int, normalised: bool = True) -> np.ndarray:
    """Monomial coefficients of He_n (or h_n), lowest power first (numpy.polynomial convention)."""
    unit = np.zeros(n + 1)
    unit[n] = 1.0
    coef = np.polynomial.hermite_e.herme2poly(unit)
    return coef / math.sqrt(math.factorial(n)) if normalised else coef


def random_orthonormal_rows(r: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random r x d matrix with orthonormal rows (r <= d): U U^T = I_r."""
    if not 1 <= r <= d:
        raise ValueError(f"orthonormal rows: need 1 <= r <= d, got r={r}, d={d}")
    G = rng.standard_normal((d, r))
    Q, R = np.linalg.qr(G)
    # sign fix makes the law exactly Haar (QR alone is biased by the sign convention)
    Q = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
    return Q.T.copy()


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random d x d orthogonal matrix."""
    return random_orthonormal_rows(d, d, rng)
