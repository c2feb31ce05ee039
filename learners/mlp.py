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

import math
from numbers import Integral, Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from learners.nets.learner import DEFAULTS, TorchNetLearner, net_resources, store_params, train

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

    family = "hierarchical"
    _parameter_constraints: ClassVar[dict] = {
        **TorchNetLearner._parameter_constraints,
        "depth": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "residual": ["boolean"],
        "truncate": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, depth=3, width=256, activation="relu", residual=False, truncate=6.0,
                 optimizer=DEFAULTS.optimizer, lr_grid=DEFAULTS.lr_grid,
                 batch_size=DEFAULTS.batch_size, max_epochs=DEFAULTS.max_epochs,
                 max_steps=DEFAULTS.max_steps, patience_epochs=DEFAULTS.patience_epochs,
                 schedule=DEFAULTS.schedule, weight_decay=DEFAULTS.weight_decay,
                 grad_clip=DEFAULTS.grad_clip, val_fraction=DEFAULTS.val_fraction,
                 max_retries=DEFAULTS.max_retries, standardize=True, callback=None,
                 callback_every=100, device="auto", dtype="float32", random_state=None):
        store_params(self, locals())

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
