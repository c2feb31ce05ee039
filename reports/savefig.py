"""Saving a figure: PNG (always), SVG and PDF on request, and the boxes of every text drawn.

Formats.  The PNG is always written: report.md shows it and report.html embeds it.  SVG and PDF
are copies for print and slides; :data:`DEFAULT_FORMATS` (PNG and SVG) is what a report writes
unless :func:`figure_formats` names others (``hierbench report --formats png,svg,pdf``).  Each
format costs a full draw of the figure, and the PDF backend is the slowest of the three.

One layout, every format.  ``savefig(bbox_inches="tight")`` lays the figure out twice per format
(a draw without rendering to find the tight box, then the real draw).  Here the tight box is
found once, by one draw without rendering at the figure's dpi (the same renderer and box that
``savefig`` computes for the PNG), and every format is saved with that box: one draw per format.

Text boxes.  During the PNG's draw, the window extent (display pixels at the figure's dpi, in
the frame of the saved PNG) of every text artist that is drawn -- titles, axis labels, the tick
labels of ticks inside the view, legend entries, annotations -- is recorded in
``figures/text_boxes.json`` as ``{figure: [[x0, y0, x1, y1, text], ...]}``.
:func:`overlapping_texts` returns the pairs of boxes that intersect, which the tests require to
be none.  Matplotlib renders text as paths in SVG, so the boxes cannot be read back from the
SVG itself; they are the extents of the drawn PNG, whose layout the SVG and PDF share.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.text import Text

from reports.style import close

TEXT_BOXES = "text_boxes.json"
#: two boxes overlap when they intersect by more than this many pixels in both directions
OVERLAP_TOL_PX = 0.5
#: every format a figure can be saved in; PNG is always written
FORMATS = ("png", "svg", "pdf")
DEFAULT_FORMATS = ("png", "svg")
_FORMATS: ContextVar[tuple[str, ...]] = ContextVar("figure_formats", default=DEFAULT_FORMATS)


def parse_formats(formats: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"png,svg,pdf"`` (or a list of names; None: the default) -> the formats to write, in
    :data:`FORMATS` order, PNG always included.  Unknown names raise ValueError."""
    if formats is None:
        return DEFAULT_FORMATS
    names = formats.split(",") if isinstance(formats, str) else list(formats)
    names = {str(n).strip().lower().lstrip(".") for n in names} - {""}
    unknown = sorted(names - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown figure format(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names | {"png"})


@contextmanager
def figure_formats(formats: str | Iterable[str] | None) -> Iterator[tuple[str, ...]]:
    """Within the block, :func:`save_figure` writes ``formats`` (:func:`parse_formats`)."""
    token = _FORMATS.set(parse_formats(formats))
    try:
        yield _FORMATS.get()
    finally:
        _FORMATS.reset(token)


@dataclass
class Figure:
    """A saved figure: short name, title, caption and its files (None: a format not written)."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path | None = None
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


def text_boxes(fig, renderer=None) -> list[list]:
    """``[x0, y0, x1, y1, text]`` (display pixels) of every non-empty text the figure draws.

    With ``renderer`` (from within a draw, see :func:`save_figure`) the extents are those of that
    draw; without, the figure is drawn afresh on its Agg canvas first."""
    if renderer is None:
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
    """Save a figure (or seaborn grid) under ``out`` in the formats of :func:`figure_formats`
    (PNG always), record its text boxes and close it."""
    fig = getattr(grid_or_fig, "figure", grid_or_fig)
    out.mkdir(parents=True, exist_ok=True)
    fig.suptitle(title, y=1.02, fontsize=10)
    formats = _FORMATS.get()
    paths = {fmt: out / f"{name}.{fmt}" for fmt in formats}
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # left by Figure.tight_layout (seaborn grids call it): it does nothing, but makes every
        # savefig lay the figure out once more before drawing it
        fig.set_layout_engine(None)
    # the tight box that savefig(bbox_inches="tight") finds for the PNG, found once for all
    fig.draw_without_rendering()
    bbox = fig.get_tightbbox().padded(mpl.rcParams["savefig.pad_inches"])
    boxes: list[list] = []

    def record(event) -> None:  # the PNG's draw: the extents of what it draws
        boxes[:] = text_boxes(fig, event.renderer)

    cid = fig.canvas.mpl_connect("draw_event", record)
    try:
        fig.savefig(paths["png"], bbox_inches=bbox)
    finally:
        fig.canvas.mpl_disconnect(cid)
    for fmt in formats:
        if fmt != "png":
            fig.savefig(paths[fmt], bbox_inches=bbox)
    _record_boxes(out, name, boxes)
    close(fig)
    return Figure(name, title, caption, paths["png"], paths.get("svg"), paths.get("pdf"))
