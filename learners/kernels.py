"""Kernel functions, built with matrix products in row blocks.

All kernels are functions of the Gram matrix G = X Z^T and the squared norms, so one ``torch.mm``
per row block does the O(n m d) work and the rest is elementwise (vectorised, multi-threaded).

Kernels (x, z in R^d; s = bandwidth > 0; r = ||x - z||):

* ``rbf``:        k(x, z) = exp(-r^2 / (2 s^2))
* ``laplace``:    k(x, z) = exp(-r / s)
* ``polynomial``: k(x, z) = (x.z / s^2 + c)^q        (q = ``degree``, c = ``coef0``)
* ``arccos``:     arc-cosine kernel of order 1 (Cho & Saul 2009), the NNGP of a one-hidden-layer
  ReLU network up to a factor 2:
  k(x, z) = (1/pi) |x| |z| (sin t + (pi - t) cos t),  t = angle(x, z), on inputs scaled by 1/s.

For the polynomial and arc-cosine kernels the "bandwidth" s scales the inputs (x -> x / s), so that
the median heuristic and the bandwidth grid apply to every kernel the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

KERNELS = ("rbf", "laplace", "polynomial", "arccos")

#: bytes of temporary memory per row block (the Gram block and its transform)
BLOCK_BYTES = 64 * 2**20
#: row blocks of products that stream a kernel matrix (K v, K_nm^T K_nm W): one buffer of this
#: size is reused for every block, so blocks stay in cache and no block is allocated (and
#: page-faulted) anew; 2 MiB: a float64 block of K_nm (and its float32 source) stays in an
#: 8 MiB L3 between the two products of a gram pass (best of 1-8 MiB at m = 5000)
STREAM_BLOCK_BYTES = 2 * 2**20


def _torch_dtype(dtype) -> torch.dtype:
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def empty_matrix(n: int, m: int, dtype=np.float64) -> np.ndarray:
    """An uninitialised C-ordered (n, m) array of ``dtype``, allocated by torch, not numpy.

    Why: numpy advises the OS to back large arrays with transparent huge pages, and where the
    system's THP defrag policy is "madvise" (as here) the first touch of a fresh multi-GB array
    then compacts memory synchronously: filling a new 2 GB float32 array took 3.55 s from
    numpy against 0.47 s from torch.  Building K_nm (100k x 5000, float32, 2 cores, fresh
    process): 2.5 s against 3.3-3.5 s; an in-place Cholesky at n = 12 000 and Falkon's passes
    over K_nm took the same time either way, within run-to-run noise.  The array keeps its
    tensor (its ``base``) alive.
    """
    return torch.empty((n, m), dtype=_torch_dtype(dtype)).numpy()


def block_rows(n_cols: int, itemsize: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Rows per block so that a (rows x n_cols) block takes about ``block_bytes``."""
    return max(1, min(65536, block_bytes // max(1, n_cols * itemsize)))


def _transform(G: torch.Tensor, xsq: torch.Tensor, zsq: torch.Tensor, kind: str,
               s: float, degree: int, coef0: float) -> None:
    """In place: G -> kernel block k(x_i, z_j), where G[i, j] = -2 x_i.z_j for ``rbf`` and
    ``laplace`` (:func:`gram_factor`) and x_i.z_j for the others."""
    if kind in ("rbf", "laplace"):
        # r^2 = |x|^2 + |z|^2 - 2 x.z, clamped at 0 against round-off
        G.add_(xsq[:, None]).add_(zsq[None, :]).clamp_(min=0.0)
        if kind == "rbf":
            G.mul_(-0.5 / s**2).exp_()
        else:
            G.sqrt_().mul_(-1.0 / s).exp_()
    elif kind == "polynomial":
        G.mul_(1.0 / s**2).add_(coef0).pow_(degree)
    elif kind == "arccos":
        norms = torch.sqrt(xsq)[:, None] * torch.sqrt(zsq)[None, :] / s**2  # |x||z| / s^2
        G.mul_(1.0 / s**2)
        cos = torch.where(norms > 0, G / norms.clamp(min=1e-300), torch.zeros_like(G))
        cos.clamp_(-1.0, 1.0)
        t = torch.arccos(cos)
        G.copy_(norms * (torch.sin(t) + (math.pi - t) * cos) / math.pi)
    else:
        raise ValueError(f"unknown kernel {kind!r}; choose from {KERNELS}")


def gram_factor(kind: str) -> float:
    """The factor the block product carries, G = c X Z^T: c = -2 for ``rbf`` and ``laplace``
    (their r^2 = |x|^2 + |z|^2 - 2 x.z).  A power of two scales X exactly, so (c X) Z^T is
    bit-identical to c (X Z^T) and saves a pass over the block (n = 100k, m = 5000, float32:
    1.8-1.9 s against 2.0 s per K_nm build)."""
    return -2.0 if kind in ("rbf", "laplace") else 1.0


def kernel_matrix(X, Z=None, *, kernel: str = "rbf", bandwidth: float = 1.0, degree: int = 2,
                  coef0: float = 1.0, dtype=np.float64, out: np.ndarray | None = None
                  ) -> np.ndarray:
    """K[i, j] = k(X[i], Z[j]) as an (n, m) C-ordered array of ``dtype``, built in row blocks.

    ``Z=None`` means Z = X (then K is symmetric, so its C-ordered buffer is also a valid
    Fortran-ordered K, which LAPACK factorises in place).  ``out`` may be a preallocated buffer
    (e.g. a slice of a larger matrix).  Cost: 2 n m d flops plus O(n m) elementwise work;
    temporary memory ~ ``BLOCK_BYTES``.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose from {KERNELS}")
    tdt = _torch_dtype(dtype)
    Xt = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float64).to(tdt)
    Zt = Xt if Z is None else torch.as_tensor(np.ascontiguousarray(Z)).to(tdt)
    xsq, zsq = (Xt * Xt).sum(1), (Zt * Zt).sum(1)
    n, m = Xt.shape[0], Zt.shape[0]
    if out is None:
        out = empty_matrix(n, m, dtype)
    Kt = torch.from_numpy(out)
    step = block_rows(m, out.itemsize)
    c = gram_factor(kernel)
    Xc = Xt * c if c != 1.0 else Xt
    for i in range(0, n, step):
        blk = Kt[i:i + step]
        torch.mm(Xc[i:i + step], Zt.T, out=blk)
        _transform(blk, xsq[i:i + step], zsq, kernel, float(bandwidth), degree, coef0)
    return out


@dataclass(frozen=True)
class Kernel:
    """A kernel with its parameters fixed: ``Kernel("rbf", 2.0)(X, Z)`` -> K(X, Z).

    The solvers only use this interface (``__call__`` with ``dtype``/``out``, ``diag``), so any
    object with the same two methods (e.g. the NTK kernels) plugs into the same solvers.
    """

    name: str = "rbf"
    bandwidth: float = 1.0
    degree: int = 3
    coef0: float = 1.0

    def __call__(self, X, Z=None, *, dtype=np.float64, out=None) -> np.ndarray:
        return kernel_matrix(X, Z, kernel=self.name, bandwidth=self.bandwidth,
                             degree=self.degree, coef0=self.coef0, dtype=dtype, out=out)

    def diag(self, X) -> np.ndarray:
        return kernel_diag(X, kernel=self.name, bandwidth=self.bandwidth, degree=self.degree,
                           coef0=self.coef0)

    def info(self) -> dict:
        out = {"kernel": self.name, "bandwidth": float(self.bandwidth)}
        if self.name == "polynomial":
            out.update(degree=int(self.degree), coef0=float(self.coef0))
        return out


def kernel_diag(X, *, kernel: str = "rbf", bandwidth: float = 1.0, degree: int = 2,
                coef0: float = 1.0) -> np.ndarray:
    """diag k(X[i], X[i]) without building the matrix (shape (n,), float64)."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X) / bandwidth**2
    if kernel in ("rbf", "laplace"):
        return np.ones(X.shape[0])
    if kernel == "polynomial":
        return (sq + coef0) ** degree
    return sq.copy()  # arccos: (1/pi) |x|^2 (0 + pi * 1)


def kernel_matvec(kern, X, Z, v, *, dtype=np.float64) -> np.ndarray:
    """K(X, Z) @ v without storing K: row blocks of K are built and contracted at once.

    ``kern`` is a :class:`Kernel` (or any object with the same ``__call__``, ``out=`` included).
    Shapes: X (n, d), Z (m, d), v (m,) or (m, r) -> (n,) or (n, r), float64.  Extra memory: one
    block buffer of ~``STREAM_BLOCK_BYTES``, reused.
    """
    v = np.asarray(v, dtype=np.float64)
    out = torch.empty((X.shape[0],) + v.shape[1:], dtype=torch.float64)
    step = block_rows(Z.shape[0], np.dtype(dtype).itemsize, STREAM_BLOCK_BYTES)
    buf = np.empty((min(step, X.shape[0]), Z.shape[0]), dtype=dtype)
    vt = torch.tensor(v, dtype=_torch_dtype(dtype))  # a copy: v may be read-only
    for i in range(0, X.shape[0], step):
        rows = X[i:i + step]
        blk = kern(rows, Z, dtype=dtype, out=buf[:len(rows)])
        out[i:i + step] = torch.from_numpy(blk) @ vt  # torch's BLAS, as the build: one runtime
    return out.numpy()


def median_distance(X, rng: np.random.Generator, max_points: int = 2000) -> float:
    """Median of the pairwise Euclidean distances |x_i - x_j|, i < j, on <= max_points rows.

    The median heuristic for the bandwidth; the subsample is drawn with ``rng`` (deterministic).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] > max_points:
        X = X[rng.choice(X.shape[0], max_points, replace=False)]
    sq = np.einsum("ij,ij->i", X, X)
    D2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    iu = np.triu_indices(X.shape[0], k=1)
    med = float(np.sqrt(max(np.median(np.maximum(D2[iu], 0.0)), 0.0)))
    return med if med > 0 else 1.0


def median_norm(X, rng: np.random.Generator, max_points: int = 2000) -> float:
    """Median |x_i| (the input scale for the polynomial and arc-cosine kernels)."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] > max_points:
        X = X[rng.choice(X.shape[0], max_points, replace=False)]
    med = float(np.median(np.linalg.norm(X, axis=1)))
    return med if med > 0 else 1.0


def reference_scale(X, kernel: str, rng: np.random.Generator) -> float:
    """The bandwidth the grid is centred on: median distance (rbf, laplace) or median norm."""
    if kernel in ("rbf", "laplace"):
        return median_distance(X, rng)
    return median_norm(X, rng)
