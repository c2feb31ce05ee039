"""Hierarchical quadratic target of Allen-Zhu & Li, "Backward Feature Correction" (COLT 2023,
arXiv 2001.04413).

Target
------
x ~ N(0, I_d), R a Haar-random d x d rotation, u = R x ~ N(0, I_d), sigma(z) = z^2 elementwise.
Levels l = 0..L with features F_l (F_0 = u, the input level, d features; F_l, l >= 1, has k):

    level 1:       F_1 = std( W_1 sigma(u) )                           W_1: k x d
    level l >= 2:  F_l = std( sigma( sum_{j in J_l} W_{l,j} F_j ) )    W_{l,j}: k x dim(F_j)
    output:        y   = std( sum_{l=1}^L alpha_l Sum(F_l) ),   Sum(F_l) = sum_i F_{l,i}

std(.) standardises each feature to mean 0 and variance 1.  Level 1 is standardised exactly
(E[u_j^2] = 1, Var[u_j^2] = 2, so F_{1,i} = (w_i . sigma(u) - sum_j w_ij) / sqrt(2 ||w_i||^2));
higher levels, the alphas and the output use constants computed once from a reference: exactly,
from a tensor Gauss-Hermite grid with 2^L + 1 nodes per axis, when that grid has at most
``MAX_GRID`` = 10^5 points (d <= 7 at L = 2, d <= 5 at L = 3, d <= 4 at L = 4; every moment needed
then has degree <= 2^(L+1) per variable and is integrated exactly), and otherwise from ``n_ref``
Monte Carlo inputs drawn from the seed.  Weights are random signs times magnitudes uniform in
[0.5, 1.5] (W_{l,j} scaled by 1 / sqrt(|J_l| dim(F_j) 13/12), so every block feeds O(1)
variance to level l).
Each F_{1,i} = x^T A_i x - tr(A_i) with A_i = R^T diag(w_i) R / sqrt(2 ||w_i||^2) of full rank d
(no w_ij is near 0): level 1 is k full-rank quadratic forms, not a function of a k-dimensional
projection of x.  Level l has degree 2^l in x (J_l always contains l - 1).

Variance shares
---------------
Levels are correlated, so level l's share is what it adds beyond the levels below: the increase in
R^2 when F_l joins a least-squares fit of y on (1, F_1, ..., F_{l-1}).  With Q_l the projection on
span(1, F_1..F_l) minus span(1, F_1..F_{l-1}) (on the reference sample), share_l is proportional to
||Q_l sum_{m >= l} alpha_m Sum(F_m)||^2, which is triangular in alpha: alpha_L = 1 and then, from
the top down, alpha_l solves a scalar quadratic, so the shares equal the requested ones exactly on
the reference sample.  If no real root exists (the higher levels already add more to level l than
requested), alpha_l minimises the gap and ``feasible`` is False; ``level_shares()`` always returns
the shares actually achieved (exact population values under quadrature calibration).  Default
shares are geometric: share_l ~ gap^(2(l-1)).
``fixed_alpha=True`` uses the paper's alpha_l = gap^(l-1) instead and reports the shares it yields
(they vary a lot between teachers).  ``info()`` adds alpha, feasibility, the calibration used
and ``share_se``, the batch-means standard error of the shares on the reference sample (0 when
exact).

Heavy tails: level l is a degree-2^l polynomial built from squares of squares; the kurtosis of y
is in the tens to hundreds at L = 3, d = 8, and larger at L = 4.  Monte Carlo estimates of
variances and shares on finite samples are correspondingly noisy: at d = 8, L = 3 the top share
measured on 10^5 fresh samples is typically within a factor 2 of the calibrated one, at L = 4
only within an order of magnitude; at d = 32-64, L = 3 usually within about 10%.  Larger d
(more averaging in level 1) and larger ``n_ref`` help; the class itself (sigma(z) = z^2, no
truncation) is the paper's.  Most of the variance of a level sits well below its top degree
(squaring a Gaussian polynomial puts much of its energy at lower Hermite degrees): at d = 4,
L = 3 the degree-8 Hermite component of y carries ~0.1% of its variance.

Parameters
----------
d, L = 3 (depth, >= 2), k = 4 (width, >= 1), gap = 0.5 (in (0, 1)), shares = None (L positive
numbers, rescaled to sum 1; overrides gap), connections = None (list of L - 1 lists: J_2..J_L,
each a subset of {0..l-1} containing l - 1; default J_l = {0, l - 1}), fixed_alpha = False,
n_ref = 32768 (reference sample size, >= 1000), noise = 0.

Simplifications of the paper: the paper's level 1 is sigma(x) itself (d features) and its target
starts mixing at the next level; here level 1 is already k mixed quadratic forms, so our depth L is
the paper's L - 1.  Random weights replace the paper's well-conditioning assumptions; features are
standardised empirically; alphas are calibrated to variance shares instead of fixed; no truncation.

Theory: the target has degree 2^L in x.  Rotation-invariant kernels (and the NTK) need n ~ d^m
samples to fit the degree-m component of a target (Ghorbani, Mei, Misiakiewicz & Montanari, Ann.
Stat. 2021), so the non-hierarchical exponent is 2^L, the top degree; Allen-Zhu & Li prove the
corresponding d^omega(1) lower bound for kernels/NTK on this class as the depth grows (their kernel
lower bound theorem).  Their SGD upper bound for deep nets is poly(d) with no explicit exponent,
and no efficient layerwise algorithm is known, so no exponent is given for those families.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.base import Task, reference_rng
from tasks.diagnostics import gauss_hermite_grid, incremental_r2_se
from tasks.hermite import random_rotation

#: largest Gauss-Hermite grid used for exact calibration (points)
MAX_GRID = 100_000


class BFCTask(Task):
    """DenseNet-like composition of quadratic layers with calibrated per-level variance shares."""

    name: ClassVar[str] = "bfc"
    index_param: ClassVar[str | None] = "L"

    def __init__(self, d: int, seed: int = 0, noise: float = 0.0, L: int = 3, k: int = 4,
                 gap: float = 0.5, shares: list[float] | None = None,
                 connections: list[list[int]] | None = None, fixed_alpha: bool = False,
                 n_ref: int = 32768):
        super().__init__(d, seed=seed, noise=noise)
        _validate_scalars(L, k, gap, n_ref)
        self.L, self.k, self.gap = int(L), int(k), float(gap)
        self.fixed_alpha, self.n_ref = bool(fixed_alpha), int(n_ref)
        self.connections = _validate_connections(connections, self.L)
        self.requested_shares = _requested_shares(shares, self.gap, self.L)
        self._draw_weights(reference_rng(self.seed, 0))
        self._calibrate()

    # -- construction ------------------------------------------------------------------------
    def _draw_weights(self, rng: np.random.Generator) -> None:
        """R (d x d), W_1 (k x d) and W_{l,j} (k x dim F_j) for l >= 2, j in J_l."""
        d, k = self.d, self.k
        self.R = random_rotation(d, rng)
        self.W1 = _signed_uniform(rng, (k, d))
        self._mu1 = self.W1.sum(axis=1)
        self._sd1 = np.sqrt(2.0 * np.sum(self.W1**2, axis=1))
        self.W: dict[int, dict[int, np.ndarray]] = {}
        for l, J in enumerate(self.connections, start=2):
            self.W[l] = {}
            for j in J:
                dim = d if j == 0 else k
                # E[w^2] = 13/12 for |w| ~ U[0.5, 1.5]: each block feeds variance ~ 1 / |J_l|
                scale = np.sqrt(len(J) * dim * 13.0 / 12.0)
                self.W[l][j] = _signed_uniform(rng, (k, dim)) / scale

    def _reference(self) -> tuple[np.ndarray, np.ndarray]:
        """Reference inputs u (n, d) and weights (n,), summing to 1.

        A tensor Gauss-Hermite grid with 2^L + 1 nodes per axis when it has at most
        ``MAX_GRID`` points (then every moment used below, of degree <= 2^(L+1) per variable, is
        exact); otherwise ``n_ref`` Monte Carlo draws of u = R x ~ N(0, I_d) from the seed.
        """
        n_nodes = 2**self.L + 1
        if n_nodes**self.d <= MAX_GRID:
            return gauss_hermite_grid(self.d, n_nodes)
        U = reference_rng(self.seed, 1).standard_normal((self.n_ref, self.d))
        return U, np.full(self.n_ref, 1.0 / self.n_ref)

    def _calibrate(self) -> None:
        """Feature standardisation, alphas and output normalisation from the reference."""
        U, w = self._reference()
        self.exact = w.shape[0] != self.n_ref or not np.all(w == w[0])
        self._mu, self._sd = {}, {}
        feats = self._features(U, weights=w)
        S = np.column_stack([F.sum(axis=1) for F in feats])  # (n, L) level sums
        T = _increment_coordinates(feats, S, w)
        if self.fixed_alpha:
            self.alpha = self.gap ** np.arange(self.L)
            self.feasible = True
        else:
            self.alpha, self.feasible = _solve_alpha(T, self.requested_shares)
        v = np.array([np.sum((Tl @ self.alpha) ** 2) for Tl in T])
        self._shares = v / v.sum()
        out = S @ self.alpha
        self._out_mean = float(w @ out)
        self._out_sd = float(np.sqrt(w @ (out - self._out_mean) ** 2))
        self.share_se = np.zeros(self.L) if self.exact else incremental_r2_se(feats, out)[1]

    def _features(self, U: np.ndarray, weights: np.ndarray | None = None) -> list[np.ndarray]:
        """[F_1, ..., F_L] from rotated inputs U (n, d); with weights, estimate the constants."""
        levels = {0: U, 1: ((U**2) @ self.W1.T - self._mu1) / self._sd1}
        for l in range(2, self.L + 1):
            z = sum(levels[j] @ W.T for j, W in self.W[l].items())
            s = z**2
            if weights is not None:
                self._mu[l] = weights @ s
                self._sd[l] = np.sqrt(weights @ (s - self._mu[l]) ** 2)
            levels[l] = (s - self._mu[l]) / self._sd[l]
        return [levels[l] for l in range(1, self.L + 1)]

    # -- Task interface ----------------------------------------------------------------------
    def _draw_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.d))

    def rotate(self, X: np.ndarray) -> np.ndarray:
        """u = R x for each row: shape (n, d)."""
        return np.asarray(X, dtype=np.float64) @ self.R.T

    def hierarchy(self, X: np.ndarray) -> list[np.ndarray]:
        """Standardised features [F_1, ..., F_L], each (n, k)."""
        return self._features(self.rotate(X))

    def target(self, X: np.ndarray) -> np.ndarray:
        """y*(X) = (sum_l alpha_l Sum(F_l) - mean) / sd, shape (n,)."""
        S = np.column_stack([F.sum(axis=1) for F in self.hierarchy(X)])
        return (S @ self.alpha - self._out_mean) / self._out_sd

    def level_shares(self) -> list[float]:
        return [float(s) for s in self._shares]

    def level_degrees(self) -> list[int]:
        """Degree of each level in x: 2^l (J_l always contains l - 1)."""
        return [2**l for l in range(1, self.L + 1)]

    def level1_forms(self) -> np.ndarray:
        """Matrices A_i (k, d, d) with F_{1,i}(x) = x^T A_i x - tr(A_i): the level-1 forms."""
        scaled = self.W1 / self._sd1[:, None]
        return np.einsum("ab,ia,ac->ibc", self.R, scaled, self.R)

    def theory_exponents(self) -> dict[str, float]:
        # Degree 2^L: kernels need ~ d^degree (Ghorbani-Mei-Misiakiewicz-Montanari 2021); Allen-Zhu
        # & Li 2023 prove d^omega(1) for kernels/NTK here.  Their deep-net bound is poly(d) with no
        # explicit exponent and no efficient layerwise algorithm is known: nothing for those.
        return {"non-hierarchical": float(2**self.L)}

    def info(self) -> dict:
        out = super().info()
        out.update(alpha=[float(a) for a in self.alpha], feasible=self.feasible,
                   calibration="quadrature" if self.exact else "monte_carlo",
                   share_se=[float(s) for s in self.share_se],
                   requested_shares=[float(s) for s in self.requested_shares])
        return out

    def __repr__(self) -> str:
        return (f"BFCTask(d={self.d}, seed={self.seed}, noise={self.noise}, L={self.L}, "
                f"k={self.k}, gap={self.gap})")


def _increment_coordinates(feats: list[np.ndarray], S: np.ndarray,
                           w: np.ndarray) -> list[np.ndarray]:
    """Per level l, the coordinates (k_l, L) of Q_l S in an orthonormal basis of the increment.

    Inner products are <f, g> = sum_i w_i f_i g_i.  With M = [1, F_1, ..., F_L] and G = M^T W M =
    Rt Rt^T (Cholesky), the columns of M Rt^-T are orthonormal and the coordinates of S in them
    are Rt^-1 M^T W S, so no tall QR is needed.  Rows are grouped per level.
    """
    n = S.shape[0]
    M = np.hstack([np.ones((n, 1))] + feats)
    Mw = M * w[:, None]
    G = Mw.T @ M
    Rt = np.linalg.cholesky(G + 1e-12 * np.trace(G) / len(G) * np.eye(len(G)))
    C = np.linalg.solve(Rt, Mw.T @ S)
    bounds = np.cumsum([1] + [F.shape[1] for F in feats])
    return [C[bounds[i]:bounds[i + 1]] for i in range(len(feats))]


def _signed_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random signs times magnitudes uniform in [0.5, 1.5]: never ~0, so level-1 forms have full
    rank, and lighter-tailed features than Gaussian weights (no single dominant term)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


def _solve_alpha(T: list[np.ndarray], shares: np.ndarray) -> tuple[np.ndarray, bool]:
    """alpha with ||T_l alpha||^2 proportional to shares_l, solved from the top level down.

    T_l (k_l, L) has zero columns m < l (Sum(F_m) lies in the span of the lower levels), so
    ||T_l alpha||^2 = A a^2 + 2 B a + C in a = alpha_l once alpha_{>l} is fixed.
    """
    L = len(T)
    alpha = np.zeros(L)
    alpha[-1] = 1.0
    top = np.sum(T[-1][:, -1] ** 2)
    feasible = True
    for l in range(L - 2, -1, -1):
        t, r = T[l][:, l], T[l][:, l + 1:] @ alpha[l + 1:]
        A, B, C = t @ t, t @ r, r @ r
        want = top * shares[l] / shares[-1]
        disc = B * B - A * (C - want)
        if disc < 0:
            feasible = False
            disc = 0.0
        alpha[l] = (-B + np.sqrt(disc)) / A
    return alpha, feasible


def _requested_shares(shares: list[float] | None, gap: float, L: int) -> np.ndarray:
    if shares is None:
        s = gap ** (2.0 * np.arange(L))
    else:
        s = np.asarray(shares, dtype=np.float64)
        if s.shape != (L,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"bfc: shares must be {L} positive numbers, got {shares!r}")
    return s / s.sum()


def _validate_scalars(L, k, gap, n_ref) -> None:
    """One-line ValueErrors naming the offending parameter."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(L) or L < 2:
        raise ValueError(f"bfc: L must be an integer >= 2, got {L!r}")
    if not is_int(k) or k < 1:
        raise ValueError(f"bfc: k must be an integer >= 1, got {k!r}")
    if not 0.0 < float(gap) < 1.0:
        raise ValueError(f"bfc: gap must be in (0, 1), got {gap!r}")
    if not is_int(n_ref) or n_ref < 1000:
        raise ValueError(f"bfc: n_ref must be an integer >= 1000, got {n_ref!r}")


def _validate_connections(connections, L: int) -> list[list[int]]:
    """J_2..J_L as sorted lists; each must contain l - 1 and lie in {0..l-1}."""
    if connections is None:
        return [sorted({0, l - 1}) for l in range(2, L + 1)]
    if not isinstance(connections, (list, tuple)) or len(connections) != L - 1:
        raise ValueError(f"bfc: connections must be a list of L-1={L - 1} lists, "
                         f"got {connections!r}")
    out = []
    for l, J in enumerate(connections, start=2):
        try:
            Js = sorted({int(j) for j in J})
        except (TypeError, ValueError):
            Js = []
        if l - 1 not in Js or Js[0] < 0 or Js[-1] > l - 1:
            raise ValueError(f"bfc: connections for level {l} must be a subset of 0..{l - 1} "
                             f"containing {l - 1}, got {J!r}")
        out.append(Js)
    return out
