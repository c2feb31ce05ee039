"""The report's headline (the paired kernel-minus-deep contrast), the exponents beside the finite-d
theory, n* against d with the theory curves, and test error against kappa = log n / log d.

Everything here renders tables that :mod:`harness.analysis` computed (``Analysis.contrast``,
``Analysis.exponents``' theory columns, ``Analysis.theory``, ``Analysis.kappa``,
``Analysis.kappa_thresholds``); the definitions are docs/metrics.md's.  :func:`headline_blocks`
and :func:`theory_blocks` return report blocks; :func:`contrast_figures` the figures (PNG + SVG);
:func:`write_contrast_csvs` the new tables as CSV.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from harness.analysis import Analysis
from reports import tables as T
from reports.figures import (
    BELOW_KEY,
    FEW_SEEDS_KEY,
    FEW_SEEDS_TEXT,
    Figure,
    curve_limits,
    d_grid,
    draw_medians,
    facet_titles,
    finish_d_grid,
    learner_legend,
    run_styles,
    save_figure,
)
from reports.style import slug

CI_TEXT = ("95 % intervals: the hull of a studentised bootstrap over seeds (teachers, paired "
           "across learners) and the likelihood's Wald interval")


def definitions_text() -> str:
    """The definitions paragraph of the report (docs/metrics.md in brief)."""
    return (
        "Definitions (docs/metrics.md): test error = normalised MSE on a fixed noiseless test "
        "set. A seed reaches eps at n when its error is <= eps there AND at the next grid point "
        "(one lucky dip does not count; a single pass at the top of the grid is unconfirmed). "
        "n*(eps) = smallest such n on the grid for the median error over seeds (relative eps: "
        "median over seeds of error / (eps x top_share) <= 1), refined by log-log interpolation "
        "between the last failing and first passing grid points; if none, n* > the last failing "
        "n (right-censored, kept as a lower bound). t*(eps) = fit wall / CPU seconds at n*. "
        "beta: maximum likelihood of log n* = a + beta log d + sigma z over every seed's n* as an "
        "interval between its last failing and first passing grid points (right-censored above "
        "the largest n within budget, left-censored below n_min); not estimable only when the "
        f"likelihood does not pin beta; a bound when it pins one side only. {CI_TEXT}. "
        "Finite-d theory slope: the least-squares slope over the run's d values of the curve the "
        "theory predicts at finite d."
    )


def verdict_rule_text(min_growth: float) -> str:
    """The verdict rule in words (identical in docs/metrics.md)."""
    m = f"{min_growth:g}"
    return (
        "Verdict rule (one threshold, symmetric): s = least-squares slope of beta against the "
        "depth/degree index over the index values with an estimable beta. 'grows' when the CI "
        f"of s lies above {m} per unit of index (and s is exact or a lower bound); 'bounded' "
        f"when it lies below {m} (and s is exact or an upper bound); otherwise 'not enough "
        "evidence'."
    )


def _ci(x, lo, hi, digits: int = 2) -> str:
    vals = [float(v) if v is not None and not pd.isna(v) else np.nan for v in (x, lo, hi)]
    if not np.isfinite(vals[0]):
        return ""
    ci = f" [{vals[1]:.{digits}f}, {vals[2]:.{digits}f}]" if np.isfinite(vals[1]) else ""
    return f"{vals[0]:.{digits}f}{ci}"


def contrast_table(a: Analysis) -> pd.DataFrame:
    """Display table of ``Analysis.contrast``: one row per (task family, kernel learner)."""
    c = a.contrast
    cols = ["task family", "index", "learner", "growth of beta [CI]", "reference",
            "reference growth [CI]", "difference [CI]", "verdict", "why"]
    if c is None or c.empty:
        return pd.DataFrame(columns=cols)
    prefix = {"lower bound": "> ", "upper bound": "< "}
    rows = [[T.family_title(r["family_key"]), r["index_param"], r["label"],
             _ci(r["growth"], r["growth_lo"], r["growth_hi"]), r["reference"],
             _ci(r["reference_growth"], r["reference_lo"], r["reference_hi"]),
             (prefix.get(r["diff_kind"], "") if isinstance(r["diff_kind"], str) else "")
             + _ci(r["difference"], r["diff_lo"], r["diff_hi"]), r["verdict"], r["reason"]]
            for _, r in c.iterrows()]
    return pd.DataFrame(rows, columns=cols)


def comparisons_text(a: Analysis) -> str:
    """How many comparisons the report makes, and what that means for chance findings."""
    n_c = len(a.contrast) if a.contrast is not None else 0
    v = a.verdicts
    n_v = int((~v["reason"].astype(str).str.startswith("one index value")).sum()) if len(v) else 0
    n_p = len(a.paired_beta)
    total = n_c + n_v
    return (
        f"This report makes {total} decisions at 95 %: {n_c} contrast{'s' if n_c != 1 else ''} "
        f"(the headline) and {n_v} per-learner verdict{'s' if n_v != 1 else ''}, plus {n_p} "
        "pairwise delta-beta intervals shown without a decision. No correction for multiplicity "
        f"is applied: among {total} comparisons whose true answer sits at the threshold, about "
        f"{0.05 * total:.1f} would cross it by chance; read single calls in that light."
    )


def headline_blocks(a: Analysis) -> list[tuple[str, object]]:
    """The report's opening section: the paired contrast table and what it says."""
    ref = a.reference or "(none in the run)"
    blocks: list[tuple[str, object]] = [
        ("h2", "Headline: does a kernel's beta grow faster with depth/degree than a deep net's?"),
        ("p", f"For each task family swept over its depth/degree index and each non-hierarchical "
              f"learner: its growth of beta per unit of index minus that of the reference "
              f"end-to-end deep learner, {ref} (spec key verdict.reference; default the first "
              f"learner of family 'hierarchical'). The bootstrap resamples the same seeds "
              f"(teachers) for both learners. 'separation' when the CI of the difference lies "
              f"above min_growth = {a.min_growth:g} per unit of index, 'no separation' when it "
              f"lies below, otherwise 'not enough evidence'. {CI_TEXT}."),
    ]
    table = contrast_table(a)
    if table.empty:
        blocks.append(("note", "No contrast: the run sweeps no task family over two or more "
                               "index values with a non-hierarchical learner and a reference "
                               "deep learner."))
    else:
        blocks.append(("table", table))
    blocks.append(("p", comparisons_text(a)))
    return blocks


