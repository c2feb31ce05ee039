"""Staircase functions on the Boolean cube (Abbe, Boix-Adsera & Misiakiewicz).

Target
------
x uniform on {-1, +1}^d, S = (s_1, ..., s_D) a random ordered support of D distinct coordinates,
and the partial products chi_j(x) = x_{s_1} x_{s_2} ... x_{s_j} (Walsh monomials of degree j):

    staircase:  f(x) = sum_{j=1}^D sqrt(w_j) chi_j(x),   w_j = 1 / D by default (sum w_j = 1)
    parity:     f(x) = chi_D(x) = x_{s_1} ... x_{s_D}   (the contrast with no staircase)

Distinct Walsh monomials are orthonormal under the uniform law, so E[f] = 0 and Var[f] = 1 exactly;
for equal weights this is the paper's x1 + x1x2 + ... + x1...xD scaled by 1/sqrt(D).

Levels: level j is the j-th term chi_j (one feature), its share is w_j (the terms are orthogonal, so
each adds exactly its own variance); for the parity there is one level of share 1.
Energies by Walsh degree (exact): w_j at degree j.  q_low = D - 1 (the lower steps reach degree
D - 1; for the parity nothing below D), so E_top = w_D (1/D by default; 1 for the parity).

Parameters
----------
d, D = 3 (support size, 1 <= D <= d), kind = "staircase" | "parity", weights = None (optional list
of D positive numbers, rescaled to sum 1: the variance share of each step), noise = 0.

Simplifications: the papers' merged-staircase class allows any function whose monomials can be
ordered so each adds at most one new coordinate; this is the canonical single staircase.

Theory: a kernel method (or any rotation/permutation-invariant linear method) needs n ~ d^D to fit a
degree-D monomial (Abbe, Boix-Adsera & Misiakiewicz, COLT 2022, Sec. 1 and refs. therein), so
beta = D for the non-hierarchical family.  Online SGD on a two-layer net learns a function of leap
complexity `leap` with ~ d^max(leap - 1, 1) samples (one per step), i.e. total time
~ d^max(leap, 2) (Abbe, Boix-Adsera & Misiakiewicz, "SGD learning on neural networks: leap
complexity and saddle-to-saddle dynamics", COLT 2023; the staircase, leap 1, is the
merged-staircase case of their COLT 2022 paper: O(d) samples).  The staircase has leap 1
(beta = 1), the parity leap D (beta = max(D - 1, 1)).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.base import Task, is_int
from tasks.streams import Stream, stream_rng

KINDS = ("staircase", "parity")


class StaircaseTask(Task):
    """Staircase x_{s1} + x_{s1}x_{s2} + ... on {-1,+1}^d (or the degree-D parity)."""

    name: ClassVar[str] = "staircase"
    index_param: ClassVar[str | None] = "D"

    def __init__(self, d: int, seed: int = 0, noise: float = 0.0, D: int = 3,
                 kind: str = "staircase", weights: list[float] | None = None):
        super().__init__(d, seed=seed, noise=noise)
        type(self).check_params(self.d, {"D": D, "kind": kind})
        self.D, self.kind = int(D), kind
        self._shares = self._validate_weights(weights)
        rng = stream_rng(self.seed, Stream.TEACHER_WEIGHTS)
        self.support = rng.choice(self.d, size=self.D, replace=False)

    def _validate_weights(self, weights: list[float] | None) -> np.ndarray:
        if self.kind == "parity":
            if weights is not None:
                raise ValueError(f"task 'staircase': parameter 'weights' = {weights!r} is out of "
                                 "range; allowed: None for kind='parity'")
            return np.array([1.0])
        if weights is None:
            return np.full(self.D, 1.0 / self.D)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (self.D,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"task 'staircase': parameter 'weights' = {weights!r} is out of "
                             f"range; allowed: {self.D} positive numbers")
        return w / w.sum()

    @property
    def leap(self) -> int:
        """Leap complexity: 1 for the staircase, D for the parity."""
        return 1 if self.kind == "staircase" else self.D

    def _draw_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(np.array([-1.0, 1.0]), size=(n, self.d))

    def partial_products(self, X: np.ndarray) -> np.ndarray:
        """chi_j(X) = prod_{i <= j} x_{s_i} for j = 1..D: shape (n, D)."""
        return np.cumprod(np.asarray(X, dtype=np.float64)[:, self.support], axis=1)

    def target(self, X: np.ndarray) -> np.ndarray:
        """f(X), shape (n,): mean 0 and variance 1 exactly (orthonormal Walsh monomials)."""
        chi = self.partial_products(X)
        if self.kind == "parity":
            return chi[:, -1].copy()
        return chi @ np.sqrt(self._shares)

    def hierarchy(self, X: np.ndarray) -> list[np.ndarray]:
        """Level j = [chi_j] (n, 1) for the staircase; a single level [chi_D] for the parity."""
        chi = self.partial_products(X)
        if self.kind == "parity":
            return [chi[:, -1:]]
        return [chi[:, j:j + 1] for j in range(self.D)]

    def level_shares(self) -> list[float]:
        return [float(s) for s in self._shares]

    def level_degrees(self) -> list[int]:
        """Polynomial degree of each level."""
        return [self.D] if self.kind == "parity" else list(range(1, self.D + 1))

    @property
    def q_low(self) -> int:
        """D - 1: the lower steps chi_1..chi_{D-1} (the parity: everything below D)."""
        return self.D - 1

    @property
    def degree(self) -> int:
        return self.D

    @classmethod
    def degree_of(cls, d: int, params: dict) -> int:
        """D, as ``degree``."""
        return int(cls.param_value(params, "D"))

    def energy_by_degree(self) -> np.ndarray:
        """Walsh degree energies (exact): w_j at degree j (the parity: 1 at degree D)."""
        out = np.zeros(self.D + 1)
        out[self.level_degrees()] = self._shares
        return out

    def top_residual(self, X: np.ndarray) -> np.ndarray:
        """The degree-D term sqrt(w_D) chi_D."""
        return np.sqrt(self._shares[-1]) * self.partial_products(X)[:, -1]

    @classmethod
    def check_params(cls, d: int, params: dict) -> None:
        super().check_params(d, params)
        D, kind = params.get("D", 3), params.get("kind", "staircase")
        if not is_int(D) or not 1 <= D <= d:
            raise ValueError(f"task 'staircase': parameter 'D' = {D!r} is out of range; "
                             f"allowed: an int in [1, d={d}]")
        if kind not in KINDS:
            raise ValueError(f"task 'staircase': parameter 'kind' = {kind!r} is out of range; "
                             f"allowed: {', '.join(KINDS)}")

    def theory_exponents(self) -> dict[str, float]:
        # kernels: d^degree (Abbe et al. 2022); online SGD: d^max(leap - 1, 1) samples, time
        # d^max(leap, 2) (Abbe, Boix-Adsera & Misiakiewicz 2023)
        return {"non-hierarchical": float(self.D), "hierarchical": float(max(self.leap - 1, 1))}

    def __repr__(self) -> str:
        return (f"StaircaseTask(d={self.d}, seed={self.seed}, noise={self.noise}, D={self.D}, "
                f"kind={self.kind!r})")
