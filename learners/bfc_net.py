"""``bfc_net``: the DenseNet-like quadratic network of Allen-Zhu & Li, trained end-to-end in stages.

Architecture (L blocks of width m, S_0 = x the standardised input, connection sets J_l that
mirror the target's: J_1 = {0}, J_l a subset of {0..l-1} containing l - 1, default {0, l - 1}):

    S_l(x) = q( sum_{j in J_l} W_{l,j} S_j(x) + b_l ),      W_{l,j}: m x dim(S_j),
    f_s(x) = c + sum_{l <= s} a_l^T S_l(x)                   (output with blocks 1..s active),

q(z) = (sigma(z) - 1) / sqrt(2) with sigma(z) = z^2, or its truncation sigma(z) = z^2 for
|z| <= B and 2B|z| - B^2 beyond (continuous slope; ``truncate=B``, None = pure square).  S_l has
degree 2^l in x, like the target's level l.  Init: W_{l,j} ~ N(0, 1 / (|J_l| dim S_j)), b = 0,
a_l = 0 (so switching block s on leaves f_{s-1} unchanged; its first step trains a_s, and the
block's weights get gradient from then on).  Over-parameterisation: m (default max(64, 2d)) >> the
target's k; block 1 needs m >= d to express the target's full-rank level-1 quadratic forms.

Staged schedule (the paper's: layers switched on in order, all active layers trained together):
stage s = 1..L trains f_s on the MSE for a share of the step budget (``stage_fractions``,
default equal; steps that early stopping leaves unused carry over to the next stage), each stage
with its own warm-up + cosine schedule and early stopping (restoring the stage's best state).
In stage s the gradient reaches the blocks max(1, s - backward_depth)..s and the heads of the
active blocks; ``backward_depth=None`` trains all active blocks (end-to-end, backward feature
correction possible), ``backward_depth=0`` freezes every block after its stage (= ``layerwise``).

Where this simplifies the paper (arXiv 2001.04413): the paper's learner separates an
over-parameterised layer from a low-rank (k-dimensional) "K" layer tied by a regulariser and
re-initialised from an SVD at each stage switch, uses fixed output weights alpha_l and a
truncated activation in the objective only, and runs a specific SGD variant with stage-wise
loss thresholds.  Here every block is a single over-parameterised quadratic layer, readouts are
trained, AdamW weight decay replaces the paper's regularisers, stages switch on a step budget
with early stopping instead of loss thresholds, and the lr is chosen from a grid by pilots.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from learners.mlp import quad
from learners.torch_training import (
    Data,
    RunResult,
    TorchNetLearner,
    TrainConfig,
    net_resources,
    train,
)


def default_connections(L: int) -> list[list[int]]:
    """J_2..J_L = {0, l - 1} (the bfc task's default)."""
    return [sorted({0, l - 1}) for l in range(2, L + 1)]


def check_connections(connections, L: int) -> list[list[int]]:
    """J_1 = [0] followed by J_2..J_L (validated: subset of 0..l-1 containing l-1)."""
    conns = default_connections(L) if connections is None else connections
    if len(conns) != L - 1:
        raise ValueError(f"connections must list J_2..J_L ({L - 1} lists), got {connections!r}")
    out = [[0]]
    for l, J in enumerate(conns, start=2):
        Js = sorted({int(j) for j in J})
        if l - 1 not in Js or Js[0] < 0 or Js[-1] > l - 1:
            raise ValueError(f"connections for block {l} must be a subset of 0..{l - 1} "
                             f"containing {l - 1}, got {J!r}")
        out.append(Js)
    return out


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
                dim = d if j == 0 else width
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


def stage_budgets(total: int, n_stages: int, fractions=None) -> list[int]:
    """Split ``total`` steps over the stages by ``fractions`` (default equal); sums to total."""
    fr = [1.0] * n_stages if fractions is None else [float(f) for f in fractions]
    if len(fr) != n_stages or min(fr) <= 0:
        raise ValueError(f"stage_fractions must be {n_stages} positive numbers, got {fractions!r}")
    cum = [round(total * sum(fr[: i + 1]) / sum(fr)) for i in range(n_stages)]
    return [max(1, c - p) for c, p in zip(cum, [0] + cum[:-1], strict=True)]


def staged_train(
    model: nn.Module, data: Data, cfg: TrainConfig, generator: torch.Generator,
    stages: list[tuple[int, int]], backward_depth: int | None,
    on_step: Callable[[int], None] | None = None,
) -> tuple[RunResult, list[dict]]:
    """Train the stages (active blocks s, step budget) in order on ``model(x, active=s)``.

    Parameters outside ``model.stage_parameters(s, backward_depth)`` get requires_grad=False
    during a stage (no gradient is computed through frozen blocks).  Steps that early stopping
    leaves unused carry over to the next stage.  Returns the last stage's result (steps_run =
    total over stages) and per-stage summaries.
    """
    offset, carry, summary, history, res = 0, 0, [], [], None
    total_budget = sum(b for _, b in stages)
    for s, budget in stages:
        steps = budget + carry
        trainable = {id(p) for p in model.stage_parameters(s, backward_depth)}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
        patience = None if cfg.patience is None else max(1, round(cfg.patience * steps
                                                                  / total_budget))
        try:
            res = train(model, data, replace(cfg, max_steps=steps, patience=patience), generator,
                        params=[p for p in model.parameters() if p.requires_grad],
                        forward=lambda x, s=s: model(x, active=s), on_step=on_step,
                        step_offset=offset)
        finally:
            for p in model.parameters():
                p.requires_grad_(True)
        carry = steps - res.steps_run
        offset += res.steps_run
        history += res.history
        summary.append({"active": s, "budget": steps, "steps_run": res.steps_run,
                        "best_val": res.best_val, "best_step": res.best_step})
    total = RunResult(res.best_val, res.best_step, offset, res.stopped_early, history)
    return total, summary


def count_deployed(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.deployed_parameters()))


