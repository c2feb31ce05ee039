"""Shared machinery of the torch learners: device, scaling, training loop, lr grid, divergence.

Training problem (every net learner): minimise the mean squared error on standardised targets,

    L(theta) = mean_i (f_theta(x_i) - y_i)^2,   y_i = (y_raw_i - mean(y)) / std(y),

by mini-batch Adam (decoupled weight decay, "AdamW") or SGD with momentum 0.9, batches drawn as
successive slices of a fresh random permutation of the training part every epoch.

Schedule.  A run has a budget of ``max_steps`` optimisation steps; the learning rate is
``lr * s(t)`` with a linear warm-up over the first ``warmup * max_steps`` steps and a cosine decay
to ``final_lr_factor * lr`` at ``max_steps`` (or constant after warm-up, ``schedule="constant"``).

Early stopping.  Every ``eval_every`` steps the validation loss (same MSE, on the internal
validation part of the n samples) is computed; the parameters with the lowest validation loss are
kept, and the run stops when it has not improved by a relative ``min_rel_improvement`` for
``patience`` steps.  Patience is counted in *steps* so that long plateaus (high-degree targets)
are survived: the defaults of the learners use a patience of a third of the budget.

Learning-rate grid.  With more than one candidate, each lr gets a pilot run of the full procedure
at ``tune_fraction`` of the budget (same seed, same split); the lr with the lowest pilot validation
loss is then trained with the full budget from scratch.  Cost: (1 + tune_fraction * len(grid)) x
budget.  Everything stays inside the n samples (the validation part counts toward n).

Divergence.  A non-finite training or validation loss at an evaluation, or one above
``diverge_loss`` (1e6, in units of Var(y): predicting the mean scores 1), raises :class:`Diverged`.
:func:`run_with_retries` restarts with lr / 10 up to ``max_retries`` times and then raises
:class:`learners.base.DivergenceError` with a one-line message; the harness records it as failed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from learners.base import DivergenceError, HierbenchLearner, Resources, train_val_split

#: bytes of runtime overhead of a torch process (interpreter, libraries, allocator) for resources()
TORCH_OVERHEAD_BYTES = 400e6


# --------------------------------------------------------------------------------------------
# device, dtype, seeds
# --------------------------------------------------------------------------------------------
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda when available else cpu; anything else is passed to torch.device."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"`` / ``"float64"`` (or a torch dtype) -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise ValueError(f"dtype must be one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


def seed_int(random_state: Any) -> int:
    """An integer seed from ``random_state`` (None -> 0, int, or a numpy Generator/RandomState)."""
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise ValueError(f"random_state must be None, an int or a numpy generator: {random_state!r}")


def build_seeded(seed: int, factory: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's global RNG seeded to ``seed``, restoring the RNG state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


# --------------------------------------------------------------------------------------------
# scaling and data
# --------------------------------------------------------------------------------------------
@dataclass
class Scaler:
    """Affine standardisation fitted on the training part.

    x -> (x - mu_x) / s_x with mu_x the per-feature mean and s_x ONE scalar (the root mean
    per-feature variance), so the geometry of the inputs (rotations, the teacher's subspace) is
    kept; y -> (y - mu_y) / s_y.  ``inverse_y`` undoes the target map for predictions.
    """

    mu_x: np.ndarray
    s_x: float
    mu_y: float
    s_y: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, standardize_x: bool = True) -> Scaler:
        d = X.shape[1]
        if standardize_x:
            mu_x = X.mean(axis=0)
            s_x = float(np.sqrt(np.mean(X.var(axis=0)))) or 1.0
        else:
            mu_x, s_x = np.zeros(d), 1.0
        s_y = float(np.std(y)) or 1.0
        return cls(mu_x=mu_x, s_x=s_x, mu_y=float(np.mean(y)), s_y=s_y)

    def x(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mu_x) / self.s_x

    def y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.mu_y) / self.s_y

    def inverse_y(self, f: np.ndarray) -> np.ndarray:
        return f * self.s_y + self.mu_y


@dataclass
class Data:
    """Training and validation tensors (already scaled) on the training device."""

    X_tr: torch.Tensor
    y_tr: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor

    @classmethod
    def from_numpy(cls, X_tr, y_tr, X_val, y_val, device, dtype) -> Data:
        def t(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

        return cls(t(X_tr), t(y_tr), t(X_val), t(y_val))

    @property
    def n_train(self) -> int:
        return int(self.X_tr.shape[0])


def check_Xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """float64 arrays X (n, d) and y (n,), n >= 2, finite."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    if X.shape[0] < 2:
        raise ValueError("need at least 2 samples (one for training, one for validation)")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite")
    return X, y


@torch.no_grad()
def predict_batched(
    fn: Callable[[torch.Tensor], Any], X: np.ndarray, device, dtype, batch: int = 8192
) -> list[np.ndarray]:
    """Apply ``fn`` (returning a tensor or a list of tensors) to X in chunks; float64 numpy out."""
    outs: list[list[np.ndarray]] = []
    for start in range(0, X.shape[0], batch):
        xb = torch.as_tensor(X[start:start + batch], dtype=dtype, device=device)
        res = fn(xb)
        res = res if isinstance(res, (list, tuple)) else [res]
        outs.append([r.detach().to("cpu", torch.float64).numpy() for r in res])
    if not outs:
        return []
    return [np.concatenate(parts, axis=0) for parts in zip(*outs, strict=True)]


# --------------------------------------------------------------------------------------------
# the training loop
# --------------------------------------------------------------------------------------------
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
    batch_size: int = 256
    weight_decay: float = 0.0
    optimizer: str = "adam"
    warmup: float = 0.02
    schedule: str = "cosine"
    final_lr_factor: float = 0.01
    patience: int | None = None
    eval_every: int | None = None
    min_rel_improvement: float = 1e-3
    grad_clip: float | None = None
    diverge_loss: float = 1e6

    def resolved_eval_every(self, n_train: int) -> int:
        """Evaluate about once per epoch, at least every 100 steps and at most every 5."""
        if self.eval_every:
            return int(self.eval_every)
        epoch = max(1, math.ceil(n_train / self.batch_size))
        return int(min(100, max(5, epoch)))


@dataclass
class RunResult:
    """Outcome of one training run or stage."""

    best_val: float
    best_step: int
    steps_run: int
    stopped_early: bool
    history: list[tuple[int, float, float]] = field(default_factory=list)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """s(t): linear warm-up then cosine decay to ``final_lr_factor`` (or constant)."""
    warm = max(1, int(round(cfg.warmup * cfg.max_steps)))
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule != "cosine":
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {cfg.schedule!r}")
    prog = min(1.0, (step - warm) / max(1, cfg.max_steps - warm))
    lo = cfg.final_lr_factor
    return lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * prog))


