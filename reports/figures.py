"""The report's figures (seaborn FacetGrids, one style, one colour per learner family).

Every figure is saved as PNG and SVG; each function returns a list of :class:`Figure`.

* learning curves: median test error (line) and inter-quartile range (band) against n, faceted by
  task configuration x d, log-log, with the eps threshold dashed;
* n* against d, log-log: interpolated n* as markers, right-censored n* as upward arrows (n* >
  value), n* at the grid's first point as downward arrows (n* <= value), fitted n* = e^a d^beta
  solid, the theory's slope for the learner's family dashed;
* beta against the family's depth/degree index with CIs (the d^omega(1) picture);
* time-to-target t*(eps) against d, same conventions as n*.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogLocator, NullLocator

from harness.analysis import Analysis
from reports.style import apply_style, close, learner_styles, slug

ARROW = 1.9  # length of a censoring arrow, as a factor on the log axis


@dataclass
class Figure:
    """A saved figure: short name, title, caption and its two files."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path


def loglog(grid_or_ax) -> None:
    """Log-log axes with major decade ticks only (minor ticks cost much drawing time)."""
    axes = getattr(grid_or_ax, "axes", None)
    axes = np.ravel(axes) if axes is not None else [grid_or_ax]
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(base=10, numticks=6))
            axis.set_minor_locator(NullLocator())


def d_ticks(grid, ds) -> None:
    """Ticks at the d-grid's values (thinned to at most 6) on every panel's x axis."""
    ds = np.unique(np.asarray(ds, float))
    ds = ds[:: int(np.ceil(len(ds) / 6))] if len(ds) else ds
    for ax in np.ravel(grid.axes):
        ax.xaxis.set_major_locator(FixedLocator(ds))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))


def save_figure(grid_or_fig, out: Path, name: str, title: str, caption: str) -> Figure:
    """Save a figure (or seaborn grid) as PNG and SVG under ``out`` and close it."""
    fig = getattr(grid_or_fig, "figure", grid_or_fig)
    out.mkdir(parents=True, exist_ok=True)
    fig.suptitle(title, y=1.02, fontsize=10)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    fig.savefig(png)
    fig.savefig(svg)
    close(fig)
    return Figure(name, title, caption, png, svg)


def _legend(grid, styles: dict, labels: list[str], extra: list[tuple[str, dict]] = ()) -> None:
    handles = {lab: Line2D([], [], color=styles[lab]["color"], marker=styles[lab]["marker"],
                           label=lab) for lab in labels}
    for text, kw in extra:
        handles[text] = Line2D([], [], label=text, **kw)
    grid.add_legend(legend_data=handles, title="learner")


def _styles(a: Analysis) -> dict:
    df = a.records
    return learner_styles(zip(df["label"], df["family"], strict=True)) if len(df) else {}


def _arrow(ax, x: float, y: float, bound: float, color) -> None:
    """Up arrow for a lower bound (+1), down arrow for an upper bound (-1)."""
    tip = y * ARROW ** bound
    ax.annotate("", xy=(x, tip), xytext=(x, y), annotation_clip=False,
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.2})
    ax.scatter([x], [tip], s=0, alpha=0)  # keeps the tip inside the autoscaled limits


def learning_curve_figures(a: Analysis, out: Path) -> list[Figure]:
    """One figure per task name: rows = task configurations, columns = d."""
    styles, figs = _styles(a), []
    curves = a.curves[a.curves["n_ok"] > 0]
    thr = a.complexity.groupby(["task_label", "d"])["threshold"].median()
    for task, c in curves.groupby("task", sort=True):
        labels = sorted(c["label"].unique())
        grid = sns.FacetGrid(c, row="task_label", col="d", height=2.3, aspect=1.2,
                             sharey=True, despine=False)

        def draw(data: pd.DataFrame, **_kw) -> None:
            ax = plt.gca()
            for label, g in data.groupby("label", sort=True):
                st = styles[label]
                ax.fill_between(g["n"], g["q25"], g["q75"], color=st["color"], alpha=0.2, lw=0)
                ax.plot(g["n"], g["median"], color=st["color"], marker=st["marker"], ms=3, lw=1.2)
            t = thr.get((data["task_label"].iloc[0], data["d"].iloc[0]), np.nan)
            if np.isfinite(t):
                ax.axhline(t, color="0.3", ls="--", lw=0.8)

        grid.map_dataframe(draw)
        loglog(grid)
        grid.set_titles("{row_name}, d = {col_name}")
        grid.set_axis_labels("n (training samples)", "test error (normalised MSE)")
        _legend(grid, styles, labels, [("eps threshold", {"color": "0.3", "ls": "--"})])
        figs.append(save_figure(grid, out, f"learning_curves_{slug(task)}",
                          f"Learning curves: {task} (median over seeds, band = IQR)",
                          "Median test error over seeds against n, with the inter-quartile "
                          "range as a band; dashed: the eps threshold (for relative eps, its "
                          "median over the seeds' teachers). Log-log axes."))
    return figs


def _fit_line(ax, row: pd.Series, ds: np.ndarray, color, slope_col: str, icpt: float) -> None:
    if row[f"{slope_col}_kind"] == "not estimable" or not np.isfinite(icpt):
        return
    x = np.geomspace(ds.min(), ds.max(), 20)
    ax.plot(x, np.exp(icpt) * x ** row[slope_col], color=color, lw=1.2)


