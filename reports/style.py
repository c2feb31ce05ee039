"""One seaborn style for every figure, and one colour per learner family.

Learners of the same family share the family's hue (shades of it when there are several) and
differ by marker, so a figure reads "which family" at a glance and "which learner" on a closer look.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

_DEEP = sns.color_palette("deep")
FAMILY_COLORS = {
    "hierarchical": _DEEP[0],  # blue
    "layerwise": _DEEP[2],  # green
    "non-hierarchical": _DEEP[3],  # red
    "baseline": _DEEP[7],  # grey
}
OTHER_COLOR = _DEEP[4]
MARKERS = ("o", "s", "D", "P", "X", "v", "<", ">", "h", "*")
DPI = 110


def apply_style() -> None:
    """The suite's seaborn theme (call before drawing)."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.05,
                  rc={"axes.titlesize": 9, "legend.fontsize": 8, "svg.hashsalt": "hierbench",
                      "figure.dpi": DPI, "savefig.bbox": "tight"})


def _shade(color, amount: float) -> tuple:
    """Mix ``color`` with black (amount < 0) or white (amount > 0)."""
    c = np.asarray(color, float)
    target = np.ones(3) if amount > 0 else np.zeros(3)
    return tuple(c + abs(amount) * (target - c))


def learner_styles(pairs: Iterable[tuple[str, str]]) -> dict[str, dict]:
    """``label -> {"color", "marker", "family"}`` for (label, family) pairs.

    Colour: the family colour, shaded from dark to light when the family has several learners.
    Marker: distinct within a family.
    """
    fams: dict[str, list[str]] = {}
    for label, family in sorted(set(pairs)):
        fams.setdefault(family, []).append(label)
    out = {}
    for family, labels in fams.items():
        base = FAMILY_COLORS.get(family, OTHER_COLOR)
        shades = ([base] if len(labels) == 1 else
                  sns.blend_palette([_shade(base, -0.35), base, _shade(base, 0.45)], len(labels)))
        for i, label in enumerate(labels):
            out[label] = {"color": tuple(shades[i]), "marker": MARKERS[i % len(MARKERS)],
                          "family": family}
    return out


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_")[:80] or "x"


def close(fig) -> None:
    plt.close(fig)