def theory_table(a: Analysis) -> pd.DataFrame:
    """Measured beta beside the finite-d theory slope over the same d values."""
    e = a.exponents
    cols = ["task", "learner", "family", "beta [95% CI]", "finite-d theory slope",
            "asymptotic exponent", "theory curve", "d values"]
    if e.empty or "theory_slope" not in e:
        return pd.DataFrame(columns=cols)
    rows = [[r["task_label"], r["label"], r["family"], r["beta_text"],
             "" if pd.isna(r["theory_slope"]) else f"{r['theory_slope']:.2f}",
             "" if pd.isna(r["theory_asymptotic"]) else f"{r['theory_asymptotic']:g}",
             r["theory_formula"], r["d_values"]] for _, r in e.iterrows()]
    return pd.DataFrame(rows, columns=cols)


def theory_blocks(a: Analysis, figs: dict) -> list[tuple[str, object]]:
    """Exponents beside the finite-d theory, with the n*-vs-d theory figures."""
    blocks: list[tuple[str, object]] = [
        ("h3", "Measured beta beside the finite-d theory"),
        ("p", "The slope over the run's own d values of the curve each theory predicts at finite "
              "d (kernels: the number of polynomials of the degree needed to reach eps, "
              "C(d+q, q); Damian et al.'s two-layer nets: d^2 r + d r^p; Wang, Nichani & Lee's "
              "three-layer nets: d^k; 'none' where no paper gives a curve), next to the "
              "asymptotic exponent. A measured beta is compared with the finite-d slope."),
        ("table", theory_table(a)),
    ]
    blocks += [("figure", f) for f in figs.get("nstar_theory", [])]
    return blocks


def kappa_blocks(figs: dict) -> list[tuple[str, object]]:
    """Test error against kappa = log n / log d, with the kernel thresholds."""
    figures = figs.get("kappa", [])
    if not figures:
        return [("note", "No learning curve at d >= 2: no kappa figure.")]
    return [("h3", "Test error against kappa = log n / log d"),
            ("p", "The field's own axis (Ghorbani et al. 2019; Dandi et al. 2025): a kernel "
                  "learns degree q once kappa exceeds kappa_q = log C(d+q, q) / log d (dotted "
                  "verticals, labelled by q)."),
            *[("figure", f) for f in figures]]


def nstar_theory_figures(a: Analysis, out: Path) -> list[Figure]:
    """Per task: median n* per learner against d (log-log; open markers: censored), the fitted
    power law (solid) and the finite-d theory curve (dashed, through the geometric mean of the
    learner's n*: the papers leave the constant open)."""
    sc = a.complexity[np.isfinite(a.complexity["nstar"].astype(float))] if len(
        a.complexity) else a.complexity
    th = a.theory
    if sc.empty or th is None or th.empty:
        return []
    styles, figs = run_styles(a), []
    exp = a.exponents.set_index(["task_label", "label"])
    for task, c in sc.groupby("task", sort=True):
        labels = sorted(set(c["label"]) & set(th["label"]))
        c = c[c["label"].isin(labels)]
        if c.empty:
            continue
        grid = d_grid(c, aspect=1.1)

        def draw(data: pd.DataFrame, **_kw) -> None:
            ax = plt.gca()
            tl = data["task_label"].iloc[0]
            for label, g in data.groupby("label", sort=True):
                st, g = styles[label], g.sort_values("d")
                ds, y = g["d"].to_numpy(float), g["nstar"].to_numpy(float)
                cens = (g["bound"] == 1).to_numpy()
                ax.scatter(ds[~cens], y[~cens], color=st["color"], marker=st["marker"], s=18)
                ax.scatter(ds[cens], y[cens], facecolors="none", edgecolors=st["color"],
                           marker=st["marker"], s=22)
                if (tl, label) in exp.index:
                    r = exp.loc[(tl, label)]
                    if r["beta_kind"] == "estimate" and np.isfinite(r["intercept"]):
                        x = np.geomspace(ds.min(), ds.max(), 20)
                        ax.plot(x, np.exp(r["intercept"]) * x ** r["beta"], color=st["color"],
                                lw=1.1)
                t = th[(th["task_label"] == tl) & (th["label"] == label)].sort_values("d")
                if len(t) and np.isfinite(y).any():
                    shift = np.exp(np.nanmean(np.log(y)) - np.mean(np.log(t["n_theory"])))
                    ax.plot(t["d"], shift * t["n_theory"], color=st["color"], ls="--", lw=1.0)

        finish_d_grid(grid, draw, c["d"], "{col_name}", "n*(eps)", styles, labels,
                      [("ML fit", {"color": "0.3"}),
                       ("finite-d theory", {"color": "0.3", "ls": "--"})])
        figs.append(save_figure(
            grid, out, f"nstar_theory_{slug(task)}", f"n* against d with finite-d theory: {task}",
            "Median n* per learner (open markers: censored, n* > value), the censored-ML power "
            "law (solid) and the finite-d theory curve of the learner's family (dashed, shifted "
            "through the geometric mean of the learner's n*: only its shape is predicted)."))
    return figs


