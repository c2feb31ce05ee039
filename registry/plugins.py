"""Plugin registries for tasks and learners.

Two sources fill a registry, in this order:

1. Python entry points of the group (``hierbench.tasks`` or ``hierbench.learners``); the
   built-in tasks and learners are registered in ``pyproject.toml`` exactly like a third-party
   plugin would be.
2. Plugin files given on the command line (``--plugin path/to/file.py``) or loaded with
   :func:`load_plugin_file`.  A plugin file registers objects by calling
   ``tasks.register_task(name, cls)`` / ``learners.register_learner(name, cls)``, or by
   decorating them with ``@register_task("name")`` / ``@register_learner("name")``.

Entry points are resolved lazily: ``names()`` lists them without importing anything, ``get``
imports only the one asked for, so a broken plugin cannot break ``hierbench list`` for the others.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any


class PluginError(Exception):
    """A plugin could not be found, imported or registered; the message is one line."""


class Registry:
    """A name -> object map filled from an entry-point group and from explicit registration."""

    def __init__(self, group: str, kind: str):
        self.group = group
        self.kind = kind
        self._objects: dict[str, Any] = {}
        self._entry_points: dict[str, importlib.metadata.EntryPoint] | None = None

    def _eps(self) -> dict[str, importlib.metadata.EntryPoint]:
        if self._entry_points is None:
            found = importlib.metadata.entry_points(group=self.group)
            self._entry_points = {ep.name: ep for ep in found}
        return self._entry_points

    def register(self, name: str, obj: Any = None) -> Any:
        """Register ``obj`` under ``name``; usable as ``@registry.register("name")``."""
        if obj is None:
            def decorator(o: Any) -> Any:
                self._objects[name] = o
                return o
            return decorator
        self._objects[name] = obj
        return obj

    def names(self) -> list[str]:
        """All known names (registered objects and entry points), sorted."""
        return sorted(set(self._objects) | set(self._eps()))

    def __contains__(self, name: str) -> bool:
        return name in self._objects or name in self._eps() or _is_dotted_path(name)

    def get(self, name: str) -> Any:
        """The object registered as ``name``; a ``module:attr`` or dotted path is imported."""
        if name in self._objects:
            return self._objects[name]
        if name in self._eps():
            try:
                obj = self._eps()[name].load()
            except Exception as exc:  # noqa: BLE001 - any import error of a plugin is reported
                raise PluginError(
                    f"{self.kind} plugin {name!r} failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            self._objects[name] = obj
            return obj
        if _is_dotted_path(name):
            return import_object(name)
        hint = difflib.get_close_matches(name, self.names(), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise PluginError(
            f"unknown {self.kind} {name!r}{extra}; known: {', '.join(self.names())}"
        )


def _is_dotted_path(name: str) -> bool:
    return ":" in name or ("." in name and not name.startswith("."))


def import_object(path: str) -> Any:
    """Import ``package.module:attr`` or ``package.module.attr``."""
    if ":" in path:
        module_name, attr = path.split(":", 1)
    else:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"cannot import {path!r}: {exc}") from exc


def load_plugin_file(path: str | Path) -> None:
    """Execute a plugin file so that it registers its tasks/learners.

    The module is registered in ``sys.modules`` under ``hierbench_plugin_<stem>`` so that worker
    processes started with ``spawn`` can re-import it by path (see :func:`plugin_paths`).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise PluginError(f"plugin file not found: {path}")
    mod_name = f"hierbench_plugin_{path.stem}"
    if mod_name in sys.modules and getattr(sys.modules[mod_name], "__file__", None) == str(path):
        return
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001
        del sys.modules[mod_name]
        raise PluginError(f"plugin file {path} raised {type(exc).__name__}: {exc}") from exc
    _LOADED_FILES.append(str(path))


_LOADED_FILES: list[str] = []


def plugin_paths() -> list[str]:
    """Plugin files loaded in this process (workers load the same ones)."""
    return list(_LOADED_FILES)


def load_plugin_files(paths: list[str]) -> None:
    for p in paths:
        load_plugin_file(p)
