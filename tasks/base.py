"""The Task interface shared by every concept class.

A task is a *teacher*: a fixed random function y*(x) on R^d (or the Boolean cube) drawn once from
``seed``, plus an input distribution.  Conventions (see DESIGN.md, "Definitions"):

* ``sample(n, rng) -> (X, y)``: X has shape (n, d), float64; y has shape (n,) and equals
  ``target(X) + noise * xi`` with xi ~ N(0, 1) i.i.d.  The noiseless target is normalised so that
  E[y*] = 0 and Var[y*] = 1 under the input distribution (normalisation constants are estimated once
  from a reference sample fixed by the seed), so the noise level is reported separately and the
  normalised test MSE of a learner is directly comparable across tasks.
* ``hierarchy(X)``: the teacher's intermediate features, one array of shape (n, k_l) per level l,
  lowest level first (for diagnostics and probes).
* ``level_shares()``: the fraction of Var(y*) each level adds beyond the levels below it
  (sums to 1).
  ``top_share()`` is the last one: the variance the lower levels cannot explain, which sets the
  relative target error ``eps = fraction * top_share()``.
* ``hierarchy_index``: the depth/degree that indexes the family (bfc depth L, multi_index degree p,
  hier_poly k*q, staircase D); the d^omega(1) check plots beta against it.
* ``theory_exponents()``: the sample-complexity exponent beta (n* ~ d^beta) the papers predict per
  learner family ("hierarchical", "non-hierarchical", ...), where they give one.

Everything is deterministic given ``seed``: the same (name, d, seed, params) gives the same teacher,
and ``sample`` with equal generators gives equal data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class Task(ABC):
    """Base class of a concept class instance (a teacher drawn from ``seed``).

    Subclasses set ``name`` and ``index_param`` and implement ``_draw_inputs``, ``target`` and
    ``hierarchy``; they should call ``super().__init__(d, seed=seed, noise=noise)`` first.
    """

    name: ClassVar[str] = "task"
    #: name of the constructor parameter that indexes the family's depth/degree (or None)
    index_param: ClassVar[str | None] = None

    def __init__(self, d: int, seed: int = 0, noise: float = 0.0):
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d <= 0:
            raise ValueError(f"d must be a positive integer, got {d!r}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.d = int(d)
        self.seed = int(seed)
        self.noise = float(noise)

    # -- to implement -------------------------------------------------------------------------
    @abstractmethod
    def _draw_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n inputs, shape (n, d), float64."""

    @abstractmethod
    def target(self, X: np.ndarray) -> np.ndarray:
        """Noiseless normalised target y*(X), shape (n,): mean 0, variance 1 under the inputs."""

    @abstractmethod
    def hierarchy(self, X: np.ndarray) -> list[np.ndarray]:
        """Ground-truth features of each level, lowest first; level l has shape (n, k_l)."""

    @abstractmethod
    def level_shares(self) -> list[float]:
        """Share of Var(y*) that each level adds beyond the levels below it; sums to 1."""

    # -- provided -----------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw (X, y): X (n, d) from the input law, y = y*(X) + noise * N(0, 1)."""
        X = self._draw_inputs(int(n), rng)
        y = self.target(X)
        if self.noise > 0:
            y = y + self.noise * rng.standard_normal(y.shape[0])
        return X, y

    def top_share(self) -> float:
        """Variance share of the top level: what the lower levels cannot explain."""
        return float(self.level_shares()[-1])

    @property
    def hierarchy_index(self) -> float | None:
        """Value of the family's depth/degree parameter (None for unindexed tasks)."""
        if self.index_param is None:
            return None
        return float(getattr(self, self.index_param))

    def theory_exponents(self) -> dict[str, float]:
        """Predicted beta per learner family, where a paper gives one (else empty)."""
        return {}

    def info(self) -> dict[str, Any]:
        """JSON-serialisable summary stored with each job record."""
        return {
            "level_shares": [float(s) for s in self.level_shares()],
            "top_share": self.top_share(),
            "hierarchy_index": self.hierarchy_index,
            "index_param": self.index_param,
            "noise": self.noise,
            "theory_exponents": self.theory_exponents(),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, seed={self.seed}, noise={self.noise})"


def reference_rng(seed: int, stream: int) -> np.random.Generator:
    """Generator for the teacher's own randomness: stream 0 = weights, 1 = reference sample."""
    return np.random.default_rng([int(seed), 7919, int(stream)])
