"""Spec validation: every mistake is one line naming the key; plans have stable keys."""

from __future__ import annotations

import pytest
from conftest import hierbench, write_spec

from harness.plan import plan
from harness.spec import SpecError, load_spec, parse_spec

BASE = """
name = "t"
seeds = 2
[n_grid]
n_min = 32
n_max = 128
[[tasks]]
name = "multi_index"
d = [4, 8]
params = { p = 2, r = 1 }
[[learners]]
name = "ridge"
"""


def _load(tmp_path, text):
    return load_spec(write_spec(tmp_path / "s.toml", text))


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("seeds = 2", "seeds = 2\nsedes = 3"), "sedes: unknown key"),
    (lambda s: s.replace("d = [4, 8]", "d = [4, 0]"),
     "tasks.0.d.1: Input should be greater than 0"),
    (lambda s: s.replace("d = [4, 8]", "d = [4, -8]"), "tasks.0.d.1"),
    (lambda s: s.replace("n_min = 32", "n_min = 512"), "n_grid: n_min (512) must be <= n_max"),
    (lambda s: s.replace("n_max = 128", 'n_max = "lots"'), "n_grid.n_max: Input should be"),
    (lambda s: s.replace('name = "ridge"', 'name = "ridgee"'),
     "learners.0 (ridgee): unknown learner 'ridgee' (did you mean 'ridge'?)"),
    (lambda s: s.replace('name = "ridge"', 'name = "ridge"\nparams = { alpha = 1 }'),
     "learners.0 (ridge): learner 'ridge'"),
    (lambda s: s.replace('name = "multi_index"', 'name = "multi_indx"'), "unknown task"),
    (lambda s: s.replace("p = 2, r = 1", "p = 2, r = 0"), "tasks.0 (multi_index)"),
    (lambda s: s.replace("seeds = 2", "seeds = 0"), "seeds: Value error"),
    (lambda s: s + "\n[budget]\ntimeout_s = -1\n", "budget.timeout_s: Input should be greater"),
])
def test_spec_errors_are_one_line_naming_the_key(tmp_path, edit, message):
    with pytest.raises(SpecError) as info:
        _load(tmp_path, edit(BASE))
    text = str(info.value)
    assert "\n" not in text
    assert message.replace("Value error", "") in text.replace("Value error, ", "")


def test_cli_reports_spec_error_in_one_line(tmp_path):
    spec = write_spec(tmp_path / "bad.toml", BASE.replace("d = [4, 8]", "d = [0]"))
    proc = hierbench("run", str(spec), "--out", str(tmp_path / "r"), check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "tasks.0.d.0" in lines[0]
    assert not (tmp_path / "r").exists()  # nothing ran


def test_unknown_preset_lists_presets(tmp_path):
    with pytest.raises(SpecError, match="unknown preset 'nope'; presets: .*smoke"):
        load_spec("nope")


def test_plan_keys_are_stable_and_local(tmp_path):
    spec = _load(tmp_path, BASE)
    keys = [j.key for s in plan(spec) for j in s.jobs]
    assert len(keys) == len(set(keys)) == 2 * 5 * 2  # d x n-grid (32, 45, 64, 91, 128) x seeds
    again = [j.key for s in plan(_load(tmp_path, BASE)) for j in s.jobs]
    assert keys == again
    changed = _load(tmp_path, BASE.replace("d = [4, 8]", "d = [4, 16]"))
    changed_keys = {j.key: j for s in plan(changed) for j in s.jobs}
    same = set(keys) & set(changed_keys)
    assert {changed_keys[k].d for k in same} == {4}
    assert len(same) == len(keys) // 2


def test_geometric_n_grid_and_eps_forms():
    data = {"name": "x", "tasks": [{"name": "multi_index", "d": [4]}],
            "learners": [{"name": "ridge"}], "n_grid": {"n_min": 100, "n_max": 400}}
    spec = parse_spec(data)
    assert spec.n_grid.values() == [100, 141, 200, 283, 400]
    assert spec.eps.kind == "absolute" and spec.eps.value == 0.1
    spec = parse_spec({**data, "eps": {"kind": "relative", "value": 0.5}, "seeds": 4})
    assert spec.eps.kind == "relative" and spec.seeds == [0, 1, 2, 3]


def test_task_grid_expands_into_labelled_instances():
    data = {"name": "x", "tasks": [{"name": "multi_index", "d": [4], "params": {"r": 1},
                                    "grid": {"p": [2, 4]}}],
            "learners": [{"name": "ridge"}], "n_grid": {"n_min": 10, "n_max": 10}}
    inst = parse_spec(data).tasks[0].instances()
    assert inst == [("multi_index(p=2,r=1)", {"r": 1, "p": 2}),
                    ("multi_index(p=4,r=1)", {"r": 1, "p": 4})]
