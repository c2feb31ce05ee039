"""The training loop of the net learners, the learning-rate choice and divergence retries.

Training problem (every net learner): minimise the mean squared error on standardised targets,

    L(theta) = mean_i (f_theta(x_i) - y_i)^2,   y_i = (y_raw_i - mean(y)) / std(y),

by mini-batch AdamW (Adam with decoupled weight decay) or SGD with momentum 0.9, batches drawn
as successive slices of a fresh random permutation of the training part every epoch.  Written by
hand because no library loop offers this combination (per-epoch validation with best-state
restore, staged parameter subsets, divergence detection without a device sync per step).

Per-step cost.  At the learners' default size (3-4 layers of width 256, batch 128) the fixed
work of a step is a sizeable share of it, so the loop does the textbook calls' computation with
less Python: each batch is one ``index_select`` per tensor of the permutation's slice (instead
of fancy indexing), the loss is ``mse_loss`` (bit-identical to mean((f - y)^2), one autograd
node instead of three), the learning rate ``lr * s(t)`` is written into the optimiser only when
it changes (what LambdaLR would write), and clip + optimiser step + gradient reset are one
:class:`learners.nets.update.ParamUpdate` (same maths as ``clip_grad_norm_`` +
``optimizer.step()`` + ``zero_grad(set_to_none=True)``).  Results are bit-identical to the
loop written with those library calls (tests/test_nets_update.py).

Schedule.  A run has a budget of ``max_steps`` optimisation steps; the learning rate is
``lr * s(t)`` with a linear warm-up over the first ``warmup * max_steps`` steps (at most
``warmup_max`` steps), then constant (``schedule="constant"``) or a cosine decay to
``final_lr_factor * lr`` at ``max_steps`` (``"cosine"``).

Early stopping.  Every ``eval_every`` steps (the learners: once per epoch) the validation loss
(same MSE, on the validation part of the n samples) is computed; the parameters with the lowest
validation loss are kept and restored at the end, and the run stops once it has not improved by
a relative ``min_rel_improvement`` for ``patience`` steps (None: never; train to the budget).

Learning rate.  :func:`select_lr` trains every candidate of the grid to its plateau (the whole
procedure, same seed and split) and keeps the net with the lowest validation loss: a choice on
the hold-out inside the n samples.  Cost: len(grid) x one run.

Divergence.  A non-finite training or validation loss at an evaluation, or one above
``diverge_loss`` (1e6, in units of Var(y): predicting the mean scores 1), raises
:class:`Diverged`.  A diverging candidate is dropped; when all diverge, :func:`run_with_retries`
restarts with lr / 10 up to ``max_retries`` times in all and then raises
:class:`learners.base.DivergenceError` with a one-line message (the harness records a failure).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from learners.base import DivergenceError
from learners.nets.params import Optimizer, Schedule, TrainingParams
from learners.nets.update import ParamUpdate


class Diverged(FloatingPointError):
    """Non-finite loss during a run; carries the step, the loss and the lr."""

    def __init__(self, step: int, loss: float, lr: float):
        super().__init__(f"loss={loss} at step {step} (lr={lr:g})")
        self.step, self.loss, self.lr = step, loss, lr


@dataclass
class TrainConfig:
    """One optimisation run (or stage): see the module docstring for the schedule and stopping."""

    lr: float
    max_steps: int
    batch_size: int = 128
    weight_decay: float = 0.0
    optimizer: str = Optimizer.ADAM.value
    warmup: float = 0.02
    warmup_max: int = 500
    schedule: str = Schedule.CONSTANT.value
    final_lr_factor: float = 0.01
    patience: int | None = None
    eval_every: int | None = None
    min_rel_improvement: float = 1e-3
    grad_clip: float | None = None
    diverge_loss: float = 1e6

    def resolved_eval_every(self, n_train: int) -> int:
        """``eval_every``, or once per epoch: floor(n_train / batch) steps."""
        if self.eval_every:
            return int(self.eval_every)
        return max(1, n_train // max(1, min(self.batch_size, n_train)))

    @classmethod
    def from_params(cls, tp: TrainingParams, lr: float, n_train: int) -> TrainConfig:
        """The run of a learner with training parameters ``tp`` on n_train samples."""
        return cls(lr=float(lr), max_steps=tp.step_budget(n_train),
                   batch_size=int(tp.batch_size), weight_decay=float(tp.weight_decay),
                   optimizer=tp.optimizer, schedule=tp.schedule,
                   patience=tp.patience_steps(n_train), eval_every=tp.steps_per_epoch(n_train),
                   grad_clip=tp.grad_clip)


@dataclass
class RunResult:
    """Outcome of one training run or stage (steps counted from the run's start)."""

    best_val: float
    best_step: int
    steps_run: int
    stopped_early: bool
    history: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def budget_exhausted(self) -> bool:
        """True when the run ended on its step budget rather than on a plateau."""
        return not self.stopped_early


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """s(t): linear warm-up then constant or cosine decay to ``final_lr_factor``."""
    warm = max(1, min(int(cfg.warmup_max), int(round(cfg.warmup * cfg.max_steps))))
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == Schedule.CONSTANT:
        return 1.0
    if cfg.schedule != Schedule.COSINE:
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {cfg.schedule!r}")
    prog = min(1.0, (step - warm) / max(1, cfg.max_steps - warm))
    lo = cfg.final_lr_factor
    return lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * prog))


