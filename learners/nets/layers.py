"""The torch modules of the net learners: activations, initialisation, the nets themselves.

* :func:`quad`: the normalised square q(z) = (sigma(z) - 1) / sqrt(2), sigma(z) = z^2, or its
  C^1 truncation sigma(z) = 2B|z| - B^2 beyond |z| > B: z^2 up to an affine map the next layer
  absorbs, mean 0 and variance 1 for a standard normal z, linear tails;
* :class:`MLPNet`: f(x) = w^T h_L + b, h_l = [h_{l-1} +] act(W_l h_{l-1} + b_l), the ``mlp``
  (and ``two_layer`` sgd) net; W_l ~ N(0, g / fan_in) with g = 2 (relu, gelu) or 1 (quadratic);
* :class:`StagedMLPNet`: the MLPNet with one extra head per stage, for ``layerwise``;
* :class:`DenseQuadNet`: Allen-Zhu & Li's DenseNet-like quadratic net of ``bfc_net`` (and
  ``layerwise``), S_l = q(sum_{j in J_l} W_{l,j} S_j + b_l) on the connection sets J_l of
  :mod:`tasks.bfc_structure`, f_s = c + sum_{l <= s} a_l^T S_l.

A staged net (StagedMLPNet, DenseQuadNet) has ``forward(x, active=s)`` (the predictor with blocks
1..s), ``stage_parameters(s, backward_depth)`` (what stage s trains) and
``deployed_parameters()`` (what the final predictor uses), the interface of
:func:`learners.nets.staged.staged_train`.  Every net has ``hidden(x)``: the post-activation
features of each hidden layer or block, lowest first.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from tasks.bfc_structure import input_width

ACTIVATIONS = ("relu", "gelu", "quadratic")


def quad(z: torch.Tensor, truncate: float | None) -> torch.Tensor:
    """(sigma(z) - 1) / sqrt(2), sigma(z) = z^2 or its C^1 linear continuation beyond |z| > B."""
    if truncate is None:
        s = z * z
    else:
        a, B = z.abs(), float(truncate)
        s = torch.where(a <= B, z * z, 2.0 * B * a - B * B)
    return (s - 1.0) * (1.0 / math.sqrt(2.0))


def activation(name: str, z: torch.Tensor, truncate: float | None = None) -> torch.Tensor:
    """relu(z), gelu(z) or the normalised (optionally truncated) square :func:`quad`."""
    if name == "relu":
        return torch.relu(z)
    if name == "gelu":
        return nn.functional.gelu(z)
    if name == "quadratic":
        return quad(z, truncate)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


def init_linear(layer: nn.Linear, gain: float) -> nn.Linear:
    """W ~ N(0, gain / fan_in), b = 0."""
    nn.init.normal_(layer.weight, std=math.sqrt(gain / layer.in_features))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class MLPNet(nn.Module):
    """f(x) = w^T h_L + b with h_l = [h_{l-1} +] act(W_l h_{l-1} + b_l); see the module doc."""

    def __init__(self, d: int, width: int, depth: int, act: str, residual: bool,
                 truncate: float | None = None):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {act!r}")
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got {depth}, {width}")
        gain = 1.0 if act == "quadratic" else 2.0
        dims = [d] + [width] * depth
        self.layers = nn.ModuleList(
            init_linear(nn.Linear(a, b), gain) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = init_linear(nn.Linear(width, 1), 1.0)
        self.act, self.residual, self.truncate = act, residual, truncate

    def hidden(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """[h_1, ..., h_upto] (default all L layers), each (b, width)."""
        hs, h = [], x
        for i, layer in enumerate(self.layers[: upto or len(self.layers)]):
            a = activation(self.act, layer(h), self.truncate)
            h = h + a if (self.residual and i > 0) else a
            hs.append(h)
        return hs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(x)[-1]).squeeze(-1)


class StagedMLPNet(MLPNet):
    """MLPNet with one extra head per stage 1..L-1: f_s(x) = w_s^T h_s + b_s, f_L = the mlp."""

    def __init__(self, d: int, width: int, depth: int, act: str, residual: bool):
        super().__init__(d, width, depth, act, residual)
        self.stage_heads = nn.ModuleList(
            init_linear(nn.Linear(width, 1), 1.0) for _ in range(depth - 1))

    def _head(self, s: int) -> nn.Linear:
        return self.head if s == len(self.layers) else self.stage_heads[s - 1]

    def forward(self, x, active: int | None = None):
        s = active or len(self.layers)
        return self._head(s)(self.hidden(x, s)[-1]).squeeze(-1)

    def stage_parameters(self, s: int, backward_depth: int | None) -> list[nn.Parameter]:
        """Layers max(1, s - backward_depth)..s and the head of stage s."""
        lo = 1 if backward_depth is None else max(1, s - int(backward_depth))
        ps = [p for layer in self.layers[lo - 1:s] for p in layer.parameters()]
        return ps + list(self._head(s).parameters())

    def deployed_parameters(self) -> list[nn.Parameter]:
        """The layers and the final head (the stage heads 1..L-1 are scaffolding)."""
        return [p for layer in self.layers for p in layer.parameters()] + list(
            self.head.parameters())


class DenseQuadNet(nn.Module):
    """S_l = q(sum_{j in J_l} W_{l,j} S_j + b_l), f_s = c + sum_{l<=s} a_l^T S_l (module doc)."""

    def __init__(self, d: int, width: int, connections: list[list[int]],
                 truncate: float | None):
        super().__init__()
        self.J = connections
        self.truncate = truncate
        self.n_blocks = len(connections)
        self.blocks = nn.ModuleList()
        for J in connections:
            maps = nn.ModuleDict()
            for i, j in enumerate(J):
                dim = input_width(j, d, width)
                lin = nn.Linear(dim, width, bias=(i == 0))
                nn.init.normal_(lin.weight, std=1.0 / math.sqrt(len(J) * dim))
                if lin.bias is not None:
                    nn.init.zeros_(lin.bias)
                maps[str(j)] = lin
            self.blocks.append(maps)
        self.heads = nn.ModuleList(nn.Linear(width, 1, bias=False) for _ in connections)
        for h in self.heads:
            nn.init.zeros_(h.weight)
        self.out_bias = nn.Parameter(torch.zeros(()))

    def hidden(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """[S_1, ..., S_upto] (default all blocks), each (b, m)."""
        S = [x]
        for maps in self.blocks[: upto or self.n_blocks]:
            z = sum(lin(S[int(j)]) for j, lin in maps.items())
            S.append(quad(z, self.truncate))
        return S[1:]

    def forward(self, x: torch.Tensor, active: int | None = None) -> torch.Tensor:
        S = self.hidden(x, active)
        return self.out_bias + sum(h(s).squeeze(-1) for h, s in zip(self.heads, S, strict=False))

    def stage_parameters(self, s: int, backward_depth: int | None) -> list[nn.Parameter]:
        """Trainable in stage s: blocks max(1, s - backward_depth)..s, heads 1..s, the bias."""
        lo = 1 if backward_depth is None else max(1, s - int(backward_depth))
        ps = [p for blk in self.blocks[lo - 1:s] for p in blk.parameters()]
        ps += [p for h in self.heads[:s] for p in h.parameters()]
        return ps + [self.out_bias]

    def deployed_parameters(self) -> list[nn.Parameter]:
        """Parameters that the final predictor f_L uses (all of them here)."""
        return list(self.parameters())


def build_seeded(seed: int, factory: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's global RNG seeded to ``seed``, restoring the RNG state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def count_deployed(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.deployed_parameters()))
