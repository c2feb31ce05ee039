"""Finite-d theory curves and slopes, the kernel degree from the energies, kappa tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analysis import analyse_run
from harness.analysis.theory import (
    count_polys,
    kernel_degree,
    kernel_thresholds,
    prediction,
    slope_over,
    task_degrees,
)
from harness.experiment import Eps
from reports.synthetic import Law, SynthTask, n_grid, synthetic_run

QUICK_D = np.array([8, 12, 16, 24])
REL = Eps(kind="relative", value=0.5)


@pytest.mark.parametrize("task, params, learner, family, formula, slope", [
    # the local slopes over d = 8..24 quoted in the issue: C(d+4,4) 3.39, C(d+3,3) 2.62,
    # Damian's 2 d^2 + 16 d 1.63 (r = 2, p = 4)
    ("multi_index", {"r": 2, "p": 4}, "krr", "non-hierarchical", "C(d+4, 4)", 3.389),
    ("multi_index", {"r": 2, "p": 3}, "krr", "non-hierarchical", "C(d+3, 3)", 2.618),
    ("multi_index", {"r": 2, "p": 2}, "krr", "non-hierarchical", "C(d+2, 2)", 1.800),
    ("multi_index", {"r": 2, "p": 4}, "two_layer", "hierarchical",
     "d^2*2 + d*2^4 (Damian et al.)", 1.631),
    ("hier_poly", {"k": 2, "q": 2}, "three_layer", "layerwise", "d^2 (Wang, Nichani & Lee)", 2.0),
    ("staircase", {"D": 3}, "two_layer", "hierarchical", "d^1 (Abbe et al., leap 1)", 1.0),
])
def test_theory_slopes_over_the_quick_grid(task, params, learner, family, formula, slope):
    pred = prediction(task, params, {}, learner, family, REL)
    assert pred.formula == formula
    assert slope_over(pred, QUICK_D) == pytest.approx(slope, abs=1e-3)


def test_no_curve_where_no_paper_gives_one():
    for task in ("bfc", "multi_index", "hier_poly"):
        pred = prediction(task, {"L": 2}, {}, "bfc_net", "hierarchical", REL)
        assert pred.curve is None and pred.formula.startswith("none:")
        assert np.isnan(slope_over(pred, QUICK_D))


def test_polynomial_counts_against_enumeration():
    d, q = 5, 3
    monomials = sum(1 for a in np.ndindex(*(q + 1,) * d) if sum(a) <= q)
    assert count_polys([d], q, cube=False)[0] == monomials == math.comb(d + q, q)
    multilinear = sum(1 for a in np.ndindex(*(2,) * d) if sum(a) <= q)
    assert count_polys([d], q, cube=True)[0] == multilinear


def test_kernel_degree_from_the_energies():
    info = {"q_low": 2, "degree": 4, "energy_by_degree": [0, 0, 0.5, 0.1, 0.4]}
    deg = task_degrees("multi_index", {"p": 4}, info)
    assert deg.source == "task_info"
    # relative 0.5: (1 - 0.5) of E_top = 0.25 needs degree 4 (degree 3 carries only 0.1)
    assert kernel_degree(deg, REL) == 4
    assert kernel_degree(deg, Eps(kind="relative", value=0.9)) == 3
    # absolute 0.45: the energy above degree 3 (0.4) is below it
    assert kernel_degree(deg, Eps(value=0.45)) == 3
    # fallback without task_info: multi_index p = 4 has no degree-3 energy
    assert kernel_degree(task_degrees("multi_index", {"p": 4}, {}), REL) == 4
    assert kernel_degree(task_degrees("bfc", {"L": 3}, {}), REL) == 5  # q_low + 1 = 2^2 + 1


def test_kernel_thresholds_in_kappa():
    th = dict(kernel_thresholds("multi_index", {"p": 4}, {}, 8))
    assert list(th) == [1, 2, 3, 4]
    assert th[2] == pytest.approx(math.log(45) / math.log(8))


def test_theory_columns_and_kappa_tables_of_a_run(tmp_path):
    task = SynthTask("multi_index", {"p": 4, "r": 2}, "p", 0.5, q_low=2, degree=4)
    synthetic_run(tmp_path, [task], [Law("krr", coef=0.5, beta=3.4, noise=0.05)],
                  ds=[8, 12, 16, 24], seeds=[0, 1, 2], grid=n_grid(16, 2**18),
                  eps={"kind": "relative", "value": 0.5})
    a = analyse_run(tmp_path, n_boot=50)
    e = a.exponents.iloc[0]
    assert e["theory_formula"] == "C(d+3, 3)"  # no energies in this task_info: q_low + 1
    assert e["theory_slope"] == pytest.approx(2.618, abs=1e-3) and e["theory_asymptotic"] == 3
    k = a.kappa
    assert np.allclose(k["kappa"], np.log(k["n"]) / np.log(k["d"]))
    assert set(a.kappa_thresholds["q"]) == {1, 2, 3, 4}
    assert set(a.theory["d"]) == {8, 12, 16, 24}


def test_kernel_degree_does_not_depend_on_record_order():
    """Two teachers whose energies above q_low put the eps crossing at different degrees: the
    theory uses their mean, whichever record comes first."""
    import pandas as pd

    from harness.analysis.theory import pooled_info

    info = [{"q_low": 2, "degree": 4, "energy_by_degree": e}
            for e in ([0, 0, 0.5, 0.26, 0.24], [0, 0, 0.5, 0.22, 0.28])]
    g = pd.DataFrame({"d": [8, 8], "seed": [0, 1], "task_info": info})
    a, b = pooled_info(g), pooled_info(g.iloc[::-1])
    assert a["energy_by_degree"] == b["energy_by_degree"]
    assert np.allclose(a["energy_by_degree"], [0, 0, 0.5, 0.24, 0.26])
