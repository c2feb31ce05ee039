"""The Task interface shared by every concept class.

A task is a *teacher*: a fixed random function y*(x) on R^d (or the Boolean cube) drawn once from
``seed``, plus an input distribution.  Conventions (see docs/metrics.md, "Definitions"):

* ``sample(n, rng) -> (X, y)``: X has shape (n, d), float64; y has shape (n,) and equals
  ``target(X) + noise * xi`` with xi ~ N(0, 1) i.i.d.  The noiseless target is normalised so that
  E[y*] = 0 and Var[y*] = 1 under the input distribution (exactly, from the task's closed-form
  moments; only a Monte Carlo fallback estimates them from a reference sample fixed by the seed),
  so the noise level is reported separately and the test MSE divided by ``target_variance``
  (1) is directly comparable across tasks.
* ``hierarchy(X)``: the teacher's intermediate features, one array of shape (n, k_l) per level l,
  lowest level first (for diagnostics and probes).
* ``energy_by_degree()``: E_m = the variance of y* at Hermite degree m (Walsh degree on the
  cube), m = 0..degree, exact where possible (``energy_method``), summing to Var(y*) = 1.
* ``q_low``: the degree the lower levels reach; ``top_share()`` = E_top = sum_{m > q_low} E_m,
  the variance no polynomial of degree <= q_low explains; it sets the relative target error
  ``eps = value * top_share()``.  ``top_share_se`` is its standard error (0 when exact).
* ``level_shares()``: a per-level split of Var(y*) that sums to 1, the last entry equal to
  E_top (each family documents its definition: degree bands for bfc and hier_poly).
* ``recommended_n_test(value)``: the test-set size for which the standard error of a measured
  test error of size eps = value * E_top is below eps / 10: n >= 100 (kappa - 1), kappa the
  kurtosis E[r^4] / E[r^2]^2 of the residual r = y* - P_{<= q_low} y* (floored at the Gaussian 3).
* ``check_params(d, params)``: classmethod, cheap one-line ValueError for bad parameters.
* ``hierarchy_index``: the depth/degree that indexes the family (bfc depth L, multi_index degree p,
  hier_poly k*q, staircase D); the d^omega(1) check plots beta against it.
* ``theory_exponents()``: the sample-complexity exponent beta (n* ~ d^beta) the papers predict per
  learner family ("hierarchical", "non-hierarchical", ...), where they give one.

Everything is deterministic given ``seed``: the same (name, d, seed, params) gives the same teacher,
and ``sample`` with equal generators gives equal data.
"""

from __future__ import annotations

import enum
import inspect
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from tasks.streams import Stream, stream_rng, teacher_sequence

#: floor of the residual kurtosis used by ``recommended_n_test`` (a Gaussian residual)
GAUSSIAN_KURTOSIS = 3.0


class EnergyMethod(enum.Enum):
    """How ``energy_by_degree`` was obtained."""

    EXACT = "exact"
    MONTE_CARLO = "monte_carlo"
    NOT_AVAILABLE = "not_available"  # plugin tasks that define only level shares


