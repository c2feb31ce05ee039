"""Infinite-width NNGP and NTK kernels of fully connected networks, with kernel ridge on top.

Network (NTK parameterisation, the convention of neural-tangents' ``stax``), depth D hidden layers:

    h_1 = (w / sqrt(d)) W_1 x + b b_1,   h_{l+1} = (w / sqrt(N)) W_{l+1} phi(h_l) + b b_{l+1},
    f(x) = h_{D+1},  all W, b entries i.i.d. N(0, 1),  w = ``w_std``, b = ``b_std``.

Closed-form recursion (Neal 1996; Lee et al. 2018; Jacot et al. 2018; Arora et al. 2019), with
Sigma_l(x, z) the NNGP covariance of h_l and Theta_l the NTK:

    Sigma_1 = w^2 x.z / d + b^2,                                Theta_1 = Sigma_1
    Sigma_{l+1} = w^2 E[phi(u) phi(v)] + b^2,                   Theta_{l+1} = Sigma_{l+1}
                  + w^2 E[phi'(u) phi'(v)] Theta_l,  (u, v) ~ N(0, [[S_xx, S_xz], [S_xz, S_zz]])

with the Gaussian expectations in closed form (t = arccos(S_xz / sqrt(S_xx S_zz))):

* ReLU:  E[phi phi] = sqrt(S_xx S_zz) (sin t + (pi - t) cos t) / (2 pi),
         E[phi' phi'] = (pi - t) / (2 pi)
* erf:   E[phi phi] = (2/pi) arcsin(2 S_xz / sqrt((1 + 2 S_xx)(1 + 2 S_zz))),
         E[phi' phi'] = (4/pi) / sqrt((1 + 2 S_xx)(1 + 2 S_zz) - 4 S_xz^2)
* quadratic phi(u) = u^2:  E[phi phi] = S_xx S_zz + 2 S_xz^2,  E[phi' phi'] = 4 S_xz

NNGP = Sigma_{D+1}, NTK = Theta_{D+1}.  Computed natively in float64 in row blocks (one Gram
product per block, the recursion elementwise).  ``backend="neural-tangents"`` computes the same
kernels with neural-tangents' ``stax`` (optional extra ``hierbench[ntk]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from learners.kernel_ridge import RIDGE_CONSTRAINTS, KernelRidgeLearner
from learners.kernels import block_rows, empty_matrix

ACTIVATIONS = ("relu", "erf", "quadratic")
SQRT2 = math.sqrt(2.0)
BACKENDS = ("native", "neural-tangents")


def _dual(act: str, sxx, szz, sxz):
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for the bivariate normal with these moments."""
    if act == "relu":  # in place where possible: this is the hot loop of the kernel build
        norm = torch.sqrt(sxx * szz).clamp_(min=1e-300)
        cos = torch.div(sxz, norm).clamp_(-1.0, 1.0)
        pit = torch.arccos(cos).neg_().add_(math.pi)  # pi - t
        sin = torch.sqrt((1.0 - cos * cos).clamp_(min=0.0))  # sin t, t in [0, pi]
        e = sin.addcmul_(pit, cos).mul_(norm).mul_(1 / (2 * math.pi))
        return e, pit.mul_(1 / (2 * math.pi))
    if act == "erf":
        prod = (1 + 2 * sxx) * (1 + 2 * szz)
        return ((2 / math.pi) * torch.arcsin((2 * sxz / torch.sqrt(prod)).clamp(-1.0, 1.0)),
                (4 / math.pi) / torch.sqrt((prod - 4 * sxz * sxz).clamp(min=1e-300)))
    if act == "quadratic":
        return sxx * szz + 2 * sxz * sxz, 4 * sxz
    raise ValueError(f"unknown activation {act!r}; choose from {ACTIVATIONS}")


def _diag_var(act: str, s):
    """E[phi(u)^2] for u ~ N(0, s) (the recursion's diagonal)."""
    if act == "relu":
        return s / 2
    if act == "erf":
        return (2 / math.pi) * torch.arcsin(2 * s / (1 + 2 * s))
    return 3 * s * s


def nngp_ntk(G, nx, nz, *, depth: int, activation: str, w_std: float, b_std: float,
             d: int, want: str):
    """The recursion on a block: G = X Z^T (rows, cols), nx = |x|^2 (rows,), nz = |z|^2 (cols,).

    Returns the NNGP (``want="nngp"``) or NTK (``want="ntk"``) block, float64.
    """
    w2, b2 = w_std**2, b_std**2
    if activation == "relu":
        return _relu_recursion(G, nx, nz, depth=depth, w2=w2, b2=b2, d=d, want=want)
    s = w2 * G / d + b2
    sx, sz = w2 * nx / d + b2, w2 * nz / d + b2
    theta = s.clone() if want == "ntk" else None
    for _ in range(depth):
        e, edot = _dual(activation, sx[:, None], sz[None, :], s)
        if theta is not None:
            theta = theta * edot
        s = w2 * e + b2
        sx, sz = w2 * _diag_var(activation, sx) + b2, w2 * _diag_var(activation, sz) + b2
        if theta is not None:
            theta = s + w2 * theta
    return theta if want == "ntk" else s