def _theory_line(ax, beta: float, ds: np.ndarray, y: np.ndarray, color) -> None:
    """Dashed line of slope ``beta`` through the geometric mean of the points."""
    ok = np.isfinite(y)
    if not np.isfinite(beta) or ok.sum() == 0:
        return
    x0, y0 = np.exp(np.log(ds[ok]).mean()), np.exp(np.log(y[ok]).mean())
    x = np.geomspace(ds.min(), ds.max(), 20)
    ax.plot(x, y0 * (x / x0) ** beta, color=color, lw=1.0, ls="--", alpha=0.8)


def _scaling_figures(a: Analysis, out: Path, value: str, slope: str, what: str,
                     ylabel: str) -> list[Figure]:
    """n* or t* against d per task name, one panel per task configuration."""
    styles, figs = _styles(a), []
    sc = a.complexity[np.isfinite(a.complexity[value].astype(float))]
    exp = a.exponents.set_index(["task_label", "label"]) if len(a.exponents) else None
    for task, c in sc.groupby("task", sort=True):
        labels = sorted(c["label"].unique())
        grid = sns.FacetGrid(c, col="task_label", col_wrap=min(3, c["task_label"].nunique()),
                             height=2.8, aspect=1.1, sharey=False, despine=False)

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

        grid.map_dataframe(draw)
        loglog(grid)
        d_ticks(grid, c["d"])
        grid.set_titles("{col_name}")
        grid.set_axis_labels("d (input dimension)", ylabel)
        extra = [("fit", {"color": "0.3"}),
                 ("censored (> value)", {"color": "0.3", "marker": "^", "ls": ""}),
                 ("at grid min (<= value)", {"color": "0.3", "marker": "v", "ls": ""})]
        if slope == "beta":
            extra.insert(1, ("theory slope", {"color": "0.3", "ls": "--"}))
        _legend(grid, styles, labels, extra)
        name, title = f"{what}_vs_d_{slug(task)}", f"{ylabel} against d: {task}"
        figs.append(save_figure(grid, out, name, title,
                          f"{ylabel} per learner against d (log-log) with the least-squares fit; "
                          "arrows mark bounds (up: censored, n* > value; down: reached at the "
                          "grid's first point)" + ("; dashed: the theory's slope for the "
                          "learner's family." if slope == "beta" else ".")))
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


def beta_index_figures(a: Analysis, out: Path) -> list[Figure]:
    """beta against the depth/degree index, one figure per task family with >= 2 index values."""
    exp = a.exponents
    if exp.empty or "index_param" not in exp:
        return []
    styles, figs = _styles(a), []
    fam = exp[exp["index_param"].notna() & exp["beta"].notna()
              & (exp["beta_kind"] != "not estimable")].copy()
    fam["index"] = pd.to_numeric(fam["hierarchy_index"], errors="coerce")
    verdict = (a.verdicts.set_index(["family_key", "label"])["verdict"]
               if len(a.verdicts) else pd.Series(dtype=object))
    for key, f in fam.groupby("family_key", sort=True):
        if f["index"].nunique() < 2:
            continue
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        for label, g in f.groupby("label", sort=True):
            _draw_beta(ax, g.sort_values("index"), styles[label],
                       f"{label}: {verdict.get((key, label), 'n/a')}")
        ax.set_xlabel(f"{f['index_param'].iloc[0]} (depth/degree index)")
        ax.set_ylabel("beta  (n* ~ d^beta)")
        ax.set_xticks(sorted(f["index"].unique()))
        ax.legend(fontsize=7, title="learner: verdict", title_fontsize=7)
        figs.append(save_figure(fig, out, f"beta_vs_index_{slug(key)}",
                          f"beta against {f['index_param'].iloc[0]}: {key}",
                          "Fitted beta with its bootstrap CI per learner against the family's "
                          "depth/degree; triangles up: lower bounds, down: upper bounds; dashed: "
                          "the theory's beta for the learner's family."))
    return figs


def _draw_beta(ax, g: pd.DataFrame, st: dict, legend: str) -> None:
    x, y = g["index"].to_numpy(float), g["beta"].to_numpy(float)
    err = np.vstack([np.clip(y - g["beta_lo"], 0, None), np.clip(g["beta_hi"] - y, 0, None)])
    ax.errorbar(x, y, yerr=np.nan_to_num(err), color=st["color"], marker=st["marker"], ms=4,
                capsize=3, lw=1.2, label=legend)
    for kind, mk in (("lower bound", "^"), ("upper bound", "v")):
        sel = (g["beta_kind"] == kind).to_numpy()
        ax.scatter(x[sel], y[sel], marker=mk, s=70, facecolors="none", edgecolors=st["color"])
    th = g["theory_beta"].to_numpy(float)
    if np.isfinite(th).any():
        ax.plot(x, th, color=st["color"], ls="--", lw=1.0, alpha=0.8)


def all_figures(a: Analysis, out: Path) -> dict[str, list[Figure]]:
    """Every figure of the report, by section."""
    apply_style()
    out.mkdir(parents=True, exist_ok=True)
    return {"curves": learning_curve_figures(a, out), "nstar": nstar_figures(a, out),
            "beta_index": beta_index_figures(a, out), "time": time_figures(a, out)}
