"""Data handling of the net learners: device and dtype, scaling, tensors, batched prediction.

Scaling (:class:`Scaler`, fitted on the training part): x -> (x - mu_x) / s_x with mu_x the
per-feature mean and s_x ONE scalar, the root mean per-feature variance, so the geometry of the
inputs (rotations, the teacher's subspace) is kept; y -> (y - mu_y) / s_y, undone on predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> cuda when available else cpu (the CPU fallback); anything else is passed to
    torch.device.  An explicit CUDA device on a machine without one is a one-line ValueError
    (rather than torch's assertion deep inside the first tensor move)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(dev)!r} requested but no CUDA device is available "
                         "(torch.cuda.is_available() is False); use device = 'auto' or 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(dev)!r} requested but only {torch.cuda.device_count()} "
                         "CUDA device(s) exist")
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"`` / ``"float64"`` (or a torch dtype) -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise ValueError(f"dtype must be one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


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
