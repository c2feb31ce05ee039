"""The connection rule of Allen-Zhu & Li's DenseNet-like hierarchy, shared by task and learner.

Levels (blocks) l = 1..L read lower levels j in a connection set J_l, level 0 being the input
(dimension d) and every level l >= 1 having the same width (the teacher's k, the net's m):

    J_1 = {0}                                   (level 1 reads the input only),
    J_l subset of {0, .., l - 1} with l - 1 in J_l      (l >= 2; the chain is never broken),
    default J_l = {0, l - 1}                    (a skip connection from the input),

so level l has degree 2^l in x (its input contains level l - 1, of degree 2^(l-1), and is
squared).  The ``bfc`` task (:mod:`tasks.bfc`) draws its teacher on these sets and the ``bfc_net``
and ``layerwise`` learners build their nets on them; both validate a user's ``connections``
(the list J_2..J_L) here.  Data flows one way: learners import this module, tasks never import
learners.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ConnectionsError(ValueError):
    """``connections`` breaks the rule; ``allowed`` says what the offending part must be."""

    def __init__(self, connections, allowed: str):
        super().__init__(f"connections = {connections!r} is out of range; allowed: {allowed}")
        self.allowed = allowed


def default_connections(L: int) -> list[list[int]]:
    """J_2..J_L = {0, l - 1}."""
    return [sorted({0, l - 1}) for l in range(2, L + 1)]


def check_connections(connections, L: int) -> list[list[int]]:
    """J_1..J_L (J_1 = [0]) from J_2..J_L (None: the default), each sorted and validated.

    Raises :class:`ConnectionsError` (a ValueError) naming the first set that breaks the rule.
    """
    conns = default_connections(L) if connections is None else connections
    if isinstance(conns, (str, bytes)) or not isinstance(conns, (Sequence, np.ndarray)) \
            or len(conns) != L - 1:
        raise ConnectionsError(connections, f"a list of L - 1 = {L - 1} lists J_2..J_L")
    out = [[0]]
    for l, J in enumerate(conns, start=2):
        try:
            Js = sorted({int(j) for j in J})
        except (TypeError, ValueError):
            Js = []
        if l - 1 not in Js or Js[0] < 0 or Js[-1] > l - 1:
            raise ConnectionsError(connections, f"J_{l} (the inputs of block {l}) a subset of "
                                                f"0..{l - 1} containing {l - 1}")
        out.append(Js)
    return out


def input_width(j: int, d: int, width: int) -> int:
    """Dimension of level j's output: d for the input (j = 0), the level width otherwise."""
    return d if j == 0 else width
