"""One seaborn style for every figure, and one fixed colour and marker per learner.

Colours come from the Okabe-Ito and Paul Tol colour-blind-safe palettes and are fixed per
learner *name*, so a learner has the same colour in every figure of every run:

* non-hierarchical learners (kernels, random and polynomial features): warm hues
  (vermillion, orange, wine, pink, dark brown), marker ``o``;
* hierarchical learners (deep nets trained end to end): cool hues (blue, sky blue, indigo,
  bluish green), marker ``s``;
* layerwise learners: teal / cyan, marker ``^``;
* baselines: greys, marker ``X``.

The marker says the family at a glance (also in greyscale print); the hue says which learner.
Several labels of one learner (``krr-rbf``, ``krr-laplace``) get shades of its colour; learners
this module does not know take the next free colour of their family's list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

#: fixed colour of each built-in learner (hex, colour-blind-safe palettes)
LEARNER_COLORS = {
    # non-hierarchical: warm
    "krr": "#D55E00", "ntk": "#E69F00", "nngp": "#882255", "poly_features": "#CC79A7",
    "random_features": "#661100",
    # hierarchical: cool
    "mlp": "#0072B2", "two_layer": "#56B4E9", "bfc_net": "#332288", "resnet": "#009E73",
    # layerwise
    "layerwise": "#44AA99", "three_layer": "#117733",
    # baselines: greys
    "mean": "#999999", "ridge": "#555555",
}
#: colours for learners not listed above, by family (taken in order)
FAMILY_SPARE = {
    "non-hierarchical": ["#EE7733", "#CC3311", "#EE3377", "#DDAA33"],
    "hierarchical": ["#0077BB", "#33BBEE", "#4477AA", "#66CCEE"],
    "layerwise": ["#009988", "#88CCEE", "#44BB99"],
    "baseline": ["#777777", "#BBBBBB", "#333333"],
}
FAMILY_MARKER = {"non-hierarchical": "o", "hierarchical": "s", "layerwise": "^",
                 "baseline": "X"}
OTHER_MARKER = "D"
OTHER_COLORS = ["#AA4499", "#999933", "#BBCC33"]
DPI = 110


def apply_style() -> None:
    """The suite's seaborn theme (call before drawing).

    ``axes.titley = 1.0`` places panel titles where matplotlib's automatic placement puts them
    when no tick labels or axis label sit above the panel (none of the suite's figures has
    any), without that placement's cost: at every draw it measures the tick labels of every
    panel, a third of the figures' drawing time."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.05,
                  rc={"axes.titlesize": 9, "legend.fontsize": 8, "svg.hashsalt": "hierbench",
                      "figure.dpi": DPI, "savefig.bbox": "tight", "pdf.fonttype": 42,
                      "axes.titley": 1.0})


def _shade(color, amount: float) -> tuple:
    """Mix ``color`` with black (amount < 0) or white (amount > 0)."""
    c = np.asarray(to_rgb(color), float)
    target = np.ones(3) if amount > 0 else np.zeros(3)
    return tuple(c + abs(amount) * (target - c))


def learner_styles(triples: Iterable[tuple]) -> dict[str, dict]:
    """``label -> {"color", "marker", "family"}`` for (label, family[, learner name]) tuples.

    Colour: the learner name's fixed colour (shades of it for several labels of one learner);
    marker: the family's.
    """
    seen: dict[str, tuple[str, str]] = {}  # label -> (learner name, family); a known family wins
    for t in triples:
        label, family = str(t[0]), t[1]
        name = str(t[2]) if len(t) > 2 and isinstance(t[2], str) else label
        if label not in seen or (isinstance(family, str) and seen[label][1] not in FAMILY_MARKER):
            seen[label] = (name, family if isinstance(family, str) else "other")
    by_name: dict[tuple[str, str], list[str]] = {}
    for label, key in sorted(seen.items()):
        by_name.setdefault(key, []).append(label)
    spare = {fam: list(cols) for fam, cols in FAMILY_SPARE.items()}
    other = list(OTHER_COLORS)
    out = {}
    for (name, family), labels in sorted(by_name.items()):
        base = LEARNER_COLORS.get(name)
        if base is None:
            pool = spare.get(family) or other or ["#000000"]
            base = pool.pop(0) if len(pool) > 1 else pool[0]
        shades = ([to_rgb(base)] if len(labels) == 1 else
                  sns.blend_palette([_shade(base, -0.3), base, _shade(base, 0.4)], len(labels)))
        for i, label in enumerate(sorted(set(labels))):
            out[label] = {"color": tuple(shades[i]), "family": family,
                          "marker": FAMILY_MARKER.get(family, OTHER_MARKER)}
    return out


FAMILY_ORDER = ("non-hierarchical", "hierarchical", "layerwise", "baseline")


def by_family(labels: Iterable[str], styles: dict[str, dict]) -> list[str]:
    """Labels ordered by family (kernels, deep nets, layerwise, baselines), then by name: the
    legend order, so that a family's entries stand together."""
    def key(lab: str):
        fam = styles[lab]["family"]
        return (FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER), lab)
    return sorted(set(labels), key=key)


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_")[:80] or "x"


def close(fig) -> None:
    plt.close(fig)


#: one colour per family (for figures that show families, not learners: the diagnostics report)
FAMILY_COLORS = {"non-hierarchical": to_rgb(LEARNER_COLORS["krr"]),
                 "hierarchical": to_rgb(LEARNER_COLORS["mlp"]),
                 "layerwise": to_rgb(LEARNER_COLORS["layerwise"]),
                 "baseline": to_rgb(LEARNER_COLORS["mean"])}
OTHER_COLOR = to_rgb(OTHER_COLORS[0])
