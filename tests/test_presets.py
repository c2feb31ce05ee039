"""Every shipped preset validates (keys, task and learner names and parameters) and plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.experiment import load_spec, plan, preset_names

PAPER = {"paper-bfc", "paper-damian", "paper-wang", "paper-staircase"}


def test_shipped_presets():
    assert {"smoke", "quick", "full"} | PAPER <= set(preset_names())


@pytest.mark.parametrize("name", sorted({"smoke", "quick", "full"} | PAPER))
def test_preset_is_valid(name):
    spec = load_spec(name)
    series = plan(spec)
    assert series and all(s.jobs for s in series)
    assert len({s.key for s in series}) == len(series)


def test_quick_covers_the_comparison_the_readme_promises():
    """Every family, two index values of the same eps meaning, a d span >= 2.5, >= 5 seeds."""
    spec = load_spec("quick")
    learners = {lr.name for lr in spec.learners}
    assert {"krr", "ntk", "random_features", "poly_features", "mlp", "bfc_net", "layerwise",
            "two_layer"} <= learners
    instances = {label for t in spec.tasks for label, _ in t.instances()}
    assert any("p=3" in i for i in instances) and any("p=4" in i for i in instances)
    assert all(len(t.d) >= 4 and max(t.d) >= 2.5 * min(t.d) for t in spec.tasks)
    assert len(spec.seeds) >= 5 and spec.verdict.reference == "bfc_net"
    assert spec.eps.kind == "relative" and spec.eps.value < 1.0


def test_quick_runs_on_seeds_its_pilot_never_used():
    """Preregistration: the grids were chosen on the pilot's seeds; quick must not reuse them."""
    pilot = load_spec(str(Path(__file__).parents[1] / "benchmarks" / "specs" / "pilot_quick.toml"))
    assert not set(pilot.seeds) & set(load_spec("quick").seeds)