def _relu_recursion(G, nx, nz, *, depth: int, w2: float, b2: float, d: int, want: str):
    """:func:`nngp_ntk` for ReLU with the work per kernel entry cut to ~12 in-place passes.

    The same formulas, rearranged: with c = S_xz / sqrt(S_xx S_zz) and pi - t = arccos(-c),
    sin t = sin(pi - t), the row and column factors 1 / sqrt(S_xx), 1 / sqrt(S_zz) and
    w^2 sqrt(S_xx S_zz) / (2 pi) are applied as broadcast vectors, so each layer costs one
    arccos and one sin per entry instead of an outer square root, a division and a sqrt(1 - c^2)
    (measured 1.9x faster on a 8192 x 4096 block, equal to 1e-13 relative).  G is overwritten.
    """
    s = G.mul_(w2 / d).add_(b2)
    sx, sz = w2 * nx / d + b2, w2 * nz / d + b2
    theta = s.clone() if want == "ntk" else None
    for _ in range(depth):
        rx, rz = torch.rsqrt(sx.clamp(min=1e-300)), torch.rsqrt(sz.clamp(min=1e-300))
        ncos = torch.mul(s, rx[:, None].neg()).mul_(rz[None, :]).clamp_(-1.0, 1.0)  # -cos t
        pit = torch.arccos(ncos)  # pi - t
        e = torch.sin(pit).addcmul_(pit, ncos, value=-1.0)  # sin t + (pi - t) cos t
        fx = (w2 / (2 * math.pi)) / rx  # w^2 sqrt(S_xx) / (2 pi)
        s = e.mul_(fx[:, None]).mul_((1.0 / rz)[None, :]).add_(b2)  # w^2 E[phi phi] + b^2
        if theta is not None:  # theta_{l+1} = s + w^2 (pi - t) / (2 pi) theta_l
            theta = torch.add(s, theta.mul_(pit), alpha=w2 / (2 * math.pi))
        sx, sz = w2 * sx / 2 + b2, w2 * sz / 2 + b2
    return theta if want == "ntk" else s


@dataclass(frozen=True)
class NTKKernel:
    """NNGP/NTK of a depth-D fully connected network on inputs x / ``bandwidth``."""

    kind: str = "ntk"
    depth: int = 2
    activation: str = "relu"
    w_std: float = SQRT2
    b_std: float = 1.0
    bandwidth: float = 1.0
    backend: str = "native"

    def __call__(self, X, Z=None, *, dtype=np.float64, out=None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64) / self.bandwidth
        Z = X if Z is None else np.asarray(Z, dtype=np.float64) / self.bandwidth
        if out is None:
            out = empty_matrix(X.shape[0], Z.shape[0], dtype)
        if self.backend == "neural-tangents":
            return _nt_kernel(self, X, Z, out)
        Xt, Zt = torch.from_numpy(X), torch.from_numpy(Z)
        nx, nz = (Xt * Xt).sum(1), (Zt * Zt).sum(1)
        step = block_rows(Z.shape[0], 8 * 4)  # the recursion holds ~4 float64 blocks
        for i in range(0, X.shape[0], step):
            blk = nngp_ntk(Xt[i:i + step] @ Zt.T, nx[i:i + step], nz, depth=self.depth,
                           activation=self.activation, w_std=self.w_std, b_std=self.b_std,
                           d=X.shape[1], want=self.kind)
            out[i:i + step] = blk.numpy()
        return out

    def diag(self, X) -> np.ndarray:
        """k(x_i, x_i) by the same recursion with x = z (shape (n,), float64)."""
        X = np.asarray(X, dtype=np.float64) / self.bandwidth
        w2, b2 = self.w_std**2, self.b_std**2
        s = torch.from_numpy(w2 * np.einsum("ij,ij->i", X, X) / X.shape[1] + b2)
        theta = s.clone()
        for _ in range(self.depth):
            e, edot = _dual(self.activation, s, s, s)
            theta = theta * edot
            s = w2 * e + b2
            theta = s + w2 * theta
        return (theta if self.kind == "ntk" else s).numpy()

    def info(self) -> dict:
        return {"kernel": self.kind, "depth": self.depth, "activation": self.activation,
                "w_std": self.w_std, "b_std": self.b_std, "bandwidth": float(self.bandwidth),
                "backend": self.backend}


