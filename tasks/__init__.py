"""Concept classes (teachers): one module per family, a shared :class:`Task` interface, a registry.

    >>> from tasks import make_task
    >>> task = make_task("multi_index", d=16, seed=0, p=2)
    >>> X, y = task.sample(100, np.random.default_rng(0))

Tasks are found through the ``hierbench.tasks`` entry-point group (the built-ins register there too)
and through plugin files that call :func:`register_task`.
"""

from __future__ import annotations

from typing import Any

from registry import PluginError, Registry
from tasks.base import Task

TASKS = Registry("hierbench.tasks", "task")


def register_task(name: str, cls: type[Task] | None = None):
    """Register a Task subclass under ``name`` (also usable as a decorator)."""
    return TASKS.register(name, cls)


def get_task_class(name: str) -> type[Task]:
    return TASKS.get(name)


def make_task(name: str, d: int, seed: int = 0, **params: Any) -> Task:
    """Build the task ``name`` at dimension ``d`` with teacher seed ``seed``.

    Raises ``ValueError`` (one line) for bad parameters and ``PluginError`` for unknown names.
    """
    cls = get_task_class(name)
    try:
        return cls(d=d, seed=seed, **params)
    except TypeError as exc:
        raise ValueError(f"task {name!r}: {exc}") from exc


def available_tasks() -> list[str]:
    return TASKS.names()


__all__ = ["Task", "TASKS", "PluginError", "register_task", "get_task_class", "make_task",
           "available_tasks"]
