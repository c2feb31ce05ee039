"""``bfc_net``: the DenseNet-like quadratic network of Allen-Zhu & Li, trained end-to-end in stages.

Architecture (L blocks of width m, S_0 = x the standardised input, connection sets J_l that
mirror the target's: J_1 = {0}, J_l a subset of {0..l-1} containing l - 1, default {0, l - 1},
the rule of :mod:`tasks.bfc_structure` that the ``bfc`` task draws its teacher on):

    S_l(x) = q( sum_{j in J_l} W_{l,j} S_j(x) + b_l ),      W_{l,j}: m x dim(S_j),
    f_s(x) = c + sum_{l <= s} a_l^T S_l(x)                   (output with blocks 1..s active),

q(z) = (sigma(z) - 1) / sqrt(2) with sigma(z) = z^2, or its truncation sigma(z) = z^2 for
|z| <= B and 2B|z| - B^2 beyond (continuous slope; ``truncate=B``, None = pure square).  S_l has
degree 2^l in x, like the target's level l.  Init: W_{l,j} ~ N(0, 1 / (|J_l| dim S_j)), b = 0,
a_l = 0 (so switching block s on leaves f_{s-1} unchanged; its first step trains a_s, and the
block's weights get gradient from then on).  Over-parameterisation: m (default max(64, 2d)) >> the
target's k; block 1 needs m >= d to express the target's full-rank level-1 quadratic forms.
The net is :class:`learners.nets.layers.DenseQuadNet`.

Staged schedule (the paper's: layers switched on in order, all active layers trained together;
:mod:`learners.nets.staged`): stage s = 1..L trains f_s on the MSE for a share of the step
budget (``stage_fractions``, default equal; steps that early stopping leaves unused carry over
to the next stage), each stage with its own warm-up + schedule and early stopping with the full
patience (restoring the stage's best state). The budget and patience are in epochs, shared with
every net learner (:mod:`learners.nets.params`). In stage s the gradient reaches the blocks
max(1, s - backward_depth)..s and the heads of the active blocks; ``backward_depth=None`` trains
all active blocks (end-to-end, backward feature correction possible), ``backward_depth=0``
freezes every block after its stage (= ``layerwise``).

Where this simplifies the paper (arXiv 2001.04413): the paper's learner separates an
over-parameterised layer from a low-rank (k-dimensional) "K" layer tied by a regulariser and
re-initialised from an SVD at each stage switch, uses fixed output weights alpha_l and a
truncated activation in the objective only, and runs a specific SGD variant with stage-wise
loss thresholds.  Here every block is a single over-parameterised quadratic layer, readouts are
trained, AdamW weight decay replaces the paper's regularisers, stages switch on a step budget
with early stopping instead of loss thresholds, and the lr is chosen from a grid by pilots.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

from sklearn.utils._param_validation import Interval
from torch import nn

from learners.base import Family
from learners.nets.layers import DenseQuadNet
from learners.nets.learner import TorchNetLearner, net_resources
from learners.nets.params import net_init
from learners.nets.staged import StagedLearnerMixin
from tasks.bfc_structure import check_connections, input_width


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

    family = Family.HIERARCHICAL
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

    __init__ = net_init(n_blocks=3, connections=None, width=None, truncate=6.0, staged=True,
                        stage_fractions=None, backward_depth=None)

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
        n_params = sum(sum(input_width(j, d, m) for j in J) * m + m for J in conns) + L * m + 1
        return net_resources(n, d, n_params, act_per_sample=3 * L * m + d,
                             batch=int(self.batch_size), steps=self._predicted_steps(n),
                             flops_per_sample=2.0 * n_params,
                             dtype_bytes=8 if self.dtype == "float64" else 4,
                             step_overhead_s=5e-4 * (L + 1))  # many small ops per block