def is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


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

    # -- energies by degree (override in subclasses) ------------------------------------------
    #: the degree the lower levels reach (None: the task does not say)
    q_low: int | None = None
    #: polynomial degree of y* (None if not a polynomial or unknown)
    degree: int | None = None

    def energy_by_degree(self) -> np.ndarray:
        """Variance of y* at each Hermite (Walsh) degree 0..degree; sums to 1."""
        raise NotImplementedError(f"task {self.name!r} defines no energies by degree")

    @property
    def energy_method(self) -> EnergyMethod:
        return EnergyMethod.EXACT

    @property
    def top_share_se(self) -> float:
        """Standard error of ``top_share()`` (0 when exact)."""
        return 0.0

    @property
    def target_variance(self) -> float:
        """Var(y*) of the noiseless target: 1 by its normalisation."""
        return 1.0

    def _energies_or_none(self) -> np.ndarray | None:
        try:
            return np.asarray(self.energy_by_degree(), dtype=np.float64)
        except NotImplementedError:
            return None

    def top_share(self) -> float:
        """E_top: the variance above degree q_low (no polynomial of degree <= q_low explains it).

        Tasks without energies by degree fall back to their last level share.
        """
        energy = self._energies_or_none()
        if energy is None or self.q_low is None:
            return float(self.level_shares()[-1])
        return float(energy[self.q_low + 1:].sum())

    def top_residual(self, X: np.ndarray) -> np.ndarray:
        """r(X) = y*(X) - P_{<= q_low} y*(X), shape (n,): what a degree-q_low fit leaves."""
        raise NotImplementedError(f"task {self.name!r} has no top residual")

    def residual_kurtosis(self, n: int = 20_000) -> float:
        """E[r^4] / E_top^2 of the top residual, estimated on n inputs (fixed stream)."""
        X = self._draw_inputs(int(n), stream_rng(self.seed, Stream.TEACHER_RESIDUAL))
        r = self.top_residual(X)
        return float(np.mean(r**4) / self.top_share() ** 2)

    def recommended_n_test(self, value: float = 0.5, kurtosis: float | None = None) -> int:
        """n_test with sd(test error) <= eps / 10 at error eps: 100 (max(kappa, 3) - 1).

        The estimate of E[r^2] from n i.i.d. points has relative standard error
        sqrt((kappa - 1) / n), kappa = E[r^4] / E[r^2]^2 (independent of ``value`` when the
        residual keeps its shape as it shrinks; ``value`` is kept for the interface).
        """
        del value
        kappa = self.residual_kurtosis() if kurtosis is None else float(kurtosis)
        return int(math.ceil(100.0 * (max(kappa, GAUSSIAN_KURTOSIS) - 1.0)))

    @classmethod
    def check_params(cls, d: int, params: dict[str, Any]) -> None:
        """Cheap validation: d a positive int and every key a constructor parameter.

        Subclasses extend it with value checks (one-line ``ValueError`` naming the key).
        """
        if not is_int(d) or d <= 0:
            raise ValueError(f"task {cls.name!r}: parameter 'd' = {d!r} is out of range; "
                             "allowed: an int >= 1")
        sig = inspect.signature(cls.__init__).parameters
        open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.values())
        allowed = [p for p in sig if p not in ("self", "d", "seed")]
        for key in params:
            if key not in allowed and not open_ended:
                raise ValueError(f"task {cls.name!r}: unknown parameter {key!r}; "
                                 f"allowed: {', '.join(allowed)}")
        noise = params.get("noise", 0.0)
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
            raise ValueError(f"task {cls.name!r}: parameter 'noise' = {noise!r} is out of "
                             "range; allowed: a number >= 0")

    @classmethod
    def param_value(cls, params: dict[str, Any], key: str) -> Any:
        """``params[key]``, else the constructor's default for ``key`` (KeyError if it has none)."""
        if key in params:
            return params[key]
        default = inspect.signature(cls.__init__).parameters[key].default
        if default is inspect.Parameter.empty:
            raise KeyError(f"task {cls.name!r}: parameter {key!r} has no default")
        return default

    @classmethod
    def degree_of(cls, d: int, params: dict[str, Any]) -> int | None:
        """The polynomial degree of y* for these parameters, WITHOUT building the task (a
        construction can take minutes: bfc's exact energies at L = 4); equal to the built task's
        ``degree``.  None: not known before the task is built (the default; a subclass whose
        degree follows from its parameters overrides it)."""
        return None

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
        energy = self._energies_or_none()
        method = EnergyMethod.NOT_AVAILABLE if energy is None else self.energy_method
        return {
            "level_shares": [float(s) for s in self.level_shares()],
            "top_share": self.top_share(),
            "q_low": self.q_low,
            "degree": self.degree,
            "energy_by_degree": None if energy is None else [float(e) for e in energy],
            "energy_method": method.value,
            "top_share_se": float(self.top_share_se),
            "target_variance": float(self.target_variance),
            "hierarchy_index": self.hierarchy_index,
            "index_param": self.index_param,
            "noise": self.noise,
            "theory_exponents": self.theory_exponents(),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, seed={self.seed}, noise={self.noise})"


def reference_rng(seed: int, stream: int | Stream) -> np.random.Generator:
    """Generator for the teacher's own randomness (for plugin tasks; :mod:`tasks.streams`).

    ``stream``: a :class:`~tasks.streams.Stream`, or an int k: teacher stream k, 0 = weights
    (``Stream.TEACHER_WEIGHTS``), 1 = reference sample, 2 = Monte Carlo pairs, 3 = residual
    inputs; k >= 4 are free for a task's own further draws.
    """
    if isinstance(stream, Stream):
        return stream_rng(seed, stream)
    return np.random.default_rng(teacher_sequence(seed, int(stream)))
