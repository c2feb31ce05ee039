"""The Learner interface: a scikit-learn regressor plus a family and a resource model.

Any scikit-learn regressor (``fit(X, y) -> self``, ``predict(X)``, ``get_params``/``clone``)
runs as a learner unchanged; it is then of family ``"baseline"`` with an unknown resource model.
hierbench's own learners derive from :class:`HierbenchLearner`, which adds:

* ``family``: ``"hierarchical"`` (deep nets trained end-to-end), ``"layerwise"``,
  ``"non-hierarchical"`` (kernels, random features, polynomial features) or ``"baseline"``.
* ``resources(n, d) -> Resources``: predicted peak memory (bytes) and fit time (seconds, rough) of
  ``fit`` on n samples in dimension d, so that the harness can skip - and record as censored - what
  cannot fit in the run's budget instead of running the machine out of memory.
* ``fit_info_``: after ``fit``, a JSON-serialisable dict of what the learner chose inside its n
  samples (tuned ridge, bandwidth, learning rate, epochs, solver, ...), stored with the record.

Every hyper-parameter selection happens inside the n samples given to ``fit`` (docs/design.md:
n counts validation samples too).  A learner whose optimisation diverges for good raises
:class:`DivergenceError`; the harness records the job as failed with that one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class Family(StrEnum):
    """A learner's family; a member is its string (``Family.HIERARCHICAL == "hierarchical"``),
    so stored records and the tasks' theory tables (keyed by the string) read the same."""

    HIERARCHICAL = "hierarchical"          # deep nets trained end to end
    LAYERWISE = "layerwise"                # nets trained layer by layer
    NON_HIERARCHICAL = "non-hierarchical"  # kernels, random and polynomial features
    BASELINE = "baseline"                  # anything else (mean predictor, plain regressors)


FAMILIES: tuple[Family, ...] = tuple(Family)


class DivergenceError(FloatingPointError):
    """Training produced NaN/inf even after the learner's own retries."""


@dataclass(frozen=True)
class Resources:
    """Predicted cost of one fit: peak memory in bytes, wall time in seconds (None = unknown),
    and the learner's own memory cap in bytes where its fit refuses (MemoryError) past it (None:
    no such cap), so the harness skips such a job instead of running it to a failure."""

    memory_bytes: float
    seconds: float | None = None
    limit_bytes: float | None = None


class HierbenchLearner(RegressorMixin, BaseEstimator):
    """Base class for hierbench's learners (scikit-learn conventions: params set in __init__)."""

    family: ClassVar[Family] = Family.BASELINE
    #: True if the learner runs on a GPU when one is present (the Dask executor routes it there)
    uses_gpu: ClassVar[bool] = False

    def resources(self, n: int, d: int) -> Resources:
        """Predicted peak memory and time of ``fit`` on (n, d); override in subclasses."""
        return Resources(memory_bytes=8.0 * n * d * 4, seconds=None)


def learner_family(est: Any) -> Family:
    """Family of any estimator: its ``family`` attribute (a Family or its string), else
    :attr:`Family.BASELINE`."""
    fam = getattr(est, "family", Family.BASELINE)
    return Family(fam) if fam in FAMILIES else Family.BASELINE


def learner_resources(est: Any, n: int, d: int) -> Resources | None:
    """The estimator's resource model, or None when it declares none."""
    fn = getattr(est, "resources", None)
    if fn is None:
        return None
    return fn(int(n), int(d))


def set_random_state(est: Any, seed: int) -> Any:
    """Set ``random_state`` (or ``seed``) on an estimator that has such a parameter."""
    params = est.get_params(deep=False)
    for key in ("random_state", "seed"):
        if key in params and params[key] is None:
            est.set_params(**{key: int(seed)})
    return est


def train_val_split(
    X: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random split of the n given samples into (X_tr, y_tr, X_val, y_val); both parts non-empty."""
    n = X.shape[0]
    n_val = min(max(1, int(round(val_fraction * n))), n - 1)
    perm = rng.permutation(n)
    val, tr = perm[:n_val], perm[n_val:]
    return X[tr], y[tr], X[val], y[val]
