"""The report's figures (seaborn FacetGrids, one style, one fixed colour per learner).

Every figure is saved as PNG, SVG and PDF (:mod:`reports.savefig`); each function returns a list
of :class:`Figure`.

* learning curves: median test error (line) and inter-quartile range (band) against n, faceted by
  task configuration x d (titles name only what differs: "p = 4, d = 16"), log-log, the eps
  threshold dashed; the y axis covers the informative range (down to ``FLOOR_DECADES`` decades
  below the smallest threshold) and points below it are drawn on the edge as open triangles;
  medians over fewer than half the seeds (``few_seeds``: a fast learner's largest n under the
  adaptive search) are open markers on a dotted line (the kappa figure of :mod:`reports.contrast`
  draws its curves the same way, :func:`draw_medians`);
* n* against d, log-log: interpolated n* as markers, right-censored n* as upward arrows (n* >
  value), n* at the grid's first point as downward arrows (n* <= value), fitted n* = e^a d^beta
  solid, the theory's slope for the learner's family dashed;
* the verdict figure: beta against the family's depth/degree index with CIs, one panel per task
  family, with the theory's asymptotic beta (dashed) and, where the analysis gives it, the
  finite-d theory slope over the run's d range (dotted);
* time-to-target t*(eps) against d, same conventions as n*.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogLocator, NullLocator

from harness.analysis import Analysis
from reports.savefig import Figure, save_figure
from reports.style import apply_style, by_family, learner_styles, slug
from reports.tables import config_titles, family_title

__all__ = ["Figure", "save_figure", "all_figures", "headline_figure"]

ARROW = 1.9  # length of a censoring arrow, as a factor on the log axis
FLOOR_DECADES = 2.0  # learning curves: lowest y = smallest threshold / 10^FLOOR_DECADES
GREY = "0.3"


def loglog(grid_or_ax) -> None:
    """Log-log axes with major decade ticks only (minor ticks cost much drawing time)."""
    axes = getattr(grid_or_ax, "axes", None)
    axes = np.ravel(axes) if axes is not None else [grid_or_ax]
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(base=10, numticks=5))
            axis.set_minor_locator(NullLocator())


def d_ticks(grid, ds) -> None:
    """Ticks at the d-grid's values (thinned to at most 5) on every panel's x axis."""
    ds = np.unique(np.asarray(ds, float))
    ds = ds[:: int(np.ceil(len(ds) / 5))] if len(ds) else ds
    for ax in np.ravel(grid.axes):
        ax.xaxis.set_major_locator(FixedLocator(ds))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))


def learner_legend(grid, styles: dict, labels: list[str],
                   extra: list[tuple[str, dict]] = ()) -> None:
    """One legend entry per learner (colour and family marker, in family order), then ``extra``
    (text, Line2D keywords) entries."""
    handles = {lab: Line2D([], [], color=styles[lab]["color"], marker=styles[lab]["marker"],
                           label=lab) for lab in by_family(labels, styles)}
    for text, kw in extra:
        handles[text] = Line2D([], [], label=text, **kw)
    outside_legend(grid, handles, "learner")


def outside_legend(grid, handles: dict, title: str) -> None:
    """The legend right of the panels, as seaborn's ``FacetGrid.add_legend`` places it (the
    figure widened by the legend's width, the panels' right edge moved left by the legend's share
    of the new width plus a 1 % margin), without the two full draws of the figure that seaborn
    makes to measure the legend: its width needs only the legend's own layout."""
    fig = grid.figure
    leg = fig.legend(list(handles.values()), list(handles), scatterpoints=1, frameon=False,
                     loc="center right")
    leg.set_title(title, prop={"size": mpl.rcParams["legend.title_fontsize"]})
    width = leg.get_window_extent().width / fig.dpi
    fig_w, fig_h = fig.get_size_inches()
    fig.set_size_inches(fig_w + width, fig_h)
    width = leg.get_window_extent().width / fig.dpi  # measured again at the new size, as seaborn
    fig.subplots_adjust(right=1 - (0.01 + width / (fig_w + width)))


