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
with its own warm-up + schedule and early stopping with the full patience (restoring the stage's
best state).  The budget and patience are in epochs, shared with every net learner
(:mod:`learners.nets.params`).
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
from numbers import Integral, Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from learners.mlp import quad
from learners.nets.learner import (
    DEFAULTS,
    Data,
    RunResult,
    TorchNetLearner,
    TrainConfig,
    net_resources,
    store_params,
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
    leaves unused carry over to the next stage; every stage has the full ``cfg.patience``.
    Returns the last stage's result (steps_run = total over stages; budget_exhausted when any
    stage ended on its budget) and per-stage summaries.
    """
    offset, carry, summary, history, res, exhausted = 0, 0, [], [], None, False
    for s, budget in stages:
        steps = budget + carry
        trainable = {id(p) for p in model.stage_parameters(s, backward_depth)}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
        try:
            res = train(model, data, replace(cfg, max_steps=steps), generator,
                        params=[p for p in model.parameters() if p.requires_grad],
                        forward=lambda x, s=s: model(x, active=s), on_step=on_step,
                        step_offset=offset)
        finally:
            for p in model.parameters():
                p.requires_grad_(True)
        carry = steps - res.steps_run
        offset += res.steps_run
        history += res.history
        exhausted = exhausted or res.budget_exhausted
        summary.append({"active": s, "budget": steps, "steps_run": res.steps_run,
                        "best_val": res.best_val, "best_step": res.best_step,
                        "budget_exhausted": res.budget_exhausted})
    total = RunResult(res.best_val, res.best_step, offset, not exhausted, history)
    return total, summary


def count_deployed(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.deployed_parameters()))


class StagedLearnerMixin:
    """fit plumbing shared by ``bfc_net`` and ``layerwise``: staged procedure and fit_info."""

    def _n_stages(self) -> int:
        raise NotImplementedError

    def _backward_depth(self) -> int | None:
        raise NotImplementedError

    def _stages(self, total: int) -> list[tuple[int, int]]:
        """[(active blocks, budget)]: 1..L with the split budget, or [(L, total)] unstaged."""
        L = self._n_stages()
        if not self.staged:
            return [(L, total)]
        return list(zip(range(1, L + 1), stage_budgets(total, L, self.stage_fractions),
                        strict=True))

    def _procedure(self, model, data, cfg, generator, on_step):
        res, stages = staged_train(model, data, cfg, generator, self._stages(cfg.max_steps),
                                   self._backward_depth(), on_step)
        self._extra_info = {"stages": stages, "n_params": count_deployed(model)}
        return res


class BFCNetLearner(StagedLearnerMixin, TorchNetLearner):
    """Allen-Zhu & Li's DenseNet-like quadratic net, staged end-to-end training (hierarchical).

    Parameters: ``n_blocks`` L (match the target's depth), ``connections`` J_2..J_L (match the
    target's; None = {0, l-1}), ``width`` m per block (None = max(64, 2d)), ``truncate`` B of the
    quadratic (None = pure square), ``staged`` (False: all blocks from step 0),
    ``stage_fractions`` (step-budget shares of the stages), ``backward_depth`` (None = end-to-end;
    m = gradient reaches only the m blocks below the newest active one); the shared training
    parameters (``max_epochs`` is the total budget over the stages, ``patience_epochs`` applies
    to each stage) and ``standardize``, ``callback``, ``callback_every``, ``device``, ``dtype``,
    ``random_state`` (as for ``mlp``).
    """

    family = "hierarchical"
    _parameter_constraints: ClassVar[dict] = {
        **TorchNetLearner._parameter_constraints,
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "connections": ["array-like", None],
        "width": [Interval(Integral, 1, None, closed="left"), None],
        "truncate": [Interval(Real, 0, None, closed="neither"), None],
        "staged": ["boolean"],
        "stage_fractions": ["array-like", None],
        "backward_depth": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(self, n_blocks=3, connections=None, width=None, truncate=6.0, staged=True,
                 stage_fractions=None, backward_depth=None, optimizer=DEFAULTS.optimizer,
                 lr_grid=DEFAULTS.lr_grid, batch_size=DEFAULTS.batch_size,
                 max_epochs=DEFAULTS.max_epochs, max_steps=DEFAULTS.max_steps,
                 patience_epochs=DEFAULTS.patience_epochs, schedule=DEFAULTS.schedule,
                 weight_decay=DEFAULTS.weight_decay, grad_clip=DEFAULTS.grad_clip,
                 val_fraction=DEFAULTS.val_fraction, max_retries=DEFAULTS.max_retries,
                 standardize=True, callback=None, callback_every=100, device="auto",
                 dtype="float32", random_state=None):
        store_params(self, locals())

    def _n_stages(self) -> int:
        return int(self.n_blocks)

    def _backward_depth(self) -> int | None:
        return self.backward_depth

    def _width(self, d: int) -> int:
        return int(self.width) if self.width is not None else max(64, 2 * d)

    def _build(self, d: int) -> nn.Module:
        conns = check_connections(self.connections, int(self.n_blocks))
        return DenseQuadNet(d, self._width(d), conns, self.truncate)

    def resources(self, n: int, d: int):
        m, L = self._width(d), int(self.n_blocks)
        conns = check_connections(self.connections, L)
        n_params = sum(sum(d if j == 0 else m for j in J) * m + m for J in conns) + L * m + 1
        return net_resources(n, d, n_params, act_per_sample=3 * L * m + d,
                             batch=int(self.batch_size), steps=self._predicted_steps(n),
                             flops_per_sample=2.0 * n_params,
                             dtype_bytes=8 if self.dtype == "float64" else 4,
                             step_overhead_s=5e-4 * (L + 1))  # many small ops per block
