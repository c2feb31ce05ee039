"""Multi-index model of Damian, Lee & Soltanolkotabi (COLT 2022, arXiv 2206.15144).

Target
------
x ~ N(0, I_d), U a Haar-random r x d matrix with orthonormal rows (U U^T = I_r), z = U x ~ N(0, I_r)
and, with the orthonormal Hermite polynomials h_n = He_n / sqrt(n!) (see :mod:`tasks.hermite`),

    f(x) = g(U x),
    g(z) = sum_i a_i h_2(z_i)                                         (level 1, degree 2)
         + sum_i b_i h_p(z_i) + sum_i c_i h_1(z_i) h_{p-1}(z_{i+1 mod r})   (level 2, degree p)

The cross terms are present when r >= 2 (for r = 2 the pairs are (1, 2) and (2, 1)).  All terms are
distinct Hermite products, hence orthonormal: E[f] = 0 and Var[f] = ||a||^2 + ||b||^2 + ||c||^2
exactly.  Coefficients are drawn with random signs and magnitudes in [0.5, 1.5], then rescaled so
that ||a||^2 = low_share and ||b||^2 + ||c||^2 = 1 - low_share: the target has mean 0 and variance 1
in closed form, and level 1 (the degree-2 part) has share ``low_share`` exactly.

Energies by degree (exact): low_share at degree 2 and 1 - low_share at degree p (two levels);
everything at degree p otherwise.  q_low = 2 for two levels, p - 1 for one homogeneous level
(p = 2 or pure), so E_top = 1 - low_share, resp. 1.

Non-degeneracy: E[grad^2 f] = U^T diag(sqrt(2) a) U has rank r because every a_i != 0 (the higher
terms have zero expected Hessian), which is the assumption of the paper's two-layer guarantee.

For p = 2 the target is the degree-2 part alone (a_i h_2(z_i) and c_i h_1(z_i) h_1(z_{i+1}) for
r >= 2), one level with share 1.  ``pure=True`` gives g(z) = sum_i b_i h_p(z_i) (for r = 1 the
single-index target h_p(u.x), information exponent p), also one level with share 1.

Parameters
----------
d (input dimension), r = 2 (number of directions, r <= d), p = 4 (degree, >= 2),
low_share = 0.5 (variance of the degree-2 part, in (0, 1), used when p >= 3 and not pure),
pure = False, noise = 0.

Simplifications of the paper: the paper allows any degree-p polynomial g satisfying the rank
condition; here g is a fixed sparse family of Hermite terms (diagonal terms plus a cyclic chain of
cross terms) with random coefficients, so the levels and shares are exact.

Theory (used as overlay lines): kernels (non-hierarchical) need n ~ d^p (the paper's lower bound for
rotationally invariant kernels / NTK, Damian et al. 2022, Sec. 1); a two-layer net trained by GD
learns it with n ~ d^2 r + d r^p, i.e. beta = 2 for fixed r (Damian et al. 2022, Thm. 1).  For the
pure option the paper's guarantee does not apply; online SGD on a single-index target with
information exponent p needs n ~ d^(p-1) for p >= 3 (Ben Arous, Gheissari & Jagannath, JMLR 2021).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.base import Task, is_int
from tasks.diagnostics import gauss_hermite_grid
from tasks.hermite import hermite_table, random_orthonormal_rows
from tasks.streams import Stream, stream_rng


class MultiIndexTask(Task):
    """f(x) = g(Ux) with U (r x d) orthonormal rows and g a Hermite polynomial of degree p."""

    name: ClassVar[str] = "multi_index"
    index_param: ClassVar[str | None] = "p"

    def __init__(self, d: int, seed: int = 0, noise: float = 0.0, r: int = 2, p: int = 4,
                 low_share: float = 0.5, pure: bool = False):
        super().__init__(d, seed=seed, noise=noise)
        _validate(self.d, r, p, low_share)
        self.r, self.p = int(r), int(p)
        self.low_share, self.pure = float(low_share), bool(pure)
        rng = stream_rng(self.seed, Stream.TEACHER_WEIGHTS)
        self.U = random_orthonormal_rows(self.r, self.d, rng)
        self._terms = self._term_list()
        raw = rng.choice([-1.0, 1.0], len(self._terms)) * rng.uniform(0.5, 1.5, len(self._terms))
        self.coef = self._normalise(raw)

    # -- structure ---------------------------------------------------------------------------
    @property
    def two_level(self) -> bool:
        """True when the target has a degree-2 level below a degree-p level."""
        return self.p >= 3 and not self.pure

    def _term_list(self) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
        """Terms as (level, ((coord, hermite degree), ...)), lowest level first."""
        r, p = self.r, self.p
        if self.pure:
            return [(0, ((i, p),)) for i in range(r)]
        terms = [(0, ((i, 2),)) for i in range(r)]
        top = 1 if p >= 3 else 0
        if p >= 3:
            terms += [(1, ((i, p),)) for i in range(r)]
        if r >= 2 and not (p == 2 and r == 2):
            terms += [(top, ((i, 1), ((i + 1) % r, p - 1))) for i in range(r)]
        elif r == 2:  # p == 2, r == 2: the cyclic pairs coincide, keep one h_1 h_1 term
            terms += [(0, ((0, 1), (1, 1)))]
        return terms

    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        """Rescale coefficients: level 1 gets ||.||^2 = low_share, level 2 the rest (or all = 1)."""
        levels = np.array([lvl for lvl, _ in self._terms])
        shares = self.level_shares()
        coef = raw.copy()
        for lvl, share in enumerate(shares):
            mask = levels == lvl
            coef[mask] *= np.sqrt(share) / np.linalg.norm(raw[mask])
        return coef

    # -- Task interface ----------------------------------------------------------------------
    def _draw_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.d))

    def project(self, X: np.ndarray) -> np.ndarray:
        """z = U x for each row: shape (n, r)."""
        return np.asarray(X, dtype=np.float64) @ self.U.T

    def _term_values(self, X: np.ndarray) -> np.ndarray:
        """Values of every Hermite product term, shape (n, n_terms), each of unit variance."""
        H = hermite_table(self.project(X), self.p)  # (n, r, p + 1)
        out = np.empty((H.shape[0], len(self._terms)))
        for j, (_, factors) in enumerate(self._terms):
            col = H[:, factors[0][0], factors[0][1]].copy()
            for coord, deg in factors[1:]:
                col *= H[:, coord, deg]
            out[:, j] = col
        return out

    def target(self, X: np.ndarray) -> np.ndarray:
        """Noiseless f(X), shape (n,): mean 0 and variance 1 exactly (orthonormal Hermite sum)."""
        return self._term_values(X) @ self.coef

    def hierarchy(self, X: np.ndarray) -> list[np.ndarray]:
        """Per level the unweighted Hermite terms (n, k_l); f = sum of coef * terms."""
        T = self._term_values(X)
        levels = np.array([lvl for lvl, _ in self._terms])
        return [T[:, levels == lvl] for lvl in range(len(self.level_shares()))]

    def level_shares(self) -> list[float]:
        if self.two_level:
            return [self.low_share, 1.0 - self.low_share]
        return [1.0]

    def level_degrees(self) -> list[int]:
        """Polynomial degree (in x) of each level."""
        return [2, self.p] if self.two_level else [self.p]

    @property
    def q_low(self) -> int:
        """2 (the degree-2 level) for two levels; p - 1 for a single homogeneous level."""
        return 2 if self.two_level else self.p - 1

    @property
    def degree(self) -> int:
        return self.p

    @classmethod
    def degree_of(cls, d: int, params: dict) -> int:
        """p, as ``degree``."""
        return int(cls.param_value(params, "p"))

    def energy_by_degree(self) -> np.ndarray:
        """Exact: every term is an orthonormal Hermite product of its level's degree."""
        out = np.zeros(self.p + 1)
        for deg, share in zip(self.level_degrees(), self.level_shares(), strict=True):
            out[deg] += share
        return out

    def top_residual(self, X: np.ndarray) -> np.ndarray:
        """The degree-p terms (the whole target for a single level)."""
        if not self.two_level:
            return self.target(X)
        levels = np.array([lvl for lvl, _ in self._terms])
        return self._term_values(X)[:, levels == 1] @ self.coef[levels == 1]

    def residual_kurtosis(self, n: int = 0) -> float:
        """Exact E[r^4] / E[r^2]^2 of the top residual: a Gauss-Hermite rule in the r coordinates
        z = U x with 2p + 1 nodes per axis integrates r^4 (degree 4p) exactly."""
        del n
        Z, w = gauss_hermite_grid(self.r, 2 * self.p + 1)
        res = self.top_residual(Z @ self.U)  # U has orthonormal rows: U (Z U)^T = Z^T
        return float(w @ res**4 / (w @ res**2) ** 2)

    @classmethod
    def check_params(cls, d: int, params: dict) -> None:
        super().check_params(d, params)
        _validate(d, params.get("r", 2), params.get("p", 4), params.get("low_share", 0.5))

    def theory_exponents(self) -> dict[str, float]:
        # Damian, Lee & Soltanolkotabi 2022: kernels n ~ d^p; two-layer GD n ~ d^2 r + d r^p.
        if self.pure:
            # information exponent p (Ben Arous, Gheissari & Jagannath 2021): online SGD d^(p-1)
            # for p >= 3, d log d for p = 2; kernels still need d^p.
            return {"non-hierarchical": float(self.p), "hierarchical": float(max(self.p - 1, 1))}
        return {"non-hierarchical": float(self.p), "hierarchical": 2.0}

    def __repr__(self) -> str:
        return (f"MultiIndexTask(d={self.d}, seed={self.seed}, noise={self.noise}, r={self.r}, "
                f"p={self.p}, low_share={self.low_share}, pure={self.pure})")


def _validate(d: int, r: int, p: int, low_share: float) -> None:
    """One-line ValueErrors naming the offending parameter."""
    if not is_int(r) or not 1 <= r <= d:
        raise ValueError(f"task 'multi_index': parameter 'r' = {r!r} is out of range; "
                         f"allowed: an int in [1, d={d}]")
    if not is_int(p) or p < 2:
        raise ValueError(f"task 'multi_index': parameter 'p' = {p!r} is out of range; "
                         "allowed: an int >= 2")
    if isinstance(low_share, bool) or not isinstance(low_share, (int, float)) \
            or not 0.0 < low_share < 1.0:
        raise ValueError(f"task 'multi_index': parameter 'low_share' = {low_share!r} is out of "
                         "range; allowed: a number in (0, 1)")