def make_optimizer(params: Iterable[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay) or SGD with momentum 0.9 and L2 weight decay.

    AdamW uses torch's fused kernel (one kernel for all parameters: at batch 128, width 256 it
    took the optimiser step from ~1.0 to ~0.6 ms on one CPU thread), the plain one elsewhere.
    """
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == Optimizer.ADAM:
        try:
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == Optimizer.SGD:
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")


@torch.no_grad()
def mse(forward: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, y: torch.Tensor,
        batch: int = 8192) -> float:
    """Mean squared error of ``forward`` on (X, y), computed in chunks."""
    total = 0.0
    for s in range(0, X.shape[0], batch):
        r = forward(X[s:s + batch]) - y[s:s + batch]
        total += float((r * r).sum())
    return total / max(1, X.shape[0])


def train(
    model: nn.Module,
    data: Any,
    cfg: TrainConfig,
    generator: torch.Generator,
    params: Iterable[nn.Parameter] | None = None,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_step: Callable[[int], None] | None = None,
    step_offset: int = 0,
) -> RunResult:
    """Run mini-batch training of ``forward`` (default ``model``) on ``data`` under ``cfg``.

    ``data`` has tensors X_tr, y_tr, X_val, y_val.  Only ``params`` (default: all parameters of
    ``model``) are updated.  The model ends in its best-validation state.  ``on_step(global_step)``
    is called after every optimisation step (``global_step = step_offset + local step + 1``).
    Raises :class:`Diverged` on a non-finite loss (checked at each evaluation, so no per-step
    device synchronisation).
    """
    forward = forward or model
    opt = make_optimizer(model.parameters() if params is None else params, cfg)
    update = ParamUpdate(opt, cfg.grad_clip)
    n = int(data.X_tr.shape[0])
    bs = min(cfg.batch_size, n)
    every = cfg.resolved_eval_every(n)
    patience = math.inf if cfg.patience is None else cfg.patience
    best_val, best_step, since, best_state = math.inf, 0, 0, None
    run_loss = torch.zeros((), dtype=data.y_tr.dtype, device=data.y_tr.device)
    history: list[tuple[int, float, float]] = []
    perm, pos, step, last_eval, lr = None, n, 0, 0, None
    while step < cfg.max_steps:
        if pos + bs > n:
            perm, pos = torch.randperm(n, generator=generator).to(data.X_tr.device), 0
        idx = perm[pos:pos + bs]
        pos += bs
        # what LambdaLR(opt, lambda t: lr_factor(t, cfg)) sets: initial lr x s(t)
        lr_t = cfg.lr * lr_factor(step, cfg)
        if lr_t != lr:
            update.set_lr(lr_t)
            lr = lr_t
        loss = nn.functional.mse_loss(forward(data.X_tr.index_select(0, idx)),
                                      data.y_tr.index_select(0, idx))
        loss.backward()
        update()
        run_loss += loss.detach()
        step += 1
        if on_step is not None:
            on_step(step_offset + step)
        if step % every and step != cfg.max_steps:
            continue
        train_loss = float(run_loss) / (step - last_eval)
        last_eval = step
        run_loss.zero_()
        val = mse(forward, data.X_val, data.y_val)
        worst = max(train_loss, val) if math.isfinite(train_loss + val) else math.nan
        if not worst <= cfg.diverge_loss:
            raise Diverged(step_offset + step, worst, cfg.lr)
        history.append((step_offset + step, train_loss, val))
        since = 0 if val < best_val * (1.0 - cfg.min_rel_improvement) else since + every
        if val < best_val:
            best_val, best_step = val, step
            best_state = copy.deepcopy(model.state_dict())
        if since >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return RunResult(best_val, step_offset + best_step, step, step < cfg.max_steps, history)


def run_with_retries(
    run: Callable[[float], Any], lr: float, max_retries: int = 3, previous: int = 0
) -> tuple[Any, float, int]:
    """Call ``run(lr)``; on :class:`Diverged` retry with lr / 10, at most ``max_retries`` times.

    Returns (result, lr used, retries).  Raises :class:`DivergenceError` (one line, counting
    ``previous`` retries made before this call) when the last retry diverges too.
    """
    cur = float(lr)
    for attempt in range(max_retries + 1):
        try:
            return run(cur), cur, attempt
        except Diverged as exc:
            last = exc
            if attempt < max_retries:
                cur /= 10.0
    raise DivergenceError(
        f"diverged: loss={last.loss} at step {last.step} after {max_retries + previous} retries "
        f"with lr down to {cur:g}"
    )


def select_lr(
    run: Callable[[float], Any],
    lr_grid: Iterable[float],
    max_retries: int = 3,
    score: Callable[[Any], float] = lambda r: r.best_val,
) -> tuple[Any, dict[str, Any]]:
    """Train every lr of the grid to its plateau and keep the best; see the module docstring.

    ``run(lr)`` performs the whole training procedure and returns a result scored by ``score``
    (the validation loss; lower is better).  Candidates that diverge are dropped; when all
    diverge, the smallest lr / 10 is retried (lr / 10 each time) within ``max_retries`` retries
    in all.  Returns (best result, info: "lr", "retries", "lr_val" {lr: validation loss or None}).
    """
    grid = sorted({float(v) for v in lr_grid})
    if not grid:
        raise ValueError("lr_grid must not be empty")
    best, best_lr, best_score, vals = None, None, math.inf, {}
    if len(grid) > 1 or max_retries == 0:
        for lr in grid:
            try:
                res = run(lr)
            except Diverged:
                vals[f"{lr:g}"] = None
                continue
            vals[f"{lr:g}"] = float(score(res))
            if best is None or vals[f"{lr:g}"] < best_score:
                best, best_lr, best_score = res, lr, vals[f"{lr:g}"]
            else:
                del res
    retries = 0
    if best is None:
        if len(grid) == 1 and max_retries > 0:      # not tried above
            best, best_lr, retries = run_with_retries(run, grid[0], max_retries)
        elif max_retries == 0:
            raise DivergenceError(f"diverged at every lr of {grid} (max_retries = 0)")
        else:
            best, best_lr, retries = run_with_retries(run, grid[0] / 10, max_retries - 1, 1)
            retries += 1
        vals.setdefault(f"{best_lr:g}", float(score(best)))
    return best, {"lr": float(best_lr), "retries": int(retries), "lr_val": vals}
