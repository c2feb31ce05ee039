"""Saving a figure: PNG, SVG and PDF, and the boxes of every text drawn (to check overlaps).

At save time the window extent (display pixels, at the figure's dpi) of every text artist that
is drawn -- titles, axis labels, the tick labels of ticks inside the view, legend entries,
annotations -- is recorded in ``figures/text_boxes.json`` as ``{figure: [[x0, y0, x1, y1, text],
...]}``.  :func:`overlapping_texts` returns the pairs of boxes that intersect, which the tests
require to be none.  Matplotlib renders text as paths in SVG, so the boxes cannot be read back
from the SVG itself; they are the extents matplotlib used when it wrote the SVG.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from matplotlib.text import Text

from reports.style import close

TEXT_BOXES = "text_boxes.json"
#: two boxes overlap when they intersect by more than this many pixels in both directions
OVERLAP_TOL_PX = 0.5


@dataclass
class Figure:
    """A saved figure: short name, title, caption and its files."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    pdf: Path | None = None


def _tick_texts(fig) -> tuple[set[int], set[int]]:
    """(ids of every tick label, ids of the tick labels drawn: ticks inside the view)."""
    every, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                every |= {id(tick.label1), id(tick.label2)}
            for tick in axis._update_ticks():  # the ticks matplotlib draws
                for lab in (tick.label1, tick.label2):
                    if lab.get_visible():
                        drawn.add(id(lab))
    return every, drawn


def text_boxes(fig) -> list[list]:
    """``[x0, y0, x1, y1, text]`` (display pixels) of every non-empty text the figure draws."""
    # a fresh Agg draw at the figure's dpi: saving with a tight bounding box leaves the drawn
    # positions of the last save shifted, so the extents must come from a draw of their own
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    every, drawn = _tick_texts(fig)
    boxes = []
    for t in fig.findobj(Text):
        s = t.get_text().strip()
        if not s or not t.get_visible() or (id(t) in every and id(t) not in drawn):
            continue
        bb = t.get_window_extent(renderer)
        if bb.width > 0 and bb.height > 0:
            boxes.append([float(bb.x0), float(bb.y0), float(bb.x1), float(bb.y1), s])
    return boxes


def overlapping_texts(boxes: list[list], tol: float = OVERLAP_TOL_PX) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes intersect by more than ``tol`` pixels in x and in y."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a[2], b[2]) - max(a[0], b[0])
            dy = min(a[3], b[3]) - max(a[1], b[1])
            if dx > tol and dy > tol:
                out.append((a[4], b[4]))
    return out


def _record_boxes(out: Path, name: str, boxes: list[list]) -> None:
    path = out / TEXT_BOXES
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = boxes
    path.write_text(json.dumps(data, indent=0))


def save_figure(grid_or_fig, out: Path, name: str, title: str, caption: str) -> Figure:
    """Save a figure (or seaborn grid) as PNG, SVG and PDF under ``out``, record its text boxes
    and close it."""
    fig = getattr(grid_or_fig, "figure", grid_or_fig)
    out.mkdir(parents=True, exist_ok=True)
    fig.suptitle(title, y=1.02, fontsize=10)
    png, svg, pdf = out / f"{name}.png", out / f"{name}.svg", out / f"{name}.pdf"
    fig.savefig(pdf)
    fig.savefig(svg)
    fig.savefig(png)
    _record_boxes(out, name, text_boxes(fig))
    close(fig)
    return Figure(name, title, caption, png, svg, pdf)
