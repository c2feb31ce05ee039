"""``mlp``: a fully connected net trained end-to-end by mini-batch Adam (or SGD).

Architecture (depth L hidden layers of width m, input x in R^d after standardisation):

    h_0 = x,   z_l = W_l h_{l-1} + b_l,   h_l = [h_{l-1} +] act(z_l)   (l = 1..L),
    f(x) = w^T h_L + b,

the bracketed skip only when ``residual=True`` and the shapes match (l >= 2).  Activations:
``relu``, ``gelu`` and ``quadratic``, the last as act(z) = (z^2 - 1) / sqrt(2): z^2 up to an affine
map that the next layer absorbs, centred and scaled so that a standard normal z gives mean 0 and
variance 1, and depth does not blow the scale up; z^2 is continued linearly beyond |z| > B
(``truncate``, default 6, as in ``bfc_net``) to tame the tails of the degree-2^L output.
Initialisation: W_l ~ N(0, g / fan_in) with g = 2 (relu, gelu) or 1 (quadratic), b_l = 0; the
head w ~ N(0, 1 / m).

Training (the shared parameters of :mod:`learners.nets.params`): MSE on standardised y, AdamW
with ``weight_decay``, gradient norm clipped at ``grad_clip`` (default 1; without it a 3-layer
quadratic net reached test error 11 instead of 0.03 on a degree-2 multi_index target), batches of
``batch_size`` for up to ``max_epochs`` epochs (optionally capped at ``max_steps`` steps), early
stopping on the internal validation split (``val_fraction`` of the n samples) after
``patience_epochs`` epochs without improvement, the best weights restored, every lr of
``lr_grid`` trained and the best on the hold-out kept; see :mod:`learners.nets.loop`.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from learners.base import Family
from learners.nets.layers import ACTIVATIONS, MLPNet
from learners.nets.learner import TorchNetLearner, net_resources
from learners.nets.loop import train
from learners.nets.params import net_init


class MLPLearner(TorchNetLearner):
    """End-to-end trained fully connected net (family ``hierarchical``).

    Architecture parameters: ``depth`` hidden layers of ``width`` units, ``activation`` in relu /
    gelu / quadratic, ``residual`` skips, ``truncate`` (quadratic only: linear beyond
    |z| > truncate; None = pure square).  Training parameters (shared by every net learner,
    :class:`learners.nets.params.TrainingParams`): ``optimizer``, ``lr_grid`` (every lr trained
    to its plateau, the best on the hold-out kept), ``batch_size``, ``max_epochs`` (budget),
    ``max_steps`` (optional cap of the budget), ``patience_epochs``, ``schedule``,
    ``weight_decay``, ``grad_clip``, ``val_fraction``, ``max_retries``.  Others: ``standardize``,
    ``callback(step, self)`` every ``callback_every`` steps, ``device`` auto / cpu / cuda,
    ``dtype`` float32 / float64, ``random_state``.
    """

    family = Family.HIERARCHICAL
    _parameter_constraints: ClassVar[dict] = {
        **TorchNetLearner._parameter_constraints,
        "depth": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "residual": ["boolean"],
        "truncate": [Interval(Real, 0, None, closed="neither"), None],
    }

    __init__ = net_init(depth=3, width=256, activation="relu", residual=False, truncate=6.0)

    def _build(self, d: int) -> nn.Module:
        return MLPNet(d, int(self.width), int(self.depth), self.activation, bool(self.residual),
                      self.truncate)

    def _procedure(self, model, data, cfg, generator, on_step):
        return train(model, data, cfg, generator, on_step=on_step)

    def resources(self, n: int, d: int):
        m, L = int(self.width), int(self.depth)
        n_params = d * m + (L - 1) * m * m + (L + 1) * m + 1
        dtype_bytes = 8 if self.dtype == "float64" else 4
        return net_resources(n, d, n_params, act_per_sample=2 * L * m + d,
                             batch=int(self.batch_size), steps=self._predicted_steps(n),
                             flops_per_sample=2.0 * n_params, dtype_bytes=dtype_bytes)
