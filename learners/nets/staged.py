"""Staged training: blocks switched on one at a time (shared by ``bfc_net`` and ``layerwise``).

A run of L stages with a total budget of T steps (the shared step budget of
:mod:`learners.nets.params`): stage s = 1..L trains the predictor with blocks 1..s active,
``model(x, active=s)``, on the MSE for T_s steps, T_s the share ``stage_fractions[s]`` of T
(default equal; :func:`stage_budgets`) plus the steps earlier stages left unused by early
stopping; each stage has its own warm-up + schedule and the full patience, and restores its best
state.  In stage s only ``model.stage_parameters(s, backward_depth)`` are trained: the blocks
max(1, s - backward_depth)..s and the heads of the active blocks (``backward_depth=None``: all
active blocks, end-to-end with backward feature correction possible; ``0``: each block frozen
after its own stage, greedy layerwise training).  ``staged=False`` is one stage of T steps with
all L blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from learners.nets.data import Data
from learners.nets.layers import count_deployed
from learners.nets.loop import RunResult, TrainConfig, train


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
