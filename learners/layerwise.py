"""``layerwise``: the architectures of ``bfc_net`` and ``mlp`` trained greedily, block by block.

Procedure (L blocks, total step budget T split over L stages as for ``bfc_net``):

    stage 1:  train block 1 and a linear head on it to convergence (early stopping);
    stage s:  freeze blocks 1..s-1, add block s and train it with a head, ...;
    predictor: the last stage's net.

With ``architecture="bfc"`` the net is :class:`learners.nets.layers.DenseQuadNet` (the readout
c + sum_{l<=s} a_l^T S_l over the active blocks is the head, retrained every stage: a linear
model on frozen features of the lower blocks).  With ``architecture="mlp"`` it is the chain
h_l = act(W_l h_{l-1}) of :class:`learners.nets.layers.MLPNet` with a fresh head
w_s^T h_s + b_s per stage (:class:`~learners.nets.layers.StagedMLPNet`; earlier heads are
discarded; the final head is the mlp's head).  Freezing is ``backward_depth=0`` of the shared
staged trainer (:mod:`learners.nets.staged`); ``backward_depth=m`` lets the gradient reach
m blocks below the newest (a partial backward feature correction), None is end-to-end.

The end-to-end twin (:meth:`LayerwiseLearner.twin`) is ``bfc_net`` resp. ``mlp`` with the same
architecture, the same deployed parameter count and the same training parameters (budget,
patience, lr grid); only the training order differs.  This is the control that separates
backward feature correction from depth alone.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from learners.base import Family, Resources
from learners.bfc_net import BFCNetLearner
from learners.mlp import MLPLearner
from learners.nets.layers import ACTIVATIONS, DenseQuadNet, StagedMLPNet
from learners.nets.learner import TorchNetLearner
from learners.nets.params import RuntimeParams, TrainingParams, net_init
from learners.nets.staged import StagedLearnerMixin
from tasks.bfc_structure import check_connections

ARCHITECTURES = ("bfc", "mlp")
#: hyper-parameters shared with the end-to-end twin, passed through by :meth:`twin`
SHARED = ("width", *TrainingParams.names(), *RuntimeParams.names())


class LayerwiseLearner(StagedLearnerMixin, TorchNetLearner):
    """Greedy block-by-block training of the ``bfc`` or ``mlp`` architecture (family layerwise).

    Parameters: ``architecture`` bfc / mlp, ``depth`` (blocks or hidden layers), ``width``
    (None = the twin's default: max(64, 2d) for bfc, 256 for mlp), ``connections`` and
    ``truncate`` (bfc), ``activation`` and ``residual`` (mlp), ``stage_fractions``,
    ``backward_depth`` (0 = greedy; see the module doc), and the training parameters shared by
    every net learner (``max_epochs`` the total budget over the stages).
    """

    family = Family.LAYERWISE
    staged = True
    _parameter_constraints: ClassVar[dict] = {
        **TorchNetLearner._parameter_constraints,
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left"), None],
        "connections": ["array-like", None],
        "truncate": [Interval(Real, 0, None, closed="neither"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "residual": ["boolean"],
        "stage_fractions": ["array-like", None],
        "backward_depth": [Interval(Integral, 0, None, closed="left"), None],
    }

    __init__ = net_init(architecture="bfc", depth=3, width=None, connections=None, truncate=6.0,
                        activation="relu", residual=False, stage_fractions=None,
                        backward_depth=0)

    # -- the end-to-end twin ------------------------------------------------------------------
    def twin(self) -> TorchNetLearner:
        """The end-to-end learner with the same architecture, parameters and step budget."""
        self._check_architecture()
        shared = {k: getattr(self, k) for k in SHARED}
        if self.architecture == "bfc":
            if shared["width"] is None:
                del shared["width"]
            return BFCNetLearner(n_blocks=self.depth, connections=self.connections,
                                 truncate=self.truncate, stage_fractions=self.stage_fractions,
                                 **shared)
        shared["width"] = shared["width"] or MLPLearner().width
        return MLPLearner(depth=self.depth, activation=self.activation, residual=self.residual,
                          **shared)

    def _check_architecture(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, "
                             f"got {self.architecture!r}")

    # -- StagedLearnerMixin / TorchNetLearner hooks ---------------------------------------------
    def _n_stages(self) -> int:
        return int(self.depth)

    def _backward_depth(self) -> int | None:
        return self.backward_depth

    def _build(self, d: int) -> nn.Module:
        twin = self.twin()
        if self.architecture == "bfc":
            conns = check_connections(self.connections, int(self.depth))
            return DenseQuadNet(d, twin._width(d), conns, self.truncate)
        return StagedMLPNet(d, int(twin.width), int(self.depth), self.activation,
                            bool(self.residual))

    def resources(self, n: int, d: int):
        twin = self.twin()
        r = twin.resources(n, d)
        if self.architecture == "mlp":
            m = int(twin.width)
            extra = 5 * 4 * (self.depth - 1) * (m + 1)  # stage heads with their Adam state
            return Resources(r.memory_bytes + extra, r.seconds)
        return r
