"""``two_layer``: two-layer feature learners on multi-index targets f(x) = g(Ux).

Network: f(x) = c + sum_{j=1}^{2m} a_j relu(w_j . x + b_j), x standardised, y centred and scaled.

``variant="one_step"`` (default): the algorithm of Damian, Lee & Soltanolkotabi (COLT 2022):

1. Symmetric initialisation: w_j = w_{j+m} ~ N(0, I_d / d), a_j = -a_{j+m} = +-1 / (2m), b_j = 0,
   so f = 0 at initialisation.
2. One large gradient step on the first layer with weight decay eta * lambda = 1 (which removes
   the initial weights), on the first ``step_fraction`` of the samples (n1 of them):
   w_j <- -eta grad_{w_j} L = eta a_j (1/n1) sum_i y_i 1[w_j . x_i > 0] x_i,   L = mean (f - y)^2/2.
   For a target without linear part this is ~ eta a_j E[grad^2 f] w_j / 2: a random vector of
   the principal subspace span(U^T) (the paper's key step).  Here each w_j is then normalised to
   unit length (a per-neuron choice of eta; relu is positively homogeneous, so only the
   direction matters once the biases are redrawn).
3. Re-initialised biases b_j ~ N(0, 1).
4. Ridge regression of the second layer on the remaining samples:
   (a, c) = argmin sum_i (c + a . phi(x_i) - y_i)^2 + lambda ||a||^2,  phi_j = relu(w_j . x + b_j),
   lambda from a grid by exact leave-one-out (eigendecomposition of the centred Gram matrix
   Phi^T Phi: H_ii(lambda) = sum_k P_ik^2 / (s_k + lambda), P = Phi V).
   With ``step_fraction=None`` both phases use all n samples (no split).

``variant="sgd"``: plain two-layer training, the same net (m = width hidden units, standard
init) trained end-to-end by the shared loop of :mod:`learners.nets.loop` (AdamW, every lr of the
grid trained to its plateau, early stopping on a validation split, best weights restored).

Family: ``hierarchical`` for both variants: they learn the first-layer features from data by
gradient, and the multi-index task reports the paper's two-layer GD exponent under that family.

Simplifications of the paper: ReLU instead of the paper's generic activation assumptions, the
step size replaced by normalisation, biases redrawn from N(0, 1) rather than the paper's
distribution, lambda chosen by leave-one-out instead of the theoretical value.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from learners.base import Family, Resources
from learners.nets.data import Scaler, check_Xy, predict_batched, resolve_device, resolve_dtype
from learners.nets.layers import ACTIVATIONS, MLPNet
from learners.nets.learner import TorchNetLearner, net_resources
from learners.nets.loop import train
from learners.nets.params import net_init
from tasks.streams import Stream, seed_int, stream_rng, stream_torch_seed

VARIANTS = ("one_step", "sgd")
RIDGE_GRID = tuple(float(v) for v in np.logspace(-6, 1, 15))


def one_step_first_layer(X: torch.Tensor, y: torch.Tensor, m: int,
                         gen: torch.Generator) -> torch.Tensor:
    """Unit first-layer weights (2m, d) after the symmetric-init large gradient step."""
    d = X.shape[1]
    W0 = torch.randn(m, d, generator=gen, dtype=X.dtype).to(X.device) / d**0.5
    a0 = torch.where(torch.rand(m, generator=gen) < 0.5, -1.0, 1.0).to(X.device, X.dtype)
    active = (X @ W0.T > 0).to(X.dtype)                    # (n1, m): relu'(w_j . x_i)
    G = (active * y[:, None]).T @ X / X.shape[0]           # (m, d): (1/n1) sum y 1[.] x
    W = torch.cat([a0[:, None] * G, -a0[:, None] * G])     # pairs j, j+m: a_{j+m} = -a_j
    return W / W.norm(dim=1, keepdim=True).clamp_min(1e-30)


def relu_features(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """phi(X) = relu(X W^T + b), shape (n, 2m)."""
    return torch.relu(X @ W.T + b)


def ridge_loo(Phi: torch.Tensor, y: torch.Tensor, grid) -> tuple[torch.Tensor, float, float,
                                                                    dict[str, float]]:
    """Ridge with intercept, lambda = t * mean eigenvalue, t from ``grid`` by exact LOO.

    Returns (a, c, chosen lambda, {t: LOO mse}).
    """
    mu, ybar = Phi.mean(0), y.mean()
    P0, yc = Phi - mu, y - ybar
    s, V = torch.linalg.eigh(P0.T @ P0)
    s = s.clamp_min(0)
    P, Py = P0 @ V, V.T @ (P0.T @ yc)
    scale = float(s.mean()) or 1.0
    scores = {}
    for t in grid:
        lam = t * scale
        inv = 1.0 / (s + lam)
        fit = P @ (inv * Py)
        h = (P * P) @ inv + 1.0 / Phi.shape[0]               # + intercept leverage
        scores[f"{t:g}"] = float(torch.mean(((yc - fit) / (1.0 - h).clamp_min(1e-12)) ** 2))
    best = min(scores, key=scores.get)
    lam = float(best) * scale
    a = V @ (Py / (s + lam))
    return a, float(ybar - mu @ a), lam, scores


class TwoLayerLearner(TorchNetLearner):
    """Two-layer feature learner: Damian et al.'s one-step algorithm or plain SGD (module doc).

    Parameters: ``variant`` one_step / sgd, ``width`` (one_step: m pairs, 2m features; sgd: m
    hidden units), ``step_fraction`` (one_step: share of the n samples for the gradient step; the
    rest fit the ridge; None = all samples for both), ``ridge_grid`` (lambda / mean eigenvalue
    candidates), ``activation`` (sgd), the training parameters shared by every net learner
    (used by ``sgd``); ``device``, ``dtype`` (None: float64 for one_step, float32 for sgd),
    ``random_state``.
    """

    family = Family.HIERARCHICAL
    _parameter_constraints: ClassVar[dict] = {
        **TorchNetLearner._parameter_constraints,
        "variant": [StrOptions(set(VARIANTS))],
        "width": [Interval(Integral, 1, None, closed="left")],
        "step_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "ridge_grid": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dtype": [StrOptions({"float32", "float64"}), None],
    }

    __init__ = net_init(variant="one_step", width=1024, step_fraction=0.5, ridge_grid=RIDGE_GRID,
                        activation="relu", dtype=None)

    # -- dispatch -----------------------------------------------------------------------------
    def fit(self, X, y):
        if self.variant == "sgd":
            return super().fit(X, y)
        self._validate_params()
        return self._fit_one_step(*check_Xy(X, y))

    def _dtype_setting(self) -> str:
        return self.dtype or ("float64" if self.variant == "one_step" else "float32")

    # -- sgd variant (TorchNetLearner hooks) ----------------------------------------------------
    def _build(self, d: int):
        return MLPNet(d, int(self.width), 1, self.activation, False)

    def _procedure(self, model, data, cfg, generator, on_step):
        self._extra_info = {"variant": "sgd"}
        return train(model, data, cfg, generator, on_step=on_step)

    # -- one-step variant -------------------------------------------------------------------------
    def _fit_one_step(self, X: np.ndarray, y: np.ndarray):
        seed = seed_int(self.random_state)
        rng = stream_rng(seed, Stream.SPLIT)
        n = X.shape[0]
        perm = rng.permutation(n)
        if self.step_fraction is None:
            i1 = i2 = perm
        else:
            n1 = min(max(1, int(round(self.step_fraction * n))), n - 1)
            i1, i2 = perm[:n1], perm[n1:]
        self.scaler_ = Scaler.fit(X, y, standardize_x=self.standardize)
        self.device_ = resolve_device(self.device)
        self.dtype_ = resolve_dtype(self._dtype_setting())
        self.n_features_in_ = X.shape[1]

        def t(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype_, device=self.device_)

        Xs, ys = t(self.scaler_.x(X)), t(self.scaler_.y(y))
        gen = torch.Generator().manual_seed(stream_torch_seed(seed, Stream.FEATURES))
        W = one_step_first_layer(Xs[i1], ys[i1], int(self.width), gen)
        b = torch.randn(W.shape[0], generator=gen, dtype=self.dtype_).to(self.device_)
        a, c, lam, scores = ridge_loo(relu_features(Xs[i2], W, b), ys[i2], self.ridge_grid)
        self.W_, self.b_, self.a_, self.c_ = W, b, a, c
        train_err = float(torch.mean((self._predict_fn(Xs) - ys) ** 2))
        self.fit_info_ = {"final_train_error": train_err, "variant": "one_step",
                          "n_step": int(len(i1)), "n_ridge": int(len(i2)),
                          "ridge_lambda": lam, "ridge_loo": scores, "n_params": int(W.numel()
                          + b.numel() + a.numel() + 1), "device": str(self.device_),
                          "final_val_loss": min(scores.values()), "retries": 0}
        return self

    def _predict_fn(self, xb: torch.Tensor) -> torch.Tensor:
        return relu_features(xb, self.W_, self.b_) @ self.a_ + self.c_

    def _check_fitted(self) -> None:
        if not (hasattr(self, "W_") or hasattr(self, "model_")):
            super()._check_fitted()

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        if not hasattr(self, "W_"):
            return super().predict(X)
        Xs = self.scaler_.x(np.asarray(X, dtype=np.float64))
        (f,) = predict_batched(self._predict_fn, Xs, self.device_, self.dtype_)
        return self.scaler_.inverse_y(f.reshape(-1)).astype(np.float64)

    def first_layer_(self) -> np.ndarray:
        """Learned first-layer weights (2m, d) of the one-step variant (rows unit norm)."""
        self._check_fitted()
        return self.W_.detach().cpu().numpy()

    def resources(self, n: int, d: int) -> Resources:
        m = int(self.width)
        if self.variant == "sgd":
            n_params = d * m + 2 * m + 1
            return net_resources(n, d, n_params, 2 * m + d, int(self.batch_size),
                                 self._predicted_steps(n), 2.0 * n_params)
        k = 2 * m
        mem = 4e8 + 8.0 * (2 * n * d + 3 * n * k + 3 * k * k)
        secs = (2.0 * n * d * k * 3 + 2.0 * n * k * k * 2 + 10.0 * k**3) / 2e10
        return Resources(memory_bytes=mem, seconds=secs)