def d_grid(c: pd.DataFrame, aspect: float = 1.15) -> sns.FacetGrid:
    """The panels of a quantity against d: one per task configuration, at most three a row, each
    with its own y axis (n* and t* figures, n* with the theory curves)."""
    return sns.FacetGrid(c, col="task_label", col_wrap=min(3, c["task_label"].nunique()),
                         height=2.8, aspect=aspect, sharey=False, despine=False)


def finish_d_grid(grid: sns.FacetGrid, draw, ds, titles: str | dict[str, str], ylabel: str,
                  styles: dict, labels: list[str], extra: list[tuple[str, dict]]) -> None:
    """Draw every panel of a :func:`d_grid` (``draw(data)``), then the log-log axes, ticks at
    the d values, the panel titles (a ``set_titles`` template, or task label -> title), the
    axis labels and the learner legend with the ``extra`` entries."""
    grid.map_dataframe(draw)
    loglog(grid)
    d_ticks(grid, ds)
    if isinstance(titles, str):
        grid.set_titles(titles)
    else:
        for lab, ax in grid.axes_dict.items():
            ax.set_title(titles[lab])
    grid.set_axis_labels("d (input dimension)", ylabel)
    learner_legend(grid, styles, labels, extra)


def run_styles(a: Analysis) -> dict:
    """The fixed style of every learner label of the run (:func:`reports.style.learner_styles`)."""
    df = a.records
    if not len(df):
        return {}
    return learner_styles(zip(df["label"], df["family"], df["learner"], strict=True))


def _arrow(ax, x: float, y: float, bound: float, color) -> None:
    """Up arrow for a lower bound (+1), down arrow for an upper bound (-1)."""
    tip = y * ARROW ** bound
    ax.annotate("", xy=(x, tip), xytext=(x, y), annotation_clip=False,
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.2})
    ax.scatter([x], [tip], s=0, alpha=0)  # keeps the tip inside the autoscaled limits