# ---------------------------------------------------------------------------- neural-tangents
def _import_nt():
    """neural_tangents and jax (x64 on), imported lazily; one-line ImportError if missing."""
    try:
        import jax
        import neural_tangents as nt  # noqa: F401
        from neural_tangents import stax
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("backend='neural-tangents' needs the optional extra: "
                          f"pip install hierbench[ntk] ({exc})") from None
    jax.config.update("jax_enable_x64", True)
    return jax, stax


def nt_stax_kernel_fn(kern: NTKKernel):
    """neural-tangents' kernel_fn of the same network (stax.serial of Dense/activation)."""
    _, stax = _import_nt()
    act = {"relu": stax.Relu, "erf": stax.Erf,
           "quadratic": lambda: stax.Monomial(degree=2)}[kern.activation]
    layers = []
    for _ in range(kern.depth):
        layers += [stax.Dense(512, W_std=kern.w_std, b_std=kern.b_std), act()]
    layers.append(stax.Dense(1, W_std=kern.w_std, b_std=kern.b_std))
    return stax.serial(*layers)[2]


def _nt_kernel(kern: NTKKernel, X, Z, out):
    jax, _ = _import_nt()
    fn = jax.jit(nt_stax_kernel_fn(kern), static_argnames="get")
    step = block_rows(Z.shape[0], 8 * 8)
    for i in range(0, X.shape[0], step):
        out[i:i + step] = np.asarray(fn(X[i:i + step], Z, get=kern.kind))
    return out


# ---------------------------------------------------------------------------- learners
class NTKRegressor(KernelRidgeLearner):
    """Kernel ridge with the infinite-width NTK of a depth-D fully connected network.

    NTK parameters: ``depth`` (hidden layers), ``activation`` in {relu, erf, quadratic},
    ``w_std``, ``b_std``, ``backend`` in {native, neural-tangents}.  Inputs are divided by
    s = median |x| / sqrt(d) (times ``bandwidth_grid``), so that |x|^2 / d ~ 1.  The ridge is
    tuned and the system solved exactly as for ``krr`` (see :mod:`learners.kernel_ridge`).
    """

    kind = "ntk"
    _parameter_constraints: dict = {
        **RIDGE_CONSTRAINTS,
        "depth": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "w_std": [Interval(Real, 0, None, closed="neither")],
        "b_std": [Interval(Real, 0, None, closed="left")],
        "backend": [StrOptions(set(BACKENDS))],
    }

    def __init__(self, depth=2, activation="relu", w_std=SQRT2, b_std=1.0,
                 backend="native", bandwidth=None, bandwidth_grid=(1.0,), alpha=None,
                 alpha_grid=None, fit_intercept=True, solver="auto", dtype="auto",
                 n_centers=None, max_centers=10000, val_fraction=None, tune_max=1000, tol=None,
                 memory_limit_gb=3.5, random_state=None):
        super().__init__(kernel=self.kind, bandwidth=bandwidth, bandwidth_grid=bandwidth_grid,
                         alpha=alpha, alpha_grid=alpha_grid, fit_intercept=fit_intercept,
                         solver=solver, dtype=dtype, n_centers=n_centers,
                         max_centers=max_centers, val_fraction=val_fraction,
                         tune_max=tune_max, tol=tol, memory_limit_gb=memory_limit_gb,
                         random_state=random_state)
        self.depth = depth
        self.activation = activation
        self.w_std = w_std
        self.b_std = b_std
        self.backend = backend

    def _make_kernel(self, s):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose from {ACTIVATIONS}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose from {BACKENDS}")
        return NTKKernel(self.kind, int(self.depth), self.activation, float(self.w_std),
                         float(self.b_std), float(s), self.backend)

    def _feature_dim(self, d: int) -> int | None:
        if self.activation == "quadratic":  # polynomial of degree 2^depth in x
            return math.comb(d + 2**int(self.depth), 2**int(self.depth))
        return None

    def _reference_scale(self, X, rng) -> float:
        X = np.asarray(X, dtype=np.float64)
        med = float(np.median(np.linalg.norm(X, axis=1))) / math.sqrt(X.shape[1])
        return med if med > 0 else 1.0

    def resources(self, n, d):
        """As ``krr``, plus the elementwise recursion: ~3e-8 s per kernel entry and layer, on two
        n^2 builds (exact path) or one n m build of K_nm (Nystrom path)."""
        res = super().resources(n, d)
        plan = self.plan(int(n), int(d))
        entries = 2.0 * n * n if plan["path"] != "nystrom" else float(n) * plan["m"]
        extra = 3e-8 * (1 + self.depth) * entries
        return type(res)(res.memory_bytes, (res.seconds or 0.0) + extra)


class NNGPRegressor(NTKRegressor):
    """Kernel ridge with the infinite-width NNGP kernel (the posterior mean of the GP)."""

    kind = "nngp"