def make_optimizer(params: Iterable[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay) or SGD with momentum 0.9 and L2 weight decay."""
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
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
    data: Data,
    cfg: TrainConfig,
    generator: torch.Generator,
    params: Iterable[nn.Parameter] | None = None,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_step: Callable[[int], None] | None = None,
    step_offset: int = 0,
) -> RunResult:
    """Run mini-batch training of ``forward`` (default ``model``) on ``data`` under ``cfg``.

    Only ``params`` (default: all parameters of ``model``) are updated.  The model ends in its
    best-validation state.  ``on_step(global_step)`` is called after every optimisation step
    (``global_step = step_offset + local step + 1``).  Raises :class:`Diverged` on a non-finite
    loss (checked at each evaluation, so no per-step device synchronisation).
    """
    forward = forward or model
    opt = make_optimizer(model.parameters() if params is None else params, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_factor(t, cfg))
    n, bs = data.n_train, min(cfg.batch_size, data.n_train)
    every = cfg.resolved_eval_every(n)
    patience = cfg.patience if cfg.patience is not None else max(every, cfg.max_steps // 3)
    best_val, best_step, since, best_state = math.inf, 0, 0, None
    run_loss, history = torch.zeros((), dtype=data.y_tr.dtype, device=data.y_tr.device), []
    perm, pos, step = None, n, 0
    while step < cfg.max_steps:
        if pos + bs > n:
            perm, pos = torch.randperm(n, generator=generator).to(data.X_tr.device), 0
        idx = perm[pos:pos + bs]
        pos += bs
        loss = torch.mean((forward(data.X_tr[idx]) - data.y_tr[idx]) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]],
                                     cfg.grad_clip)
        opt.step()
        sched.step()
        run_loss = run_loss + loss.detach()
        step += 1
        if on_step is not None:
            on_step(step_offset + step)
        if step % every and step != cfg.max_steps:
            continue
        train_loss = float(run_loss) / (step - (history[-1][0] - step_offset if history else 0))
        run_loss.zero_()
        val = mse(forward, data.X_val, data.y_val)
        worst = max(train_loss, val) if math.isfinite(train_loss + val) else math.nan
        if not worst <= cfg.diverge_loss:
            raise Diverged(step_offset + step, worst, cfg.lr)
        history.append((step_offset + step, train_loss, val))
        if val < best_val * (1.0 - cfg.min_rel_improvement):
            since = 0
        else:
            since += every
        if val < best_val:
            best_val, best_step = val, step
            best_state = copy.deepcopy(model.state_dict())
        if since >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return RunResult(best_val, step_offset + best_step, step, step < cfg.max_steps, history)


# --------------------------------------------------------------------------------------------
# lr grid and retries
# --------------------------------------------------------------------------------------------
def run_with_retries(
    run: Callable[[float], Any], lr: float, max_retries: int = 3
) -> tuple[Any, float, int]:
    """Call ``run(lr)``; on :class:`Diverged` retry with lr / 10, at most ``max_retries`` times.

    Returns (result, lr used, retries).  Raises :class:`DivergenceError` (one line) when the last
    retry diverges too.
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
        f"diverged: loss={last.loss} at step {last.step} after {max_retries} retries "
        f"with lr down to {cur:g}"
    )


