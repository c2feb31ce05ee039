"""Exact algebra of sparse polynomials in the probabilists' Hermite basis of a Gaussian vector.

A polynomial of u ~ N(0, I_d) is stored as f(u) = sum_alpha c_alpha He_alpha(u), with
He_alpha(u) = prod_j He_{alpha_j}(u_j) (unnormalised probabilists' Hermite, :mod:`tasks.hermite`).
Orthogonality, E[He_alpha He_beta] = alpha! [alpha = beta] with alpha! = prod_j alpha_j!, gives in
closed form

    E[f] = c_0,    E[f^2] = sum_alpha c_alpha^2 alpha!,
    energy at total degree m:  E_m(f) = sum_{|alpha| = m} c_alpha^2 alpha!   (sum_m E_m = E[f^2]).

Products use the linearisation formula, coordinate by coordinate,

    He_a(t) He_b(t) = sum_{k=0}^{min(a, b)} C(a, k) C(b, k) k! He_{a + b - 2k}(t),

so every operation is exact up to floating-point round-off (no quadrature, no sampling).

Storage: only the nonzero factors (coordinate, degree >= 1) of a monomial are kept, sorted by
coordinate, at most ``max_slots`` of them, each packed in ``SB`` bits of one int64 key
(:class:`Codec`).  Several polynomials on one shared list of monomials are a :class:`PolyVec`
(keys (T,), coefficients (k, T)): that is how a layer of k features is held, and squaring all k
features costs one expansion of the T(T+1)/2 monomial pairs, not k.

Why by hand: numpy.polynomial.hermite_e is dense and univariate, and sympy's sparse polynomials
work in the monomial basis with exact rationals (far too slow for 10^6-term products); nothing
well kept does sparse multivariate Hermite products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: pairs of monomials expanded per vectorised chunk (memory ~ 200 bytes per pair)
CHUNK_PAIRS = 400_000


@dataclass(frozen=True)
class Codec:
    """Packs monomials of <= ``max_slots`` factors (coordinate < d, degree <= max_deg) in int64.

    A slot is (coord << DB) | degree (degree >= 1, so a used slot is never 0); slot s occupies bits
    [s SB, (s + 1) SB) with SB = CB + DB; used slots come first, in increasing coordinate.
    """

    d: int
    max_deg: int
    max_slots: int

    @property
    def CB(self) -> int:
        return max(1, (self.d - 1).bit_length())

    @property
    def DB(self) -> int:
        return max(1, self.max_deg.bit_length())

    @property
    def SB(self) -> int:
        return self.CB + self.DB

    def fits(self) -> bool:
        return self.SB * self.max_slots <= 63

    def pack(self, coords: np.ndarray, degs: np.ndarray) -> np.ndarray:
        """Keys (n,) from coords, degs (n, S) (unused slots: degree 0), slots in any order."""
        degs = np.asarray(degs, dtype=np.int64)
        coords = np.where(degs > 0, np.asarray(coords, dtype=np.int64), self.d)
        order = np.argsort(coords, axis=1, kind="stable")
        coords = np.take_along_axis(coords, order, axis=1)
        degs = np.take_along_axis(degs, order, axis=1)
        used = degs > 0
        if coords.shape[1] > self.max_slots and used[:, self.max_slots:].any():
            raise ValueError(f"hermite algebra: a monomial has more than {self.max_slots} "
                             "coordinates (raise max_slots)")
        if used.any() and degs.max() > self.max_deg:
            raise ValueError(f"hermite algebra: degree {degs.max()} above max_deg "
                             f"{self.max_deg}")
        slots = np.where(used, (coords << self.DB) | degs, 0)[:, : self.max_slots]
        shifts = np.arange(slots.shape[1], dtype=np.int64) * self.SB
        return np.bitwise_or.reduce(slots << shifts, axis=1) if slots.shape[1] else \
            np.zeros(len(slots), dtype=np.int64)

    def unpack(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """coords, degs (n, max_slots) of keys (n,); unused slots have degree 0 (coord -1)."""
        keys = np.asarray(keys, dtype=np.int64)[:, None]
        shifts = np.arange(self.max_slots, dtype=np.int64) * self.SB
        slots = (keys >> shifts) & ((1 << self.SB) - 1)
        degs = slots & ((1 << self.DB) - 1)
        coords = np.where(degs > 0, slots >> self.DB, -1)
        return coords, degs

    def univariate(self, coord: np.ndarray, deg: np.ndarray) -> np.ndarray:
        """Keys of He_deg(u_coord) (deg >= 1), or of the constant where deg == 0."""
        coord, deg = np.asarray(coord, dtype=np.int64), np.asarray(deg, dtype=np.int64)
        return np.where(deg > 0, (coord << self.DB) | deg, 0)


@dataclass
class PolyVec:
    """k polynomials sum_t coef[i, t] He_{keys[t]}(u) on shared, unique, sorted monomials."""

    codec: Codec
    keys: np.ndarray  # (T,) int64
    coef: np.ndarray  # (k, T) float64

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_terms(cls, codec: Codec, keys: np.ndarray, coef: np.ndarray) -> PolyVec:
        """Sum duplicate keys (coef (k, n) or (n,))."""
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        uniq, inv = np.unique(np.asarray(keys, dtype=np.int64), return_inverse=True)
        out = np.zeros((coef.shape[0], uniq.size))
        for i in range(coef.shape[0]):
            out[i] = np.bincount(inv, weights=coef[i], minlength=uniq.size)
        return cls(codec, uniq, out)

    def aligned(self, keys: np.ndarray) -> np.ndarray:
        """Coefficients (k, len(keys)) on a superset ``keys`` (sorted, unique) of self.keys."""
        pos = np.searchsorted(keys, self.keys)
        out = np.zeros((self.coef.shape[0], keys.size))
        out[:, pos] = self.coef
        return out

    @staticmethod
    def stack(polys: list[PolyVec]) -> PolyVec:
        """All polynomials of ``polys`` on their union of monomials (rows concatenated)."""
        keys = np.unique(np.concatenate([p.keys for p in polys]))
        return PolyVec(polys[0].codec, keys, np.vstack([p.aligned(keys) for p in polys]))

    def combine(self, M: np.ndarray) -> PolyVec:
        """Linear combinations: rows M (m, k) @ polynomials."""
        return PolyVec(self.codec, self.keys, np.asarray(M, dtype=np.float64) @ self.coef)

    # -- moments ----------------------------------------------------------------------------
    def factorials(self) -> np.ndarray:
        """alpha! of every monomial, (T,)."""
        _, degs = self.codec.unpack(self.keys)
        return np.prod(_FACT[degs], axis=1)

    def degrees(self) -> np.ndarray:
        """|alpha| of every monomial, (T,)."""
        return self.codec.unpack(self.keys)[1].sum(axis=1)

    def mean(self) -> np.ndarray:
        """E[f_i], (k,): the constant coefficient."""
        i = np.searchsorted(self.keys, 0)
        has = i < self.keys.size and self.keys[min(i, self.keys.size - 1)] == 0
        return self.coef[:, i].copy() if has else np.zeros(self.coef.shape[0])

    def energy_by_degree(self, max_degree: int | None = None) -> np.ndarray:
        """E_m(f_i) for m = 0..max_degree, shape (k, max_degree + 1); row sums are E[f_i^2]."""
        deg = self.degrees()
        top = int(deg.max(initial=0)) if max_degree is None else int(max_degree)
        w = self.coef**2 * self.factorials()
        return np.stack([np.bincount(deg, weights=row, minlength=top + 1)[: top + 1]
                         for row in w])

    def gram_by_degree(self, max_degree: int | None = None) -> np.ndarray:
        """<P_m f_i, P_m f_j> for every degree m: shape (max_degree + 1, k, k)."""
        deg = self.degrees()
        top = int(deg.max(initial=0)) if max_degree is None else int(max_degree)
        cw = self.coef * np.sqrt(self.factorials())
        out = np.zeros((top + 1, self.coef.shape[0], self.coef.shape[0]))
        for m in range(top + 1):
            c = cw[:, deg == m]
            out[m] = c @ c.T
        return out

    def variance(self) -> np.ndarray:
        return self.energy_by_degree()[:, 1:].sum(axis=1)

    # -- algebra ----------------------------------------------------------------------------
    def squares(self) -> PolyVec:
        """f_i^2 for every i, on one shared monomial list (one pair expansion for all k)."""
        T = self.keys.size
        iu, ju = np.triu_indices(T)
        return _expand_pairs(self.codec, self.keys, self.keys, iu, ju,
                             self.coef[:, iu] * self.coef[:, ju] * np.where(iu == ju, 1.0, 2.0))

    def times(self, other: PolyVec) -> PolyVec:
        """f_i g_i for every i (both with k rows; use one row to broadcast)."""
        I, J = np.meshgrid(np.arange(self.keys.size), np.arange(other.keys.size), indexing="ij")
        I, J = I.ravel(), J.ravel()
        return _expand_pairs(self.codec, self.keys, other.keys, I, J,
                             self.coef[:, I] * other.coef[:, J])

    def evaluate(self, U: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """f_i(U) for rows of U (n, d): shape (n, k)."""
        U = np.asarray(U, dtype=np.float64)
        n = U.shape[0]
        H = np.empty((self.codec.max_deg + 1, n, self.codec.d))
        H[0] = 1.0
        if self.codec.max_deg >= 1:
            H[1] = U
        for m in range(1, self.codec.max_deg):
            H[m + 1] = U * H[m] - m * H[m - 1]
        coords, degs = self.codec.unpack(self.keys)
        coords = np.where(degs > 0, coords, 0)
        out = np.zeros((n, self.coef.shape[0]))
        for a in range(0, self.keys.size, chunk):
            b = min(a + chunk, self.keys.size)
            V = np.ones((n, b - a))
            for s in range(self.codec.max_slots):
                V *= H[degs[a:b, s], :, coords[a:b, s]].T
            out += V @ self.coef[:, a:b].T
        return out


def _fact_table(n: int) -> np.ndarray:
    return np.array([float(math.factorial(i)) for i in range(n + 1)])


_FACT = _fact_table(64)


def _expand_pairs(codec: Codec, keys_a: np.ndarray, keys_b: np.ndarray, I: np.ndarray,
                  J: np.ndarray, pair_coef: np.ndarray) -> PolyVec:
    """sum_p pair_coef[:, p] He_{keys_a[I_p]} He_{keys_b[J_p]}, linearised and collected."""
    out_keys, out_coef = [], []
    for a in range(0, I.size, CHUNK_PAIRS):
        sl = slice(a, a + CHUNK_PAIRS)
        k, rows, mult = _expand_chunk(codec, keys_a[I[sl]], keys_b[J[sl]])
        out_keys.append(k)
        out_coef.append(pair_coef[:, sl][:, rows] * mult)
        # collect per chunk to bound memory
        merged = PolyVec.from_terms(codec, np.concatenate(out_keys), np.hstack(out_coef))
        out_keys, out_coef = [merged.keys], [merged.coef]
    if not out_keys:
        return PolyVec(codec, np.zeros(0, dtype=np.int64), np.zeros((pair_coef.shape[0], 0)))
    return PolyVec(codec, out_keys[0], out_coef[0])


def _expand_chunk(codec: Codec, ka: np.ndarray, kb: np.ndarray):
    """Linearise He_{ka_p} He_{kb_p} for every pair p.

    Returns (keys (R,), rows (R,), mult (R,)): the product of pair rows[r] contains
    mult[r] He_{keys[r]}.
    """
    ca, da = codec.unpack(ka)
    cb, db = codec.unpack(kb)
    S = codec.max_slots
    match = (cb[:, None, :] == ca[:, :, None]) & (da[:, :, None] > 0)  # (P, S_a, S_b)
    b_on_a = np.einsum("psq,pq->ps", match, db)  # degree of b on a's coordinate (0 if none)
    b_free = np.where(match.any(axis=1), 0, db)  # b's factors on coordinates a lacks
    coords = np.concatenate([ca, cb], axis=1)
    degs = np.concatenate([da + b_on_a, b_free], axis=1)
    rows = np.arange(ka.size)
    mult = np.ones(ka.size)
    for s in range(S):  # one shared coordinate per slot of a at most
        x, y = da[rows, s], b_on_a[rows, s]
        m = np.minimum(x, y)
        reps = m + 1
        idx = np.repeat(np.arange(rows.size), reps)
        kk = np.arange(idx.size) - np.repeat(np.cumsum(reps) - reps, reps)
        xr, yr = x[idx], y[idx]
        rows, mult, degs = rows[idx], mult[idx], degs[idx]
        mult = mult * _LIN[xr, yr, kk]
        degs[:, s] -= 2 * kk
    return codec.pack(coords[rows], degs), rows, mult


def _lin_table(n: int) -> np.ndarray:
    """C(a, k) C(b, k) k! for a, b, k <= n."""
    t = np.zeros((n + 1, n + 1, n + 1))
    for a in range(n + 1):
        for b in range(n + 1):
            for k in range(min(a, b) + 1):
                t[a, b, k] = math.comb(a, k) * math.comb(b, k) * math.factorial(k)
    return t


_LIN = _lin_table(32)
