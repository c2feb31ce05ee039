"""The training parameters of the net learners, their defaults and allowed values, defined once.

Every learner trained by gradient (``mlp``, ``bfc_net``, ``layerwise``, ``two_layer`` in its
``sgd`` variant) takes the fields of :class:`TrainingParams` as constructor parameters with these
defaults, followed by the run-time fields of :class:`RuntimeParams` (``standardize``,
``callback``, ``callback_every``, ``device``, ``dtype``, ``random_state``).  No learner writes
that list: its ``__init__`` is ``net_init(<its architecture parameters and defaults>)``, which
builds the scikit-learn constructor (explicit signature, every argument stored unchanged) from
the architecture parameters, then these two dataclasses (a test checks each ``__init__``).

The defaults are those of a plain, well-trained reference net: Adam, lr from {1e-3, 3e-3} chosen
on the hold-out, batch 128, up to 300 epochs, early stopping with a patience of 20 epochs, the
best weights restored.

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

import inspect
import math
from collections.abc import Callable
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


@dataclass(frozen=True)
class RuntimeParams:
    """How a net learner runs, not what it learns: the constructor parameters after training's.

    ``standardize`` (scale x on the training part), ``callback(step, learner)`` every
    ``callback_every`` optimisation steps, ``device`` auto / cpu / cuda[:i], ``dtype`` float32 /
    float64, ``random_state`` (seeds the learner's own streams, :mod:`tasks.streams`).
    """

    standardize: bool = True
    callback: Callable | None = None
    callback_every: int = 100
    device: str = "auto"
    dtype: str | None = "float32"
    random_state: Any = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


RUNTIME_DEFAULTS = RuntimeParams()
#: the run-time parameters of a learner that is not trained step by step (no callback)
CLOSED_FORM_RUNTIME = ("standardize", "device", "dtype", "random_state")

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


def net_init(*, with_training: bool = True, runtime: tuple[str, ...] = RuntimeParams.names(),
             **params: Any) -> Callable[..., None]:
    """The ``__init__`` of a net learner: its own parameters, then the shared ones.

    Signature ``__init__(self, <params>, <TrainingParams fields> (with_training),
    <RuntimeParams fields named in runtime>)`` with the dataclasses' defaults; a keyword of
    ``params`` that names a shared field overrides its default in place (``two_layer``:
    ``dtype=None``), every other keyword is an architecture parameter, in the order given.  The
    function stores every argument unchanged as an attribute (scikit-learn's convention, so
    ``get_params`` / ``clone`` work); it carries its signature (``inspect.signature`` and
    scikit-learn read it) and rejects unknown or missing arguments with a TypeError.  The
    attributes ``architecture`` (own parameters and defaults) and ``overrides`` record the split.
    """
    shared: dict[str, Any] = dict(DEFAULTS.as_dict()) if with_training else {}
    shared.update({k: getattr(RUNTIME_DEFAULTS, k) for k in runtime})
    overrides = {k: v for k, v in params.items() if k in shared}
    own = {k: v for k, v in params.items() if k not in shared}
    defaults = {**own, **shared, **overrides}
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    sig = inspect.Signature([inspect.Parameter("self", kind)]
                            + [inspect.Parameter(k, kind, default=v) for k, v in defaults.items()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}.__init__() {exc}") from None
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name != "self":
                setattr(self, name, value)

    __init__.__signature__ = sig
    __init__.architecture = own
    __init__.overrides = overrides
    return __init__