def select_lr(
    run: Callable[[float, float], Any],
    lr_grid: Iterable[float],
    tune_fraction: float = 0.2,
    max_retries: int = 3,
    score: Callable[[Any], float] = lambda r: r.best_val,
) -> tuple[Any, dict[str, Any]]:
    """Pick the lr by pilot runs, then train with the full budget; see the module docstring.

    ``run(lr, budget_scale)`` performs the whole training procedure with ``budget_scale`` times
    the step budget and returns a result scored by ``score`` (lower is better).  Pilots that
    diverge score +inf; when every pilot diverges the smallest lr goes to the full run, whose
    retries then lower it further.  Returns (full-run result, info dict).
    """
    grid = sorted({float(v) for v in lr_grid})
    if not grid:
        raise ValueError("lr_grid must not be empty")
    pilots: dict[str, float] = {}
    chosen = grid[0]
    if len(grid) > 1:
        for lr in grid:
            try:
                pilots[f"{lr:g}"] = float(score(run(lr, tune_fraction)))
            except Diverged:
                pilots[f"{lr:g}"] = math.inf
        finite = {k: v for k, v in pilots.items() if math.isfinite(v)}
        if finite:
            chosen = float(min(finite, key=finite.get))
    result, lr_used, retries = run_with_retries(lambda lr: run(lr, 1.0), chosen, max_retries)
    info = {"lr": lr_used, "lr_chosen_from_grid": chosen, "retries": retries,
            "lr_pilot_val": {k: (v if math.isfinite(v) else None) for k, v in pilots.items()}}
    return result, info


# --------------------------------------------------------------------------------------------
# resources
# --------------------------------------------------------------------------------------------
def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def net_resources(
    n: int, d: int, n_params: int, act_per_sample: int, batch: int, steps: float,
    flops_per_sample: float, dtype_bytes: int = 4, flop_rate: float = 2e10,
    step_overhead_s: float = 4e-4,
):
    """Rough peak memory and fit time of a torch net fit.

    memory = torch runtime + data (float64 input + device copy) + params x 5 (weights, grad, two
    Adam moments, best-state copy) + activations of a batch (x 3 for the backward) + a prediction
    chunk;  time = steps x (3 x flops_per_sample x batch / flop_rate + step overhead).
    """
    mem = (TORCH_OVERHEAD_BYTES + n * (d + 1) * (8 + dtype_bytes) + 5 * n_params * dtype_bytes
           + 3 * batch * act_per_sample * dtype_bytes + 8192 * act_per_sample * dtype_bytes)
    secs = steps * (3.0 * flops_per_sample * batch / flop_rate + step_overhead_s)
    return Resources(memory_bytes=float(mem), seconds=float(secs))


