"""The d^omega(1) verdict on synthetic exponents that grow, stay flat, are noisy, or are bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import exponents, load_records, verdicts
from harness.analysis_verdict import decide
from reports.synthetic import demo_run


def exp_frame(label: str, betas, sd: float, kinds=None, family="non-hierarchical",
              indices=(2, 3, 4), seed=0) -> pd.DataFrame:
    """Exponent rows of one learner over a family indexed by p, with normal bootstrap draws."""
    rng = np.random.default_rng(seed)
    kinds = kinds or ["estimate"] * len(betas)
    return pd.DataFrame({
        "family_key": 'toy{"r": 2}', "task": "toy", "task_label": [f"toy(p={i})" for i in indices],
        "index_param": "p", "hierarchy_index": [float(i) for i in indices], "label": label,
        "learner": label, "family": family, "beta": betas, "beta_kind": kinds,
        "beta_text": [f"{b:.2f}" for b in betas],
        "beta_boot": [b + sd * rng.standard_normal(500) for b in betas],
    })


def verdict_of(df: pd.DataFrame) -> pd.Series:
    v = verdicts(df)
    assert len(v) == 1
    return v.iloc[0]


def test_growing_exponent():
    v = verdict_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.1))
    assert v["verdict"] == "grows" and v["slope"] == pytest.approx(1.0)
    assert v["slope_lo"] > 0 and v["delta"] == pytest.approx(2.0)
    assert v["expected"] == "grows"


def test_flat_exponent_is_bounded():
    v = verdict_of(exp_frame("mlp", [1.5, 1.52, 1.49], sd=0.05, family="hierarchical"))
    assert v["verdict"] == "bounded" and v["slope_hi"] < 0.5
    assert v["expected"] == "bounded"


def test_noisy_exponent_is_not_enough_evidence():
    v = verdict_of(exp_frame("rf", [1.5, 2.0, 1.8], sd=1.0))
    assert v["verdict"] == "not enough evidence"
    assert "includes 0" in v["reason"]


def test_single_index_value_is_not_enough_evidence():
    v = verdict_of(exp_frame("krr", [2.0], sd=0.1, indices=(2,)))
    assert v["verdict"] == "not enough evidence" and "one index value" in v["reason"]


def test_not_estimable_betas_are_left_out():
    df = exp_frame("krr", [2.0, np.nan, 4.0], sd=0.1,
                   kinds=["estimate", "not estimable", "estimate"])
    v = verdict_of(df)
    assert v["verdict"] == "grows" and v["slope"] == pytest.approx(1.0)


def test_lower_bound_at_top_index_still_grows_but_cannot_be_bounded():
    grow = verdict_of(exp_frame("krr", [2.0, 3.0, 3.5], sd=0.1,
                                kinds=["estimate", "estimate", "lower bound"]))
    assert grow["verdict"] == "grows" and grow["slope_kind"] == "lower bound"
    flat = verdict_of(exp_frame("krr", [2.0, 2.0, 2.0], sd=0.05,
                                kinds=["estimate", "estimate", "lower bound"]))
    assert flat["verdict"] == "not enough evidence" and "lower bound" in flat["reason"]


def test_lower_bound_at_bottom_index_is_indeterminate():
    v = verdict_of(exp_frame("krr", [2.0, 3.0, 4.0], sd=0.1,
                             kinds=["lower bound", "estimate", "lower bound"]))
    assert v["slope_kind"] == "indeterminate" and v["verdict"] == "not enough evidence"


@pytest.mark.parametrize("s, lo, hi, kind, expected", [
    (1.0, 0.5, 1.5, 0.0, "grows"),
    (1.0, 0.5, 1.5, 1.0, "grows"),
    (1.0, 0.5, 1.5, -1.0, "not enough evidence"),
    (0.0, -0.2, 0.2, 0.0, "bounded"),
    (0.0, -0.2, 0.2, -1.0, "bounded"),
    (0.0, -0.2, 0.2, 1.0, "not enough evidence"),
    (0.3, -0.2, 0.8, 0.0, "not enough evidence"),
    (-1.0, -1.5, -0.5, 0.0, "bounded"),
])
def test_decide_rule(s, lo, hi, kind, expected):
    assert decide(s, lo, hi, kind, 0.5)[0] == expected


def test_verdicts_end_to_end(tmp_path):
    demo_run(tmp_path)
    exp = exponents(load_records(tmp_path), 0.1, n_boot=200)
    v = verdicts(exp).set_index("label")["verdict"]
    assert v.to_dict() == {"krr": "grows", "mean": "not enough evidence", "mlp": "bounded"}
