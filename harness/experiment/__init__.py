"""The experiment: what to run.  A spec (preset TOML), its validation, and the plan of jobs.

* :mod:`harness.experiment.spec` -- the :class:`Spec` model (tasks, learners, n grid, eps,
  budget, execution, verdict), the shipped presets (``presets/*.toml``) and :func:`load_spec`;
* :mod:`harness.experiment.validate` -- every task and learner configuration built once (or
  checked with its ``check_params``) before anything runs: :func:`validate_spec`;
* :mod:`harness.experiment.planning` -- the spec expanded into :class:`Series` of :class:`Job`
  with stable content keys: :func:`plan`;
* :mod:`harness.experiment.task_values` -- learner parameters given as ``"task"`` resolved to the
  task's polynomial degree: :func:`resolve_task_values`, :class:`TaskValues`.
"""

from harness.experiment.planning import Job, Series, all_jobs, content_key, plan
from harness.experiment.spec import (
    Budget,
    Eps,
    Execution,
    LearnerSpec,
    NGrid,
    Seeds,
    Spec,
    SpecError,
    TaskSpec,
    VerdictSpec,
    check_plugins,
    find_toml,
    format_validation_error,
    load_spec,
    parse_spec,
    preset_folder,
    preset_names,
    read_toml,
    resolve_spec_path,
    task_label,
    toml_names,
)
from harness.experiment.task_values import (
    TASK_VALUE,
    TaskValues,
    has_task_values,
    resolve_task_values,
    task_degree,
)
from harness.experiment.validate import ValidationFailure, validate_spec

__all__ = [
    "Budget", "Eps", "Execution", "LearnerSpec", "NGrid", "Seeds", "Spec", "SpecError", "TaskSpec",
    "VerdictSpec", "check_plugins", "format_validation_error", "load_spec", "parse_spec",
    "preset_names", "resolve_spec_path", "task_label", "find_toml", "preset_folder",
    "read_toml", "toml_names", "Job", "Series", "all_jobs",
    "content_key", "plan", "ValidationFailure", "validate_spec", "TASK_VALUE", "TaskValues",
    "has_task_values", "resolve_task_values", "task_degree",
]
