"""``three_layer``: the layerwise three-layer scheme of Nichani-Damian-Lee / Wang-Nichani-Lee.

Target class: h(x) = g(p(x)) with p of degree k and g of degree q (the ``hier_poly`` family).

Network (x standardised, y centred and scaled):

    phi(x)   = relu(V x + b)             in R^{m1}, V rows uniform on the unit sphere, b ~ N(0, 1)
                                          (first layer: fixed random features),
    p_hat(x) = theta . phi(x) + theta_0  (second layer: a learned scalar feature),
    psi(x)   = relu(s_i z(x) + beta_i)   in R^{m2}, z = standardised p_hat, s_i = +-1,
                                          beta_i ~ U[-3, 3]  (random features of the feature),
    f(x)     = c . psi(x) + c_0          (outer layer: the link g).

Training, layer by layer (the papers' layerwise GD, each stage solved to convergence in closed
form by ridge regression, which is where gradient descent with weight decay on that convex stage
converges):

1. Stage 1, on the first ``stage_fraction`` of the samples: (theta, theta_0) by ridge of y on
   phi(x), lambda by exact leave-one-out.  Because E[g'(p)] != 0, the best low-degree fit of
   h = g(p) in the random-feature span is ~ E[g'] p(x) (plus terms that vanish as n, m1 grow):
   the second layer learns p up to scale.  With n ~ d^k samples and m1 >~ d^k features this
   is the papers' d^k sample complexity.
2. Stage 2, on the remaining samples: (c, c_0) by ridge of y on psi(x), lambda by LOO (the
   outer layer learns g on the learned feature).

``stage_fraction=None`` uses all n samples in both stages.

Each stage is solved exactly, so there is no step budget or early stopping here (fit_info
records "final_train_error" and the chosen ridges; no "steps").

Family: ``layerwise``.  Simplifications of the papers: stages solved exactly by ridge instead of
finitely many GD steps (one step in Nichani et al.'s stage 1), ReLU random features on the sphere,
a scalar bottleneck p_hat (the papers keep a hidden layer whose units all align with p; one unit
is the same function class up to the outer random features), lambda chosen by leave-one-out.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from learners.base import Family, HierbenchLearner, Resources
from learners.nets.data import Scaler, check_Xy, predict_batched, resolve_device, resolve_dtype
from learners.nets.params import CLOSED_FORM_RUNTIME, COMMON_CONSTRAINTS, net_init
from learners.two_layer import RIDGE_GRID, ridge_loo
from tasks.streams import Stream, seed_int, stream_rng, stream_torch_seed


class ThreeLayerLearner(HierbenchLearner):
    """Layerwise three-layer net for h = g(p(x)): RF -> learned feature -> RF of it -> link.

    Parameters: ``width1`` m1 random features of x, ``width2`` m2 random features of the learned
    feature, ``stage_fraction`` (share of the n samples for stage 1; None = all samples in both
    stages), ``ridge_grid`` (lambda / mean eigenvalue candidates), ``device``, ``dtype``,
    ``random_state``.
    """

    family = Family.LAYERWISE
    uses_gpu = True
    _parameter_constraints: ClassVar[dict] = {
        "width1": [Interval(Integral, 1, None, closed="left")],
        "width2": [Interval(Integral, 1, None, closed="left")],
        "stage_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "ridge_grid": ["array-like"],
        **{k: COMMON_CONSTRAINTS[k] for k in CLOSED_FORM_RUNTIME},
    }

    __init__ = net_init(width1=2048, width2=256, stage_fraction=0.5, ridge_grid=RIDGE_GRID,
                        dtype="float64", with_training=False, runtime=CLOSED_FORM_RUNTIME)

    def fit(self, X, y):
        """Stage 1 (feature) then stage 2 (link), each by LOO-tuned ridge; returns self."""
        self._validate_params()
        X, y = check_Xy(X, y)
        seed = seed_int(self.random_state)
        i1, i2 = self._split(X.shape[0], stream_rng(seed, Stream.SPLIT))
        self.scaler_ = Scaler.fit(X, y, standardize_x=self.standardize)
        self.device_, self.dtype_ = resolve_device(self.device), resolve_dtype(self.dtype)
        self.n_features_in_ = X.shape[1]
        Xs = self._tensor(self.scaler_.x(X))
        ys = self._tensor(self.scaler_.y(y))
        gen = torch.Generator().manual_seed(stream_torch_seed(seed, Stream.FEATURES))
        self._draw_first_layer(X.shape[1], gen)
        theta, theta0, lam1, loo1 = ridge_loo(self._phi(Xs[i1]), ys[i1], self.ridge_grid)
        self.theta_, self.theta0_ = theta, theta0
        p2 = self._phi(Xs[i2]) @ theta + theta0
        self.z_mu_, self.z_sd_ = float(p2.mean()), float(p2.std(correction=0)) or 1.0
        self._draw_outer_features(gen)
        c, c0, lam2, loo2 = ridge_loo(self._psi_from_p(p2), ys[i2], self.ridge_grid)
        self.c_, self.c0_ = c, c0
        train_err = float(torch.mean((self._forward(Xs[i2]) - ys[i2]) ** 2))  # last stage
        self.fit_info_ = {"final_train_error": train_err, "solver": "closed-form ridge per stage",
                          "n_stage1": int(len(i1)), "n_stage2": int(len(i2)),
                          "ridge_lambda_1": lam1, "ridge_lambda_2": lam2,
                          "final_val_loss": min(loo2.values()), "stage1_loo": min(loo1.values()),
                          "n_params": int(self.V_.numel() + self.b_.numel() + theta.numel() + 1
                                          + 2 * self.s_.numel() + c.numel() + 1),
                          "device": str(self.device_), "retries": 0}
        return self

    # -- pieces -----------------------------------------------------------------------------
    def _split(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        perm = rng.permutation(n)
        if self.stage_fraction is None:
            return perm, perm
        n1 = min(max(1, int(round(self.stage_fraction * n))), n - 1)
        return perm[:n1], perm[n1:]

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype_, device=self.device_)

    def _draw_first_layer(self, d: int, gen: torch.Generator) -> None:
        V = torch.randn(int(self.width1), d, generator=gen, dtype=torch.float64)
        self.V_ = (V / V.norm(dim=1, keepdim=True)).to(self.device_, self.dtype_)
        self.b_ = torch.randn(int(self.width1), generator=gen, dtype=torch.float64).to(
            self.device_, self.dtype_)

    def _draw_outer_features(self, gen: torch.Generator) -> None:
        m2 = int(self.width2)
        s = torch.where(torch.rand(m2, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
        beta = 6.0 * torch.rand(m2, generator=gen, dtype=torch.float64) - 3.0
        self.s_, self.beta_ = s.to(self.device_, self.dtype_), beta.to(self.device_, self.dtype_)

    def _phi(self, X: torch.Tensor) -> torch.Tensor:
        """First layer: relu(V x + b), (n, m1)."""
        return torch.relu(X @ self.V_.T + self.b_)

    def _psi_from_p(self, p: torch.Tensor) -> torch.Tensor:
        """Outer random features of the standardised learned feature, (n, m2)."""
        z = (p - self.z_mu_) / self.z_sd_
        return torch.relu(z[:, None] * self.s_ + self.beta_)

    def _p_hat(self, X: torch.Tensor) -> torch.Tensor:
        return self._phi(X) @ self.theta_ + self.theta0_

    def _forward(self, X: torch.Tensor) -> torch.Tensor:
        return self._psi_from_p(self._p_hat(X)) @ self.c_ + self.c0_

    # -- public -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "c_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("ThreeLayerLearner is not fitted yet; call fit first")

    def predict(self, X) -> np.ndarray:
        """f(X) in the units of y, float64, shape (n,)."""
        self._check_fitted()
        Xs = self.scaler_.x(np.asarray(X, dtype=np.float64))
        (f,) = predict_batched(self._forward, Xs, self.device_, self.dtype_)
        return self.scaler_.inverse_y(f).astype(np.float64)

    def learned_feature(self, X) -> np.ndarray:
        """The second layer's scalar feature p_hat(x) (compare with the task's level-1 p(x))."""
        self._check_fitted()
        Xs = self.scaler_.x(np.asarray(X, dtype=np.float64))
        (p,) = predict_batched(self._p_hat, Xs, self.device_, self.dtype_)
        return p

    def hidden_representations(self, X) -> list[np.ndarray]:
        """[phi(x) (n, m1), p_hat(x) (n, 1), psi(x) (n, m2)]."""
        self._check_fitted()
        Xs = self.scaler_.x(np.asarray(X, dtype=np.float64))

        def layers(xb):
            phi = self._phi(xb)
            p = phi @ self.theta_ + self.theta0_
            return [phi, p[:, None], self._psi_from_p(p)]

        return predict_batched(layers, Xs, self.device_, self.dtype_, batch=2048)

    def resources(self, n: int, d: int) -> Resources:
        m1, m2 = int(self.width1), int(self.width2)
        b = 8 if self.dtype == "float64" else 4
        mem = 4e8 + 8.0 * 2 * n * d + b * (3 * n * m1 + 3 * m1 * m1 + 3 * n * m2)
        flops = 2.0 * n * d * m1 * 2 + 2.0 * n * m1 * m1 * 2 + 10.0 * m1**3 + 4.0 * n * m2 * m2
        return Resources(memory_bytes=mem, seconds=flops / 2e10)
