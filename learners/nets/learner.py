"""The fit/predict plumbing shared by the torch learners trained by gradient (TorchNetLearner).

Fit (:class:`TorchNetLearner`): the n samples are split at random (the learner's own SPLIT
stream, :mod:`tasks.streams`) into a training part and a validation part of ``val_fraction`` x n;
x is standardised and y standardised on the training part (:class:`learners.nets.data.Scaler`);
for every lr of ``lr_grid`` a net is initialised (INIT stream, the same init for every lr) and
trained to its plateau or its budget by the learner's procedure (batches from the BATCHES
stream; :mod:`learners.nets.loop`, or :mod:`learners.nets.staged` for staged learners); the net
with the lowest validation loss is kept.

``fit_info_`` keys (besides the learner's own): "lr" (chosen), "lr_val" (validation loss per
lr), "retries", "steps" (= "steps_run") and "epochs" (of the kept run; epoch =
floor(n_train / batch) steps),
"budget_exhausted" (the run, or a stage of it, ended on its step budget rather than on a
plateau), "final_train_error" (MSE / Var on the training part, standardised units, best state),
"final_val_loss" (the same on the validation part), "best_step", "step_budget",
"steps_per_epoch", "steps_total" (over all lr candidates), "n_params", "n_train", "n_val",
"device".  ``history_`` holds the kept run's loss curve: (step, mean training loss since the
previous evaluation, validation loss) once per epoch, standardised units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch

from learners.base import HierbenchLearner, Resources, train_val_split
from learners.nets.data import (
    Data,
    Scaler,
    check_Xy,
    predict_batched,
    resolve_device,
    resolve_dtype,
)
from learners.nets.layers import build_seeded, count_params
from learners.nets.loop import TrainConfig, mse, select_lr
from learners.nets.params import (
    COMMON_CONSTRAINTS,
    TRAINING_CONSTRAINTS,
    TrainingParams,
    check_lr_grid,
)
from tasks.streams import Stream, seed_int, stream_rng, stream_torch_seed

#: bytes of runtime overhead of a torch process (interpreter, libraries, allocator) for resources()
TORCH_OVERHEAD_BYTES = 400e6

# --------------------------------------------------------------------------------------------
# resources
# --------------------------------------------------------------------------------------------
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
    """Common fit/predict plumbing of the torch learners trained by gradient (not registered).

    Subclasses take the :class:`TrainingParams` fields as ``__init__`` parameters (defaults
    from :data:`DEFAULTS`), plus ``random_state``, ``device``, ``dtype``, ``standardize``,
    ``callback`` and ``callback_every``; they implement ``_build(d) -> nn.Module`` (``forward(x)
    -> (b,)`` and, for deep nets, ``hidden(x) -> list of (b, width_l)``) and
    ``_procedure(model, data, cfg, generator, on_step) -> RunResult``, and may set
    ``self._extra_info`` (a dict merged into fit_info) in ``_procedure``.
    """

    uses_gpu = True
    _parameter_constraints: ClassVar[dict] = {**TRAINING_CONSTRAINTS, **COMMON_CONSTRAINTS}

    def training_params(self) -> TrainingParams:
        return TrainingParams.of(self)

    def _check_params(self) -> list[float]:
        """scikit-learn's checks of every parameter, then the lr grid; returns the lr list."""
        self._validate_params()
        return check_lr_grid(type(self).__name__, self.lr_grid)

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, X, y):
        """Split off the validation part, scale, train every lr to its plateau; returns self."""
        lrs = self._check_params()
        X, y = check_Xy(X, y)
        tp = self.training_params()
        seed = seed_int(self.random_state)
        X_tr, y_tr, X_val, y_val = train_val_split(X, y, tp.val_fraction,
                                                   stream_rng(seed, Stream.SPLIT))
        self.scaler_ = Scaler.fit(X_tr, y_tr, standardize_x=self.standardize)
        self.device_ = resolve_device(self.device)
        self.dtype_ = resolve_dtype(self._dtype_setting())
        self.n_features_in_ = d = X.shape[1]
        s = self.scaler_
        data = Data.from_numpy(s.x(X_tr), s.y(y_tr), s.x(X_val), s.y(y_val),
                               self.device_, self.dtype_)
        n_tr = data.n_train
        init_seed, batch_seed = (stream_torch_seed(seed, Stream.INIT),
                                 stream_torch_seed(seed, Stream.BATCHES))
        steps_total = [0]

        def run(lr: float):
            model = build_seeded(init_seed, lambda: self._build(d)).to(self.device_, self.dtype_)
            self.model_ = model
            self._extra_info = {}
            gen = torch.Generator().manual_seed(batch_seed)
            cfg = TrainConfig.from_params(tp, lr, n_tr)
            res = self._procedure(model, data, cfg, gen, self._step_hook())
            steps_total[0] += res.steps_run
            return model, res, dict(self._extra_info, step_budget=int(cfg.max_steps))

        try:
            (model, res, extra), info = select_lr(run, lrs, tp.max_retries,
                                                  score=lambda r: r[1].best_val)
        except BaseException:
            self.__dict__.pop("model_", None)  # no half-trained net left behind as fitted state
            raise
        self.model_ = model.eval()
        self.history_ = list(res.history)
        E = tp.steps_per_epoch(n_tr)
        info.update({
            "steps": int(res.steps_run), "steps_run": int(res.steps_run),
            "epochs": round(res.steps_run / E, 3),
            "budget_exhausted": bool(res.budget_exhausted),
            "final_train_error": mse(model, data.X_tr, data.y_tr),
            "final_val_loss": float(res.best_val), "best_step": int(res.best_step),
            "steps_per_epoch": int(E), "steps_total": int(steps_total[0]),
            "n_params": count_params(model), "n_train": int(n_tr), "n_val": int(X_val.shape[0]),
            "device": str(self.device_),
        })
        info.update(extra)
        self.fit_info_ = info
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

    def _predicted_steps(self, n: int) -> float:
        """Upper bound of the optimisation steps of a fit on n samples (all lr candidates)."""
        tp = self.training_params()
        n_tr = max(1, n - int(round(tp.val_fraction * n)))
        try:
            k = len(tp.lrs())
        except (TypeError, ValueError):
            k = 1
        return float(k * tp.step_budget(n_tr))

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