# --------------------------------------------------------------------------------------------
# shared learner scaffolding
# --------------------------------------------------------------------------------------------
class TorchNetLearner(HierbenchLearner):
    """Common fit/predict plumbing of the torch learners (not registered itself).

    Subclasses implement ``_build(d, seed) -> nn.Module`` (the module has ``forward(x) -> (b,)``
    and, for deep nets, ``hidden(x) -> list of (b, width_l)``) and
    ``_procedure(model, data, lr, budget_scale, generator, on_step) -> RunResult``.
    They must have the parameters ``random_state``, ``device``, ``dtype``, ``val_fraction``,
    ``lr_grid``, ``tune_fraction``, ``max_retries``, ``standardize``; ``callback`` and
    ``callback_every`` are optional.
    """

    uses_gpu = True

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, X, y):
        """Split off the validation part, scale, choose lr by pilots, train; returns self."""
        X, y = check_Xy(X, y)
        seed = seed_int(self.random_state)
        rng = np.random.default_rng([seed, 1])
        X_tr, y_tr, X_val, y_val = train_val_split(X, y, self.val_fraction, rng)
        self.scaler_ = Scaler.fit(X_tr, y_tr, standardize_x=self.standardize)
        self.device_ = resolve_device(self.device)
        self.dtype_ = resolve_dtype(self._dtype_setting())
        self.n_features_in_ = X.shape[1]
        s = self.scaler_
        data = Data.from_numpy(s.x(X_tr), s.y(y_tr), s.x(X_val), s.y(y_val),
                               self.device_, self.dtype_)

        def run(lr: float, scale: float):
            model = build_seeded(seed, lambda: self._build(X.shape[1], seed))
            model = model.to(self.device_, self.dtype_)
            self.model_ = model
            gen = torch.Generator().manual_seed(seed + 1)
            res = self._procedure(model, data, lr, scale, gen, self._step_hook())
            return model, res

        try:
            (model, res), info = select_lr(run, self.lr_grid, self.tune_fraction,
                                           self.max_retries, score=lambda r: r[1].best_val)
        except BaseException:
            self.__dict__.pop("model_", None)  # no half-trained net left behind as fitted state
            raise
        self.model_ = model.eval()
        self.fit_info_ = self._fit_info(res, info, n=X.shape[0], n_val=X_val.shape[0])
        return self

    def _dtype_setting(self) -> str:
        return self.dtype

    def _step_hook(self) -> Callable[[int], None] | None:
        cb = getattr(self, "callback", None)
        if cb is None:
            return None
        every = max(1, int(getattr(self, "callback_every", 100)))

        def hook(step: int) -> None:
            if step % every == 0:
                cb(step, self)

        return hook

    def _fit_info(self, res: RunResult, info: dict[str, Any], n: int, n_val: int) -> dict:
        out = dict(info)
        out.update({
            "best_step": int(res.best_step), "steps_run": int(res.steps_run),
            "stopped_early": bool(res.stopped_early), "final_val_loss": float(res.best_val),
            "n_params": count_params(self.model_), "n_train": int(n - n_val), "n_val": int(n_val),
            "device": str(self.device_),
        })
        out.update(getattr(self, "_extra_info", {}))
        return out

    # -- predict ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")

    def predict(self, X) -> np.ndarray:
        """f(X) in the original units of y, float64, shape (n,)."""
        self._check_fitted()
        Xs = self.scaler_.x(np.asarray(X, dtype=np.float64))
        (f,) = predict_batched(self.model_, Xs, self.device_, self.dtype_)
        return self.scaler_.inverse_y(f.reshape(-1)).astype(np.float64)

    def hidden_representations(self, X) -> list[np.ndarray]:
        """Post-activation features of each hidden layer/block of the (current) net, float64."""
        self._check_fitted()
        Xs = self.scaler_.x(np.asarray(X, dtype=np.float64))
        return predict_batched(self.model_.hidden, Xs, self.device_, self.dtype_)
