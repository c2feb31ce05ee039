"""Hierarchical quadratic target of Allen-Zhu & Li, "Backward Feature Correction" (COLT 2023,
arXiv 2001.04413).

Target
------
x ~ N(0, I_d), R a Haar-random d x d rotation, u = R x ~ N(0, I_d), sigma(z) = z^2 elementwise.
Levels l = 0..L with features F_l (F_0 = u, the input level, d features; F_l, l >= 1, has k):

    level 1:       F_1 = std( W_1 sigma(u) )                           W_1: k x d
    level l >= 2:  F_l = std( sigma( sum_{j in J_l} W_{l,j} F_j ) )    W_{l,j}: k x dim(F_j)
    output:        y   = std( sum_{l=1}^L alpha_l Sum(F_l) ),   Sum(F_l) = sum_i F_{l,i}

std(.) centres and scales each feature (and the output) to mean 0 and variance 1 with their EXACT
population moments.  Weights are random signs times magnitudes uniform in [0.5, 1.5] (W_{l,j}
scaled by 1 / sqrt(|J_l| dim(F_j) 13/12), so every block feeds O(1) variance to level l).
Each F_{1,i} = x^T A_i x - tr(A_i) with A_i = R^T diag(w_i) R / sqrt(2 ||w_i||^2) of full rank d
(no w_ij is near 0): level 1 is k full-rank quadratic forms, not a function of a k-dimensional
projection of x.  Level l has degree 2^l in x (J_l always contains l - 1).

Exact energies by Hermite degree
--------------------------------
Every feature is held as a sparse polynomial in the Hermite basis of u
(:mod:`tasks.hermite_algebra`): F_{1,i} = sum_j w_ij He_2(u_j) / sqrt(2 ||w_i||^2); the
pre-activation of level l is a linear combination of lower features; squaring uses
He_a He_b = sum_k C(a,k) C(b,k) k! He_{a+b-2k}.  A level-l monomial involves at most 2^(l-1)
coordinates; E[F] = constant coefficient and E_m(F) = sum_{|alpha| = m} c_alpha^2 alpha!, so
means, variances and the energy of y at every degree m = 0..2^L are exact (round-off only).
Cost: one expansion of the T(T+1)/2 monomial pairs of each level's pre-activation (T ~ 2 d^2 at
level 3; about 1 s at d = 24, 3 s at d = 32); calibrations are cached per (d, seed, params).

Degree bands, calibration and shares
------------------------------------
Level l has degree 2^l, so band l = Hermite degrees (2^(l-1), 2^l] (band 1 = degrees <= 2) is
reached by levels >= l only.  q_low = 2^(L-1) is the degree the lower levels reach, and
E_top = energy of y above degree q_low = band L: no polynomial of degree <= q_low explains it.
``level_shares()[l]`` is the energy of y in band l (sums to 1; the last one is E_top =
``top_share()``).  The requested shares (default geometric, share_l ~ gap^(2(l-1))) are matched
EXACTLY in these bands: with S_l = Sum(F_l) and G_b[l, m] = <P_b S_l, P_b S_m> (P_b the projection
on band b), the band-l energy is alpha^T G_l alpha, triangular in alpha (G_l vanishes on levels
< l), so with alpha_L = 1 each alpha_l solves a scalar quadratic from the top down.  If no real root
exists (the higher levels already put more energy in band l than requested; at gap 0.7 this happens
only for L >= 4 at some d) alpha_l minimises the gap, ``feasible`` is False and ``level_shares()``
reports what was achieved.  This replaces an earlier calibration on R^2 increments of the level
features, which is not the energy above q_low: squaring puts much of the top level's variance at
low degree (at L = 2, d = 8, gap 0.7 a cubic fit reached the old relative eps).
``fixed_alpha=True`` uses the paper's alpha_l = gap^(l-1) and reports the band shares it yields.
The class is the paper's (compositions of quadratic layers with skip connections, a top-down
information gap); only the choice of alpha and the exact normalisation are ours.

Quadrature route and Monte Carlo fallback
-----------------------------------------
When a level's expansion would exceed ``MAX_PAIRS`` monomial pairs (L = 3 beyond d ~ 34, L = 4
beyond d = 4) or the packed monomials do not fit 63 bits, but the tensor Gauss-Hermite grid of
(2^L + 1)^d points stays under ``QUAD_MAX_POINTS`` (L = 4 at d = 5, 6), the constants and the
energies are still exact, from :mod:`tasks.energy_quadrature` (every integrand has degree
<= 2^(L+1) per axis; d = 6, L = 4: ~1-4 min and ~2.4 GB once per teacher and process).  Beyond
both, the constants come from ``n_ref``
reference inputs and the band Gram matrices from the unbiased Mehler estimator of
:mod:`tasks.energy_mc` on ``MC_PAIRS`` = 2^20 input pairs; ``info()["energy_method"]`` is then
"monte_carlo" and ``top_share_se`` its standard error (about 0.02 on E_top = 0.14 at L = 3,
d = 40-64; useless at L = 4, flagged by ``info()["energy_warning"]``).

Heavy tails: level l is a degree-2^l polynomial built from squares of squares; the kurtosis of y
is in the tens at L = 3.  This is why the exact route matters (Monte Carlo shares were off by a
factor ~2 between teachers at d = 6, L = 3) and why the test set must be large
(``recommended_n_test``; docs/tasks.md).

Parameters
----------
d, L = 3 (depth, >= 2), k = 4 (width, >= 1), gap = 0.5 (in (0, 1)), shares = None (L positive
numbers, rescaled to sum 1; overrides gap), connections = None (list of L - 1 lists: J_2..J_L, by
the rule of :mod:`tasks.bfc_structure` shared with the bfc_net learner;
each a subset of {0..l-1} containing l - 1; default J_l = {0, l - 1}), fixed_alpha = False,
n_ref = 32768 (Monte Carlo reference size, >= 1000; unused when exact), noise = 0.

Simplifications of the paper: the paper's level 1 is sigma(x) itself (d features) and its target
starts mixing at the next level; here level 1 is already k mixed quadratic forms, so our depth L is
the paper's L - 1.  Random weights replace the paper's well-conditioning assumptions; alphas are
calibrated to band energies instead of fixed; no truncation.

Theory: the target has degree 2^L in x.  Rotation-invariant kernels (and the NTK) need n ~ d^m
samples to fit the degree-m component of a target (Ghorbani, Mei, Misiakiewicz & Montanari, Ann.
Stat. 2021), so the non-hierarchical exponent is 2^L, the top degree; reaching eps = value x E_top
needs at least the degree q_low + 1 part, C(d + q_low + 1, q_low + 1) features.  Allen-Zhu & Li
prove the d^omega(1) lower bound for kernels/NTK on this class as the depth grows.  Their SGD bound
for deep nets is poly(d) with no explicit exponent: nothing for those families.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tasks.base import EnergyMethod, Task, is_int
from tasks.bfc_structure import ConnectionsError, check_connections, input_width
from tasks.energy_mc import mehler_gram
from tasks.energy_quadrature import coefficients, gram_by_degree, grid_chunks
from tasks.hermite import random_rotation
from tasks.hermite_algebra import Codec, PolyVec
from tasks.streams import Stream, stream_rng

#: largest number of monomial pairs one exact level expansion may have
MAX_PAIRS = 3_000_000
#: largest tensor Gauss-Hermite grid, (2^L + 1)^d points, used where the algebra is out of reach
QUAD_MAX_POINTS = 2**25
#: correlated input pairs of the Monte Carlo (Mehler) energy estimate
MC_PAIRS = 2**20


@dataclass(frozen=True)
class _Calibration:
    """What the expensive part of construction computes (cached)."""

    mu: dict[int, np.ndarray]
    sd: dict[int, np.ndarray]
    alpha: np.ndarray
    feasible: bool
    out_mean: float
    out_sd: float
    energy: np.ndarray  # (2^L + 1,) energy of the normalised y per degree
    method: EnergyMethod
    top_se: float
    low_poly: PolyVec | None  # P_{<= q_low} of the normalised y (exact route), for diagnostics


class BFCTask(Task):
    """DenseNet-like composition of quadratic layers, alphas calibrated to exact band energies."""

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
        self._draw_weights(stream_rng(self.seed, Stream.TEACHER_WEIGHTS))
        cal = _calibrate_cached(self.d, self.seed, self.L, self.k, self.gap,
                                tuple(self.requested_shares),
                                tuple(tuple(J) for J in self.connections), self.fixed_alpha,
                                self.n_ref)
        self._mu, self._sd = cal.mu, cal.sd
        self.alpha, self.feasible = cal.alpha, cal.feasible
        self._out_mean, self._out_sd = cal.out_mean, cal.out_sd
        self._energy, self._method, self._top_se = cal.energy, cal.method, cal.top_se
        self._low_poly = cal.low_poly
        self.exact = cal.method is EnergyMethod.EXACT

    @classmethod
    def check_params(cls, d: int, params: dict[str, Any]) -> None:
        super().check_params(d, params)
        L = params.get("L", 3)
        _validate_scalars(L, params.get("k", 4), params.get("gap", 0.5),
                          params.get("n_ref", 32768))
        _validate_connections(params.get("connections"), int(L))
        _requested_shares(params.get("shares"), float(params.get("gap", 0.5)), int(L))

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
                dim = input_width(j, d, k)
                # E[w^2] = 13/12 for |w| ~ U[0.5, 1.5]: each block feeds variance ~ 1 / |J_l|
                scale = np.sqrt(len(J) * dim * 13.0 / 12.0)
                self.W[l][j] = _signed_uniform(rng, (k, dim)) / scale

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

    def _raw_square(self, U: np.ndarray, l: int) -> np.ndarray:
        """z_l^2 (n, k) before its standardisation, the levels below l standardised (their
        constants set)."""
        levels = {0: U, 1: ((U**2) @ self.W1.T - self._mu1) / self._sd1}
        for j in range(2, l + 1):
            s = sum(levels[i] @ W.T for i, W in self.W[j].items()) ** 2
            if j == l:
                return s
            levels[j] = (s - self._mu[j]) / self._sd[j]
        raise ValueError(f"level {l} has no square (levels 2..{self.L})")

    def _quadrature_levels(self):
        """Constants and the level sums' Hermite coefficients from the tensor Gauss-Hermite rule
        with 2^L + 1 nodes per axis (exact: every integrand has degree <= 2^(L+1) per axis).

        Constants: mu_l = E[z_l^2], sd_l^2 = E[z_l^4] - mu_l^2, level by level.  Returns
        (alpha (A, d) multi-indices with |alpha| <= 2^L, coef (L, A) normalised coefficients of
        Sum(F_l)).
        """
        n, D = 2**self.L + 1, 2**self.L
        for l in range(2, self.L + 1):
            m1, m2 = np.zeros(self.k), np.zeros(self.k)
            for _, U, w in grid_chunks(self.d, n):
                s = self._raw_square(U, l)
                m1 += w @ s
                m2 += w @ s**2
            self._mu[l], self._sd[l] = m1, np.sqrt(m2 - m1**2)
        sums = np.empty((self.L, n**self.d))
        for part, U, _ in grid_chunks(self.d, n):
            sums[:, part] = np.stack([F.sum(axis=1) for F in self._features(U)])
        parts = [coefficients(sums[l], self.d, n, D) for l in range(self.L)]
        return parts[0][0], np.vstack([c for _, c in parts])

    def _level_polys(self, codec: Codec) -> list[PolyVec] | None:
        """Exact Hermite expansions of [F_1..F_L] (sets _mu, _sd); None if over MAX_PAIRS."""
        d = self.d
        lev = {0: PolyVec.from_terms(codec, codec.univariate(np.arange(d), np.ones(d, int)),
                                     np.eye(d)),
               1: PolyVec.from_terms(codec, codec.univariate(np.arange(d), np.full(d, 2)),
                                     self.W1 / self._sd1[:, None])}
        for l in range(2, self.L + 1):
            keys = np.unique(np.concatenate([lev[j].keys for j in self.W[l]]))
            if keys.size * (keys.size + 1) // 2 > MAX_PAIRS:
                return None
            z = PolyVec(codec, keys, sum(W @ lev[j].aligned(keys) for j, W in self.W[l].items()))
            sq = z.squares()
            self._mu[l], self._sd[l] = sq.mean(), np.sqrt(sq.variance())
            coef = sq.coef.copy()
            coef[:, sq.keys == 0] = 0.0
            lev[l] = PolyVec(codec, sq.keys, coef / self._sd[l][:, None])
        return [lev[l] for l in range(1, self.L + 1)]

    def _calibrate(self) -> _Calibration:
        """Constants, alphas and energies: exact Hermite algebra, else Monte Carlo."""
        self._mu, self._sd = {}, {}
        codec = Codec(self.d, 2**self.L, 2 ** (self.L - 1))
        polys = self._level_polys(codec) if codec.fits() else None
        quad = None
        if polys is not None:
            sums = PolyVec.stack([p.combine(np.ones((1, self.k))) for p in polys])
            G = sums.gram_by_degree(2**self.L)  # (2^L + 1, L, L)
            method = EnergyMethod.EXACT
        elif (2**self.L + 1) ** self.d <= QUAD_MAX_POINTS:
            quad = self._quadrature_levels()
            G = gram_by_degree(*quad, 2**self.L)
            method = EnergyMethod.EXACT
        else:
            ref = stream_rng(self.seed, Stream.TEACHER_REFERENCE)
            U = ref.standard_normal((self.n_ref, self.d))
            self._features(U, weights=np.full(self.n_ref, 1.0 / self.n_ref))

            def level_sums(X: np.ndarray) -> np.ndarray:
                return np.column_stack([F.sum(axis=1) for F in self._features(X)])

            G, G_samples = mehler_gram(level_sums, self.d, 2**self.L, MC_PAIRS,
                                       stream_rng(self.seed, Stream.TEACHER_PAIRS))
            # level l has degree 2^l: its energy above 2^l is zero, not noise
            top_deg = 2 ** np.arange(1, self.L + 1)
            mask = np.arange(2**self.L + 1)[:, None] <= top_deg[None, :]  # (degree, level)
            mask = mask[:, :, None] & mask[:, None, :]
            G, G_samples = G * mask, G_samples * mask
            method = EnergyMethod.MONTE_CARLO
        bands = [_band_gram(G, l, self.L) for l in range(1, self.L + 1)]
        if self.fixed_alpha:
            alpha, feasible = self.gap ** np.arange(self.L), True
        else:
            alpha, feasible = _solve_alpha(bands, self.requested_shares)
        raw = np.einsum("l,mlk,k->m", alpha, G, alpha)
        var = float(raw[1:].sum())
        low, top_se, out_mean, out_sd = None, 0.0, 0.0, float(np.sqrt(var))
        if quad is not None:
            low = _low_poly_from_coefficients(quad[0], alpha @ quad[1] / out_sd, self.q_low)
        elif method is EnergyMethod.EXACT:
            y = sums.combine(alpha[None, :] / out_sd)
            keep = y.degrees() <= 2 ** (self.L - 1)
            low = PolyVec(codec, y.keys[keep], y.coef[:, keep])
        else:
            out = level_sums(U) @ alpha  # the mean from the reference sample
            out_mean = float(out.mean())
            # the variance from the 2^20 Mehler pairs (energies then sum to 1); the reference
            # sample only if that estimate is not positive
            var = var if var > 0 else float(out.var())
            out_sd = float(np.sqrt(var))
            q = 2 ** (self.L - 1)
            per = np.einsum("l,nmlk,k->nm", alpha, G_samples, alpha)  # (batch, degree)
            top, tot = per[:, q + 1:].sum(axis=1), per[:, 1:].sum(axis=1)
            top_se = float(np.std(top - raw[q + 1:].sum() / var * tot, ddof=1)
                           / np.sqrt(len(top)) / abs(var))
        energy = raw / var
        energy[0] = 0.0
        return _Calibration(mu=dict(self._mu), sd=dict(self._sd), alpha=alpha, feasible=feasible,
                            out_mean=out_mean, out_sd=out_sd, energy=energy, method=method,
                            top_se=top_se, low_poly=low)

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
        """Energy of y in band l = Hermite degrees (2^(l-1), 2^l] (band 1: degrees <= 2)."""
        return [float(self._energy[_band_slice(l, self.L)].sum()) for l in range(1, self.L + 1)]

    def level_degrees(self) -> list[int]:
        """Degree of each level in x: 2^l (J_l always contains l - 1)."""
        return [2**l for l in range(1, self.L + 1)]

    @property
    def q_low(self) -> int:
        return 2 ** (self.L - 1)

    @property
    def degree(self) -> int:
        return 2**self.L

    @classmethod
    def degree_of(cls, d: int, params: dict[str, Any]) -> int:
        """2^L, as ``degree``."""
        return 2 ** int(cls.param_value(params, "L"))

    def energy_by_degree(self) -> np.ndarray:
        return self._energy.copy()

    @property
    def energy_method(self) -> EnergyMethod:
        return self._method

    @property
    def top_share_se(self) -> float:
        return self._top_se

    def top_residual(self, X: np.ndarray) -> np.ndarray:
        if self._low_poly is None:
            raise NotImplementedError("bfc: the degree-q_low projection is only held when exact")
        return self.target(X) - self._low_poly.evaluate(self.rotate(X))[:, 0]

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
                   requested_shares=[float(s) for s in self.requested_shares])
        if self._method is EnergyMethod.MONTE_CARLO and not (
                0.0 < self.top_share() < 1.0 and self._top_se < 0.25 * self.top_share()
                and np.all(np.isfinite(self._energy))):
            out["energy_warning"] = (f"Monte Carlo E_top = {self.top_share():.3g} +- "
                                     f"{self._top_se:.2g}: too uncertain for a relative eps")
        return out

    def __repr__(self) -> str:
        return (f"BFCTask(d={self.d}, seed={self.seed}, noise={self.noise}, L={self.L}, "
                f"k={self.k}, gap={self.gap})")


@functools.lru_cache(maxsize=64)
def _calibrate_cached(d, seed, L, k, gap, shares, connections, fixed_alpha, n_ref) -> _Calibration:
    """Calibration of one teacher; deterministic in its arguments, so cached per process."""
    task = BFCTask.__new__(BFCTask)
    Task.__init__(task, d, seed=seed)
    task.L, task.k, task.gap, task.fixed_alpha, task.n_ref = L, k, gap, fixed_alpha, n_ref
    task.connections = [list(J) for J in connections]
    task.requested_shares = np.asarray(shares)
    task._draw_weights(stream_rng(seed, Stream.TEACHER_WEIGHTS))
    return task._calibrate()


def _low_poly_from_coefficients(alpha: np.ndarray, coef: np.ndarray, q: int) -> PolyVec:
    """P_{<= q} f as a PolyVec from normalised coefficients (alpha (A, d), coef (A,)): in the
    He basis the coefficient of He_alpha is c_alpha / sqrt(alpha!); the constant is dropped."""
    deg = alpha.sum(axis=1)
    keep = (deg <= q) & (deg > 0)
    a = alpha[keep]
    d = alpha.shape[1]
    codec = Codec(d, max(q, 1), max(1, min(d, q)))
    keys = codec.pack(np.broadcast_to(np.arange(d), a.shape), a)
    fact = np.sqrt(np.prod([[math.factorial(int(v)) for v in row] for row in a], axis=1))
    return PolyVec.from_terms(codec, keys, coef[keep] / fact)


def _band_slice(l: int, L: int) -> slice:
    """Hermite degrees of band l: (2^(l-1), 2^l], band 1 = 1..2 (y is centred: no degree 0)."""
    return slice(1 if l == 1 else 2 ** (l - 1) + 1, 2**l + 1)


def _band_gram(G: np.ndarray, l: int, L: int) -> np.ndarray:
    return G[_band_slice(l, L)].sum(axis=0)


def _signed_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random signs times magnitudes uniform in [0.5, 1.5]: never ~0, so level-1 forms have full
    rank, and lighter-tailed features than Gaussian weights (no single dominant term)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


def _solve_alpha(bands: list[np.ndarray], shares: np.ndarray) -> tuple[np.ndarray, bool]:
    """alpha with alpha^T G_l alpha proportional to shares_l, solved from the top level down.

    G_l (L, L) vanishes on levels m < l (their degree is below band l), so with alpha_{>l} fixed
    alpha^T G_l alpha = A a^2 + 2 B a + C in a = alpha_l.
    """
    L = len(bands)
    alpha = np.zeros(L)
    alpha[-1] = 1.0
    top = bands[-1][-1, -1]
    feasible = True
    for l in range(L - 2, -1, -1):
        G, rest = bands[l], alpha[l + 1:]
        A, B, C = G[l, l], G[l, l + 1:] @ rest, rest @ G[l + 1:, l + 1:] @ rest
        want = top * shares[l] / shares[-1]
        if not A > 0 or not np.isfinite(A * B * C * top):  # only a noisy Monte Carlo estimate
            alpha[l], feasible = 1.0, False
            continue
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
            raise ValueError(f"task 'bfc': parameter 'shares' = {shares!r} is out of range; "
                             f"allowed: {L} positive numbers")
    return s / s.sum()


def _validate_scalars(L, k, gap, n_ref) -> None:
    """One-line ValueErrors naming the offending parameter."""
    if not is_int(L) or L < 2:
        raise ValueError(f"task 'bfc': parameter 'L' = {L!r} is out of range; allowed: an int >= 2")
    if not is_int(k) or k < 1:
        raise ValueError(f"task 'bfc': parameter 'k' = {k!r} is out of range; allowed: an int >= 1")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not 0.0 < gap < 1.0:
        raise ValueError(f"task 'bfc': parameter 'gap' = {gap!r} is out of range; "
                         "allowed: a number in (0, 1)")
    if not is_int(n_ref) or n_ref < 1000:
        raise ValueError(f"task 'bfc': parameter 'n_ref' = {n_ref!r} is out of range; "
                         "allowed: an int >= 1000")


def _validate_connections(connections, L: int) -> list[list[int]]:
    """J_2..J_L as sorted lists, by the shared rule of :mod:`tasks.bfc_structure`."""
    try:
        return check_connections(connections, L)[1:]
    except ConnectionsError as exc:
        raise ValueError(f"task 'bfc': parameter 'connections' = {connections!r} is out of "
                         f"range; allowed: {exc.allowed}") from None