class StagedLearnerMixin:
    """fit plumbing shared by ``bfc_net`` and ``layerwise``: staged procedure and fit_info."""

    def _n_stages(self) -> int:
        raise NotImplementedError

    def _backward_depth(self) -> int | None:
        raise NotImplementedError

    def _total_steps(self) -> int:
        return int(self.max_steps)

    def _config(self, lr: float, scale: float) -> TrainConfig:
        steps = max(self._n_stages(), int(round(self._total_steps() * scale)))
        patience = None if self.patience is None else max(1, int(round(self.patience * scale)))
        return TrainConfig(lr=lr, max_steps=steps, batch_size=int(self.batch_size),
                           weight_decay=float(self.weight_decay), optimizer=self.optimizer,
                           patience=patience, grad_clip=self.grad_clip)

    def _stages(self, total: int) -> list[tuple[int, int]]:
        """[(active blocks, budget)]: 1..L with the split budget, or [(L, total)] unstaged."""
        L = self._n_stages()
        if not self.staged:
            return [(L, total)]
        return list(zip(range(1, L + 1), stage_budgets(total, L, self.stage_fractions),
                        strict=True))

    def _procedure(self, model, data, lr, scale, generator, on_step):
        cfg = self._config(lr, scale)
        res, stages = staged_train(model, data, cfg, generator, self._stages(cfg.max_steps),
                                   self._backward_depth(), on_step)
        self._extra_info = {"stages": stages, "step_budget": int(cfg.max_steps),
                            "n_params": count_deployed(model)}
        return res


class BFCNetLearner(StagedLearnerMixin, TorchNetLearner):
    """Allen-Zhu & Li's DenseNet-like quadratic net, staged end-to-end training (hierarchical).

    Parameters: ``n_blocks`` L (match the target's depth), ``connections`` J_2..J_L (match the
    target's; None = {0, l-1}), ``width`` m per block (None = max(64, 2d)), ``truncate`` B of the
    quadratic (None = pure square), ``staged`` (False: all blocks from step 0),
    ``stage_fractions`` (step-budget shares of the stages), ``backward_depth`` (None = end-to-end;
    m = gradient reaches only the m blocks below the newest active one), ``weight_decay``,
    ``batch_size``, ``max_steps`` (total budget), ``patience`` (steps, scaled per stage; None = a
    third of the stage), ``lr_grid``, ``tune_fraction``, ``optimizer``, ``grad_clip``,
    ``val_fraction``, ``max_retries``, ``standardize``, ``callback``, ``callback_every``,
    ``device``, ``dtype``, ``random_state`` (as for ``mlp``).
    """

    family = "hierarchical"

    def __init__(self, n_blocks=3, connections=None, width=None, truncate=6.0, staged=True,
                 stage_fractions=None, backward_depth=None, weight_decay=1e-4, batch_size=256,
                 max_steps=6000, patience=None, lr_grid=(1e-3, 3e-3), tune_fraction=0.15,
                 optimizer="adam", grad_clip=1.0, val_fraction=0.2, max_retries=3,
                 standardize=True, callback=None, callback_every=100, device="auto",
                 dtype="float32", random_state=None):
        self.n_blocks = n_blocks
        self.connections = connections
        self.width = width
        self.truncate = truncate
        self.staged = staged
        self.stage_fractions = stage_fractions
        self.backward_depth = backward_depth
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.patience = patience
        self.lr_grid = lr_grid
        self.tune_fraction = tune_fraction
        self.optimizer = optimizer
        self.grad_clip = grad_clip
        self.val_fraction = val_fraction
        self.max_retries = max_retries
        self.standardize = standardize
        self.callback = callback
        self.callback_every = callback_every
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _n_stages(self) -> int:
        return int(self.n_blocks)

    def _backward_depth(self) -> int | None:
        return self.backward_depth

    def _width(self, d: int) -> int:
        return int(self.width) if self.width is not None else max(64, 2 * d)

    def _build(self, d: int, seed: int) -> nn.Module:
        conns = check_connections(self.connections, int(self.n_blocks))
        return DenseQuadNet(d, self._width(d), conns, self.truncate)

    def resources(self, n: int, d: int):
        m, L = self._width(d), int(self.n_blocks)
        conns = check_connections(self.connections, L)
        n_params = sum(sum(d if j == 0 else m for j in J) * m + m for J in conns) + L * m + 1
        steps = self.max_steps * (1 + self.tune_fraction * len(tuple(self.lr_grid)))
        return net_resources(n, d, n_params, act_per_sample=3 * L * m + d,
                             batch=int(self.batch_size), steps=steps,
                             flops_per_sample=2.0 * n_params,
                             dtype_bytes=8 if self.dtype == "float64" else 4,
                             step_overhead_s=5e-4 * (L + 1))  # many small ops per block