def curve_limits(values: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """y limits of a learning-curve figure: from max(smallest value, smallest threshold /
    10^FLOOR_DECADES) to the largest value, with a margin of 25 % on the log axis ends."""
    v = values[np.isfinite(values) & (values > 0)]
    if not v.size:
        return 1e-3, 1.5
    t = thresholds[np.isfinite(thresholds) & (thresholds > 0)]
    floor = t.min() / 10**FLOOR_DECADES if t.size else np.median(v) / 10**(2 * FLOOR_DECADES)
    lo = max(v.min(), floor) / 1.25
    hi = max(v.max(), t.max() if t.size else 0) * 1.25
    return lo, hi


def draw_curve(ax, x: np.ndarray, y: np.ndarray, few: np.ndarray, st: dict) -> None:
    """One median curve: a solid line with filled markers between points of most seeds, and the
    points over fewer than half the seeds (``few``, the curves' ``few_seeds``) as open markers on
    a dotted line through every point."""
    x, y, few = np.asarray(x, float), np.asarray(y, float), np.asarray(few, bool)
    ax.plot(x, y, color=st["color"], ls=":", lw=1.0)
    ax.plot(x, np.where(few, np.nan, y), color=st["color"], marker=st["marker"], ms=3, lw=1.2)
    ax.scatter(x[few], y[few], marker=st["marker"], s=9, facecolors="white",
               edgecolors=st["color"], linewidths=0.8, zorder=3)


def draw_medians(ax, data: pd.DataFrame, x: str, styles: dict, floor: float) -> None:
    """Every learner's median curve of one panel against column ``x`` (n, or kappa): the
    inter-quartile band, the median (:func:`draw_curve`), medians below ``floor`` drawn on it as
    open triangles."""
    for label, g in data.groupby("label", sort=True):
        st, g = styles[label], g.sort_values(x)
        med = g["median"].to_numpy(float)
        ax.fill_between(g[x], np.maximum(g["q25"], floor), np.maximum(g["q75"], floor),
                        color=st["color"], alpha=0.18, lw=0)
        draw_curve(ax, g[x], np.maximum(med, floor), g["few_seeds"], st)
        below = med < floor
        if below.any():
            ax.scatter(g[x].to_numpy()[below], np.full(below.sum(), floor), marker="v", s=28,
                       facecolors="white", edgecolors=st["color"], zorder=4, clip_on=False)


def facet_titles(grid: sns.FacetGrid, short: dict[str, str]) -> None:
    """Panel titles of a (task configuration x d) grid: "p = 4, d = 16", naming only what
    differs between the configurations (``short`` from :func:`reports.tables.config_titles`)."""
    for (row, col), ax in grid.axes_dict.items():
        ax.set_title(f"{short.get(row, '')}, d = {col}" if short.get(row) else f"d = {col}")


BELOW_KEY = ("below the axis", {"color": GREY, "marker": "v", "ls": "", "mfc": "white"})
FEW_SEEDS_KEY = ("< half the seeds", {"color": GREY, "marker": "o", "ls": ":", "mfc": "white",
                                      "ms": 3})
FEW_SEEDS_TEXT = ("open markers on a dotted line: medians over fewer than half the seeds (the "
                  "adaptive search had stopped the others after two passes below eps, so these "
                  "are the slowest seeds, or they failed there)")


def learning_curve_figures(a: Analysis, out: Path) -> list[Figure]:
    """One figure per task name: rows = task configurations, columns = d."""
    styles, figs = run_styles(a), []
    curves = a.curves[a.curves["n_ok"] > 0]
    thr = a.complexity.groupby(["task_label", "d"])["threshold"].median()
    for task, c in curves.groupby("task", sort=True):
        labels = sorted(c["label"].unique())
        short, const = config_titles(a.records, task)
        t_here = thr[thr.index.get_level_values(0).isin(c["task_label"].unique())].to_numpy()
        lo, hi = curve_limits(c["median"].to_numpy(float), np.asarray(t_here, float))
        grid = sns.FacetGrid(c, row="task_label", col="d", height=2.2, aspect=1.25,
                             sharey=True, despine=False, margin_titles=False)

        def draw(data: pd.DataFrame, floor: float = lo, **_kw) -> None:
            ax = plt.gca()
            draw_medians(ax, data, "n", styles, floor)
            t = thr.get((data["task_label"].iloc[0], data["d"].iloc[0]), np.nan)
            if np.isfinite(t):
                ax.axhline(t, color=GREY, ls="--", lw=0.8)

        grid.map_dataframe(draw)
        loglog(grid)
        grid.set(ylim=(lo, hi))
        facet_titles(grid, short)
        grid.set_axis_labels("n (training samples)", "test error (nMSE)")
        learner_legend(grid, styles, labels, [
            ("eps threshold", {"color": GREY, "ls": "--"}), BELOW_KEY,
            *([FEW_SEEDS_KEY] if c["few_seeds"].any() else [])])
        title = f"Learning curves: {task}" + (f" ({const})" if const else "")
        figs.append(save_figure(grid, out, f"learning_curves_{slug(task)}", title,
                                "Median test error over seeds against n, with the "
                                "inter-quartile range as a band; dashed: the eps threshold (for "
                                "relative eps, its median over the seeds' teachers); open "
                                "triangles on the lower edge: medians below the axis range "
                                f"(more than {FLOOR_DECADES:g} decades under the threshold); "
                                f"{FEW_SEEDS_TEXT}. Log-log axes."))
    return figs


def _fit_line(ax, row: pd.Series, ds: np.ndarray, color, slope_col: str, icpt: float) -> None:
    if row[f"{slope_col}_kind"] == "not estimable" or not np.isfinite(icpt):
        return
    x = np.geomspace(ds.min(), ds.max(), 20)
    ax.plot(x, np.exp(icpt) * x ** row[slope_col], color=color, lw=1.2)


def _theory_line(ax, beta: float, ds: np.ndarray, y: np.ndarray, color) -> None:
    """Dashed line of slope ``beta`` through the geometric mean of the points."""
    ok = np.isfinite(y) & (y > 0)
    if not np.isfinite(beta) or ok.sum() == 0:
        return
    x0, y0 = np.exp(np.log(ds[ok]).mean()), np.exp(np.log(y[ok]).mean())
    x = np.geomspace(ds.min(), ds.max(), 20)
    ax.plot(x, y0 * (x / x0) ** beta, color=color, lw=1.0, ls="--", alpha=0.8)


def _scaling_figures(a: Analysis, out: Path, value: str, slope: str, what: str,
                     ylabel: str) -> list[Figure]:
    """n* or t* against d per task name, one panel per task configuration."""
    styles, figs = run_styles(a), []
    sc = a.complexity[np.isfinite(a.complexity[value].astype(float))]
    exp = a.exponents.set_index(["task_label", "label"]) if len(a.exponents) else None
    for task, c in sc.groupby("task", sort=True):
        labels = sorted(c["label"].unique())
        short, const = config_titles(a.records, task)
        grid = d_grid(c)

        def draw(data: pd.DataFrame, **_kw) -> None:
            ax = plt.gca()
            for label, g in data.groupby("label", sort=True):
                st, g = styles[label], g.sort_values("d")
                ds, y = g["d"].to_numpy(float), g[value].to_numpy(float)
                ax.scatter(ds, y, color=st["color"], marker=st["marker"], s=18, zorder=3)
                for x_, y_, b in zip(ds, y, g["bound"], strict=True):
                    if b in (1.0, -1.0):
                        _arrow(ax, x_, y_, b, st["color"])
                key = (data["task_label"].iloc[0], label)
                if exp is not None and key in exp.index:
                    row = exp.loc[key]
                    icpt = row["intercept"] if slope == "beta" else _intercept(ds, y, row[slope])
                    _fit_line(ax, row, ds, st["color"], slope, icpt)
                    if slope == "beta":
                        _theory_line(ax, row["theory_beta"], ds, y, st["color"])

        extra = [("fit", {"color": GREY}),
                 ("censored (> value)", {"color": GREY, "marker": "^", "ls": ""}),
                 ("at grid min (<= value)", {"color": GREY, "marker": "v", "ls": ""})]
        if slope == "beta":
            extra.insert(1, ("theory slope", {"color": GREY, "ls": "--"}))
        titles = {lab: short.get(lab) or task for lab in grid.axes_dict}
        finish_d_grid(grid, draw, c["d"], titles, ylabel, styles, labels, extra)
        name = f"{what}_vs_d_{slug(task)}"
        title = f"{ylabel} against d: {task}" + (f" ({const})" if const else "")
        figs.append(save_figure(grid, out, name, title,
                                f"{ylabel} per learner against d (log-log) with the "
                                "least-squares fit; arrows mark bounds (up: censored, n* > "
                                "value; down: reached at the grid's first point)"
                                + ("; dashed: the theory's slope for the learner's family."
                                   if slope == "beta" else ".")))
    return figs


def _intercept(ds: np.ndarray, y: np.ndarray, slope: float) -> float:
    """Least-squares intercept of log y on log d for a given slope (fit line of t*)."""
    ok = np.isfinite(y) & (y > 0)
    if not ok.any() or not np.isfinite(slope):
        return np.nan
    return float(np.mean(np.log(y[ok])) - slope * np.mean(np.log(ds[ok])))


def nstar_figures(a: Analysis, out: Path) -> list[Figure]:
    return _scaling_figures(a, out, "nstar", "beta", "nstar", "n*(eps)")


def time_figures(a: Analysis, out: Path) -> list[Figure]:
    return _scaling_figures(a, out, "t_wall", "gamma_wall", "time", "t*(eps) wall [s]")


def verdict_frame(a: Analysis) -> pd.DataFrame:
    """Exponent rows with an estimable beta in task families with >= 2 index values."""
    exp = a.exponents
    if exp.empty or "index_param" not in exp:
        return exp.iloc[0:0]
    fam = exp[exp["index_param"].notna() & exp["beta"].notna()
              & (exp["beta_kind"] != "not estimable")].copy()
    fam["index"] = pd.to_numeric(fam["hierarchy_index"], errors="coerce")
    n_idx = fam.groupby("family_key")["index"].transform("nunique")
    return fam[n_idx >= 2]


def verdict_figures(a: Analysis, out: Path) -> list[Figure]:
    """The verdict figure: beta against the depth/degree index, one panel per task family."""
    fam = verdict_frame(a)
    if fam.empty:
        return []
    styles = run_styles(a)
    keys = sorted(fam["family_key"].unique())
    ncol = min(3, len(keys))
    nrow = int(np.ceil(len(keys) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    finite_d = "theory_slope" in fam.columns
    labels_all = by_family(fam["label"].unique(), styles)
    for ax, key in zip(axes.ravel(), keys, strict=False):
        f = fam[fam["family_key"] == key]
        labels = sorted(f["label"].unique())
        width = 0.04 * (f["index"].max() - f["index"].min())
        for i, label in enumerate(labels):
            g = f[f["label"] == label].sort_values("index")
            _draw_beta(ax, g, styles[label], (i - (len(labels) - 1) / 2) * width, finite_d)
        ax.set_xlabel(f"{f['index_param'].iloc[0]} (depth/degree index)")
        ax.set_ylabel("beta  (n* ~ d^beta)")
        ax.set_xticks(sorted(f["index"].unique()))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_title(family_title(key))
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=styles[lab]["color"], marker=styles[lab]["marker"],
                      label=lab) for lab in labels_all]
    handles += [Line2D([], [], color=GREY, ls="--", label="theory (d -> inf)")]
    if finite_d:
        handles += [Line2D([], [], color=GREY, ls=":", label="theory at the run's d")]
    handles += [Line2D([], [], color=GREY, marker="^", ls="", mfc="none", label="lower bound"),
                Line2D([], [], color=GREY, marker="v", ls="", mfc="none", label="upper bound")]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               title="learner", fontsize=8, title_fontsize=8)
    fig.tight_layout()
    return [save_figure(fig, out, "verdict", "Does beta grow with depth/degree?",
                        "Fitted beta (n* ~ d^beta) with its 95 % bootstrap CI per learner "
                        "against the task family's depth/degree index (learners offset "
                        "slightly in x to keep the intervals apart); open triangles: bounds "
                        "(up: lower, down: upper); dashed: the theory's asymptotic beta"
                        + ("; dotted: the theory's finite-d slope over the run's d range."
                           if finite_d else "."))]