def kappa_figures(a: Analysis, out: Path) -> list[Figure]:
    """Per task: median test error against kappa, rows = task configurations, columns = d; the
    learning-curve figure's conventions (band, y floor, short panel titles)."""
    k = a.kappa
    if k is None or k.empty:
        return []
    styles, figs = run_styles(a), []
    thr = a.kappa_thresholds
    for task, c in k.groupby("task", sort=True):
        labels = sorted(c["label"].unique())
        short, const = T.config_titles(a.records, task)
        lo, hi = curve_limits(c["median"].to_numpy(float), c["threshold"].to_numpy(float))
        grid = sns.FacetGrid(c, row="task_label", col="d", height=2.3, aspect=1.2,
                             sharey=True, sharex=False, despine=False, margin_titles=False)

        def draw(data: pd.DataFrame, floor: float = lo, **_kw) -> None:
            ax = plt.gca()
            draw_medians(ax, data, "kappa", styles, floor)
            tl, d = data["task_label"].iloc[0], data["d"].iloc[0]
            t = data["threshold"].median()
            if np.isfinite(t):
                ax.axhline(t, color="0.3", ls="--", lw=0.8)
            rows = thr[(thr["task_label"] == tl) & (thr["d"] == d)] if len(thr) else thr
            lo, hi = data["kappa"].min(), data["kappa"].max()
            for _, r in rows.iterrows():
                if lo - 0.5 <= r["kappa_q"] <= hi + 0.5:
                    ax.axvline(r["kappa_q"], color="0.5", ls=":", lw=0.9)
                    ax.text(r["kappa_q"], 1.0, f" q={int(r['q'])}", fontsize=6, color="0.4",
                            transform=ax.get_xaxis_transform(), va="top")

        grid.map_dataframe(draw)
        for ax in np.ravel(grid.axes):
            ax.set_yscale("log")
        grid.set(ylim=(lo, hi))
        facet_titles(grid, short)
        grid.set_axis_labels("kappa = log n / log d", "test error (normalised MSE)")
        learner_legend(grid, styles, labels, [
            ("eps threshold", {"color": "0.3", "ls": "--"}),
            ("kernel threshold kappa_q", {"color": "0.5", "ls": ":"}), BELOW_KEY,
            *([FEW_SEEDS_KEY] if c["few_seeds"].any() else [])])
        title = f"Test error against kappa = log n / log d: {task}" + (
            f" ({const})" if const else "")
        figs.append(save_figure(
            grid, out, f"kappa_{slug(task)}", title,
            "Median test error over seeds against kappa = log n / log d, with the "
            "inter-quartile range as a band, one panel per task configuration and d; dotted: "
            "the kernel thresholds kappa_q = log C(d+q, q) / log d (on the cube log "
            "sum_{k<=q} C(d, k) / log d); dashed: the eps threshold; open triangles on the "
            f"lower edge: medians below the axis range; {FEW_SEEDS_TEXT}."))
    return figs


def contrast_figures(a: Analysis, out: Path) -> dict[str, list[Figure]]:
    """The figures of this module, by name (added to the report's figure dict)."""
    return {"nstar_theory": nstar_theory_figures(a, out), "kappa": kappa_figures(a, out)}


def write_contrast_csvs(a: Analysis, out: Path) -> dict[str, Path]:
    """contrast.csv, kappa.csv, kappa_thresholds.csv, theory.csv (numbers in full)."""
    out.mkdir(parents=True, exist_ok=True)
    frames = {"contrast": a.contrast, "kappa": a.kappa, "kappa_thresholds": a.kappa_thresholds,
              "theory": a.theory, "contrast_table": contrast_table(a)}
    paths = {}
    for name, frame in frames.items():
        paths[name] = out / f"{name}.csv"
        (frame if frame is not None else pd.DataFrame()).to_csv(paths[name], index=False)
    return paths
