"""Spec validation: every mistake is one line naming the key; plans have stable keys."""

from __future__ import annotations

import pytest
from conftest import hierbench, write_spec

from harness.experiment import SpecError, load_spec, parse_spec, plan

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
    (lambda s: s.replace("seeds = 2", 'seeds = 2\nn_test = "big"'),
     'n_test: n_test = \'big\' is not allowed; allowed: an int >= 1 or "auto"'),
    (lambda s: s.replace("seeds = 2", "seeds = 2\nn_test = 0"), "n_test: n_test = 0 is not"),
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


# --- spec-time validation against the learners' parameter constraints (experiment/validate.py) ---

CONSTRAINED = """
name = "v"
seeds = 1
[n_grid]
n_min = 32
n_max = 64
[[tasks]]
name = "checked_linear"
d = [4, 8]
params = { scale = 1.0 }
[[learners]]
name = "constrained"
label = "con"
params = { alpha = 0.5 }
[[learners]]
name = "sklearn.linear_model.Ridge"
label = "sk-ridge"
params = { alpha = 1.0 }
[[learners]]
name = "ridge"
"""


@pytest.fixture
def constrained_plugin():
    from conftest import PLUGINS

    from registry import load_plugin_file

    load_plugin_file(PLUGINS / "constrained.py")


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("alpha = 1.0", "alpha = -1"),
     "learners.1 (sklearn.linear_model.Ridge): learner 'sk-ridge': params.alpha = -1 is not "
     "allowed; allowed: a float in the range [0.0, inf); or an array-like"),
    (lambda s: s.replace("alpha = 1.0", 'solver = "cholesky_"'),
     "learner 'sk-ridge': params.solver = 'cholesky_' is not allowed; allowed: 'auto', "
     "'cholesky', 'lbfgs'"),
    (lambda s: s.replace("alpha = 0.5", 'mode = "fitt"'),
     "learners.0 (constrained): learner 'con': params.mode = 'fitt' is not allowed; "
     "allowed: 'explode', 'fit'"),
    (lambda s: s.replace("alpha = 0.5", "width = 0"),
     "learner 'con': params.width = 0 is not allowed; allowed: an int in the range [1, inf); "
     "or None"),
    (lambda s: s.replace("alpha = 0.5", 'alpha = "big"'),
     "learner 'con': params.alpha = 'big' is not allowed; allowed: a float in the range "
     "(0.0, inf)"),
    (lambda s: s + "params = { alphas = [0.1, -1.0] }\n",
     "learners.2 (ridge): learner 'ridge': params.alphas = [0.1, -1.0] is not allowed; allowed: "
     "a non-empty sequence of floats, each in the range (0.0, inf)"),
    (lambda s: s + 'params = { alphas = "many" }\n', "params.alphas = 'many' is not allowed"),
    (lambda s: s.replace("scale = 1.0", "scale = -2"),
     "tasks.0 (checked_linear): task 'checked_linear': parameter 'scale' = -2 is out of range"),
    (lambda s: s.replace("d = [4, 8]", "d = [1, 8]"),
     "task 'checked_linear': d = 1 is out of range; allowed: d >= 2"),
])
def test_constraint_violations_are_one_line_naming_learner_key_value_allowed(
        tmp_path, constrained_plugin, edit, message):
    _load(tmp_path, CONSTRAINED)  # the unedited spec is valid
    with pytest.raises(SpecError) as info:
        _load(tmp_path, edit(CONSTRAINED))
    text = str(info.value)
    assert "\n" not in text and message in text, text


def test_task_without_check_params_is_built_once_at_the_smallest_d(tmp_path):
    # multi_index has no check_params in this test's sense: r = 0 fails when the task is built
    with pytest.raises(SpecError, match=r"tasks.0 \(multi_index\): "):
        _load(tmp_path, BASE.replace("p = 2, r = 1", "p = 2, r = 0"))


def test_run_spec_validates_before_any_job(tmp_path, constrained_plugin):
    from harness.experiment import ValidationFailure
    from harness.run import RunOptions, run_spec

    spec = parse_spec(__import__("tomllib").loads(
        CONSTRAINED.replace("alpha = 0.5", 'mode = "fitt"')))
    with pytest.raises(ValidationFailure, match="params.mode = 'fitt'"):
        run_spec(spec, tmp_path / "r", RunOptions(executor="serial", progress=False))
    assert not (tmp_path / "r").exists()


def test_learner_n_max_stops_only_that_learners_grid(tmp_path):
    """A learner's own n_max drops its larger grid points from the plan; the others keep them."""
    text = BASE + '[[learners]]\nname = "mean"\nn_max = 64\n'
    series = plan(_load(tmp_path, text))
    ns = {s.jobs[0].learner: [j.n for j in s.jobs] for s in series}
    assert ns["ridge"] == [32, 45, 64, 91, 128]
    assert ns["mean"] == [32, 45, 64]


def test_learner_n_max_below_n_min_is_one_line(tmp_path):
    text = BASE + '[[learners]]\nname = "mean"\nn_max = 16\n'
    with pytest.raises(SpecError) as err:
        _load(tmp_path, text)
    msg = str(err.value)
    assert "n_max = 16 is below n_grid.n_min = 32" in msg and "\n" not in msg.strip()


def test_auto_n_test_keys_carry_the_cap_and_fixed_sizes_keep_their_keys(tmp_path):
    fixed = [j.key for s in plan(_load(tmp_path, BASE)) for j in s.jobs]
    auto = _load(tmp_path, BASE.replace("seeds = 2", 'seeds = 2\nn_test = "auto"'))
    capped = _load(tmp_path, BASE.replace("seeds = 2", 'seeds = 2\nn_test = "auto"\n'
                                          "n_test_max = 4096"))
    jobs = [j for s in plan(auto) for j in s.jobs]
    assert {j.n_test for j in jobs} == {"auto"} and {j.n_test_max for j in jobs} == {65536}
    k_auto, k_capped = ({j.key for s in plan(sp) for j in s.jobs} for sp in (auto, capped))
    assert not (k_auto & set(fixed)) and not (k_auto & k_capped)
    # a fixed n_test's key does not depend on n_test_max (runs made before the key existed resume)
    assert fixed == [j.key for s in plan(_load(tmp_path, BASE.replace(
        "seeds = 2", "seeds = 2\nn_test_max = 4096"))) for j in s.jobs]


def test_a_task_value_needs_every_task_to_have_a_degree_at_validate():
    """poly_features(degree = "task") on a task without a polynomial degree is one line at
    validation time, naming the spec's learner entry, the key and the task; before, it failed
    in every job."""
    from conftest import PLUGINS

    from harness.experiment import ValidationFailure, validate_spec
    from registry import load_plugin_file

    load_plugin_file(PLUGINS / "linear_task.py")  # a plugin task that declares no degree
    data = {"name": "x", "tasks": [{"name": "multi_index", "d": [4, 6], "grid": {"p": [2, 3]}},
                                   {"name": "linear", "d": [4]}],
            "learners": [{"name": "poly_features", "params": {"degree": "task"}}],
            "n_grid": {"n_min": 10, "n_max": 10}}
    with pytest.raises(ValidationFailure) as info:
        validate_spec(parse_spec(data))
    assert str(info.value) == (
        "learners.0 (poly_features): learner 'poly_features': parameter 'degree' = 'task' "
        "needs the task's polynomial degree, but task 'linear' has none")
    validate_spec(parse_spec({**data, "tasks": data["tasks"][:1]}))  # every task has one