def _draw_beta(ax, g: pd.DataFrame, st: dict, dx: float, finite_d: bool) -> None:
    x, y = g["index"].to_numpy(float) + dx, g["beta"].to_numpy(float)
    err = np.vstack([np.clip(y - g["beta_lo"], 0, None), np.clip(g["beta_hi"] - y, 0, None)])
    ax.errorbar(x, y, yerr=np.nan_to_num(err), color=st["color"], marker=st["marker"], ms=4,
                capsize=3, lw=1.2)
    for kind, mk in (("lower bound", "^"), ("upper bound", "v")):
        sel = (g["beta_kind"] == kind).to_numpy()
        ax.scatter(x[sel], y[sel], marker=mk, s=70, facecolors="none", edgecolors=st["color"])
    th = pd.to_numeric(g["theory_beta"], errors="coerce").to_numpy(float)
    if np.isfinite(th).any():
        ax.plot(x, th, color=st["color"], ls="--", lw=1.0, alpha=0.8)
    if finite_d:
        ts = pd.to_numeric(g["theory_slope"], errors="coerce").to_numpy(float)
        if np.isfinite(ts).any():
            ax.plot(x, ts, color=st["color"], ls=":", lw=1.2, alpha=0.9)


def headline_figure(figs: dict[str, list[Figure]]) -> Figure | None:
    """The figure of the first screen: the verdict figure, else the first n* figure."""
    for section in ("verdict", "nstar", "curves"):
        if figs.get(section):
            return figs[section][0]
    return None


def all_figures(a: Analysis, out: Path) -> dict[str, list[Figure]]:
    """Every figure of the report, by section."""
    apply_style()
    out.mkdir(parents=True, exist_ok=True)
    (out / "text_boxes.json").unlink(missing_ok=True)
    return {"verdict": verdict_figures(a, out), "curves": learning_curve_figures(a, out),
            "nstar": nstar_figures(a, out), "time": time_figures(a, out)}
