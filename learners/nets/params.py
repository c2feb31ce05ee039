"""The training parameters of the net learners, their defaults and allowed values, defined once.

Every learner trained by gradient (``mlp``, ``bfc_net``, ``layerwise``, ``two_layer`` in its
``sgd`` variant) takes the fields of :class:`TrainingParams` as constructor parameters with these
defaults (a test checks each ``__init__`` against them).  The defaults are those of a plain,
well-trained reference net: Adam, lr from {1e-3, 3e-3} chosen on the hold-out, batch 128, up to
300 epochs, early stopping with a patience of 20 epochs, the best weights restored.

Budget (n_tr = training part of the n samples, b = min(batch_size, n_tr)):

    E = floor(n_tr / b)                                 steps per epoch (one pass),
    B = min(round(max_epochs * E), max_steps)           step budget (max_steps None: no cap),
    P = round(patience_epochs * E)                      patience in steps,

the validation loss is evaluated once per epoch (every E steps), and a run stops when it has not
improved by 0.1 % (relative) for P steps (a plateau), or after B steps ("budget exhausted").
(A reduce-on-plateau variant, continuing from the best state with lr / 10 twice before stopping,
was tried on the single-index degree-4 reference task at d = 8, n = 8192 and at d = 4, n = 4096:
the same test error to 4 digits at 1.9-2.4x the cost, the nets there being past the point where
more fitting helps the hold-out; so it is not offered.)  A staged
learner splits B over its stages; each stage has the full patience P.  ``max_steps`` lets a
preset cap the cost of a fit independently of n.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions


class Optimizer(StrEnum):
    ADAM = "adam"   # AdamW: Adam with decoupled weight decay
    SGD = "sgd"     # SGD with momentum 0.9 and L2 weight decay


class Schedule(StrEnum):
    CONSTANT = "constant"   # linear warm-up, then constant
    COSINE = "cosine"       # linear warm-up, then cosine decay to 1 % at the step budget


@dataclass(frozen=True)
class TrainingParams:
    """Training parameters shared by every net learner (see the module docstring)."""

    optimizer: str = Optimizer.ADAM.value
    lr_grid: tuple[float, ...] = (1e-3, 3e-3)
    batch_size: int = 128
    max_epochs: float = 300
    max_steps: int | None = None
    patience_epochs: float | None = 20
    schedule: str = Schedule.CONSTANT.value
    weight_decay: float = 1e-4
    grad_clip: float | None = 1.0
    val_fraction: float = 0.2
    max_retries: int = 3

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, est: Any) -> TrainingParams:
        """The training parameters of a learner (its attributes of the same names)."""
        return cls(**{k: getattr(est, k) for k in cls.names()})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lrs(self) -> list[float]:
        """The lr grid as a sorted list of distinct floats (a single number is a grid of one)."""
        grid = self.lr_grid
        values = [grid] if isinstance(grid, Real) else list(np.ravel(np.asarray(grid, float)))
        return sorted({float(v) for v in values})

    def steps_per_epoch(self, n_train: int) -> int:
        """E = floor(n_train / b): one pass over a fresh permutation (a partial batch dropped)."""
        return max(1, n_train // max(1, min(int(self.batch_size), n_train)))

    def step_budget(self, n_train: int) -> int:
        steps = max(1, int(round(float(self.max_epochs) * self.steps_per_epoch(n_train))))
        return steps if self.max_steps is None else min(steps, int(self.max_steps))

    def patience_steps(self, n_train: int) -> int | None:
        if self.patience_epochs is None:
            return None
        return max(1, int(round(float(self.patience_epochs) * self.steps_per_epoch(n_train))))


#: defaults, referenced by the learners' ``__init__`` signatures
DEFAULTS = TrainingParams()

_POS = Interval(Real, 0, None, closed="neither")

#: allowed values of the training parameters (scikit-learn's constraint language)
TRAINING_CONSTRAINTS: dict[str, list] = {
    "optimizer": [StrOptions({o.value for o in Optimizer})],
    "lr_grid": ["array-like", _POS],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [_POS],
    "max_steps": [Interval(Integral, 1, None, closed="left"), None],
    "patience_epochs": [_POS, None],
    "schedule": [StrOptions({s.value for s in Schedule})],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "grad_clip": [_POS, None],
    "val_fraction": [Interval(Real, 0, 1, closed="neither")],
    "max_retries": [Interval(Integral, 0, None, closed="left")],
}

#: allowed values of the other parameters every torch learner has
COMMON_CONSTRAINTS: dict[str, list] = {
    "standardize": ["boolean"],
    "callback": [callable, None],
    "callback_every": [Interval(Integral, 1, None, closed="left")],
    "device": [str, torch.device],
    "dtype": [StrOptions({"float32", "float64"})],
    "random_state": ["random_state", np.random.Generator],
}


def check_lr_grid(learner: str, lr_grid: Any) -> list[float]:
    """The lr grid as a list, or a one-line ValueError naming the learner and the allowed values."""
    try:
        lrs = TrainingParams(lr_grid=lr_grid).lrs()
    except (TypeError, ValueError):
        lrs = []
    if not lrs or not all(math.isfinite(v) and v > 0 for v in lrs):
        raise ValueError(f"{learner}: parameter 'lr_grid' = {lr_grid!r} is invalid; allowed: a "
                         "positive number or a non-empty list of positive numbers")
    return lrs
