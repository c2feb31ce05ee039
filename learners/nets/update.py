"""The parameter update of one training step: gradient-norm clip, optimiser step, grads reset.

What is computed is exactly what ``torch.nn.utils.clip_grad_norm_(params, c, foreach=True)``
followed by ``optimizer.step()`` and ``optimizer.zero_grad(set_to_none=True)`` compute:

* clip: per-tensor 2-norms (``torch._foreach_norm``), the total norm ||(n_1, ..., n_k)||_2 of
  their stack, coef = min(c / (total + 1e-6), 1), every gradient multiplied by coef in place;
* step: torch's own AdamW / Adam update (the functional ``torch.optim.adam.adam`` that
  ``Adam.step`` calls, with the optimiser's state tensors and hyper-parameters), or
  ``optimizer.step()`` for any other optimiser;
* reset: every gradient set to None.

Why a class rather than the three calls: at the learners' default size (3-4 layers of width
256, batch 128, one CPU thread) the optimiser's per-step Python bookkeeping (``_init_group``
over every parameter, hooks, profiler records, device and dtype grouping) and that of
``clip_grad_norm_`` took ~0.6 ms of a ~9 ms step.  :class:`ParamUpdate` builds the lists of
parameters, gradients and state tensors once and reuses them while the set of parameters with a
gradient stays the same (checked every step; otherwise it falls back to the library calls).
On the CPU it also skips the multiplication by coef when coef is exactly 1 (no clipping:
multiplying by 1 changes nothing), which needs the coefficient on the host; a CPU tensor's value
is read without a device synchronisation, so this is done only there.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.adam import adam as adam_update


class ParamUpdate:
    """clip (optional) + optimiser step + grads to None for ``opt``'s single parameter group."""

    def __init__(self, opt: torch.optim.Optimizer, grad_clip: float | None):
        if len(opt.param_groups) != 1:
            raise ValueError("ParamUpdate handles optimisers with one parameter group")
        self.opt, self.group = opt, opt.param_groups[0]
        self.params: list[nn.Parameter] = list(self.group["params"])
        self.clip = None if grad_clip is None else float(grad_clip)
        devices = {(p.device, p.dtype) for p in self.params}
        # the hand-rolled clip equals clip_grad_norm_ for one device and dtype (one group there)
        self.single = len(devices) == 1
        self.cpu = self.single and next(iter(devices))[0].type == "cpu"
        self.fast_adam = (type(opt) in (torch.optim.Adam, torch.optim.AdamW)
                          and not self.group["amsgrad"] and not self.group["differentiable"]
                          and not any(torch.is_complex(p) for p in self.params))
        self._cache: tuple | None = None   # (grads, exp_avgs, exp_avg_sqs, steps) of last step

    def set_lr(self, lr: float) -> None:
        """The learning rate of the next steps (what an lr scheduler writes into the group)."""
        self.group["lr"] = lr

    @torch.no_grad()
    def __call__(self) -> None:
        """Clip, step, reset; the gradients of the last backward are in ``p.grad``."""
        params = self.params
        grads = [p.grad for p in params]
        if any(g is None for g in grads):       # a parameter without gradient: library path
            self._cache = None
            if self.clip is not None:
                nn.utils.clip_grad_norm_(params, self.clip, foreach=True)
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
            return
        if self.clip is not None:
            self._clip(grads)
        if self.fast_adam and self._cache is not None:
            self._adam(grads)
        else:
            self.opt.step()
            if self.fast_adam:
                st = [self.opt.state[p] for p in params]
                self._cache = ([s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st],
                               [s["step"] for s in st])
        for p in params:
            p.grad = None

    def _clip(self, grads: list[torch.Tensor]) -> None:
        """clip_grad_norm_(foreach=True)'s computation, on the gradient list."""
        if not self.single:
            nn.utils.clip_grad_norm_(self.params, self.clip, foreach=True)
            return
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
        coef = torch.clamp(self.clip / (total + 1e-6), max=1.0)
        if self.cpu and coef.item() == 1.0:
            return
        torch._foreach_mul_(grads, coef)

    def _adam(self, grads: list[torch.Tensor]) -> None:
        """Adam.step()'s call of the functional update, with the cached state lists."""
        g, opt = self.group, self.opt
        exp_avgs, exp_avg_sqs, steps = self._cache
        beta1, beta2 = g["betas"]
        adam_update(
            self.params, grads, exp_avgs, exp_avg_sqs, [], steps,
            amsgrad=False, has_complex=False, beta1=beta1, beta2=beta2, lr=g["lr"],
            weight_decay=g["weight_decay"], eps=g["eps"], maximize=g["maximize"],
            foreach=g["foreach"], capturable=g["capturable"], differentiable=False,
            fused=g["fused"], grad_scale=getattr(opt, "grad_scale", None),
            found_inf=getattr(opt, "found_inf", None),
            decoupled_weight_decay=g["decoupled_weight_decay"],
        )
