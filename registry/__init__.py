"""The plugin registry: name -> task or learner class, below tasks/, learners/ and harness/.

tasks/ and learners/ each keep one :class:`Registry`; harness/ loads plugin files with
:func:`load_plugin_files` and passes :func:`plugin_paths` on to its worker processes.  This package
imports nothing of the project, so every other package may import it.
"""

from registry.plugins import (
    PluginError,
    Registry,
    import_object,
    load_plugin_file,
    load_plugin_files,
    plugin_paths,
)

__all__ = ["PluginError", "Registry", "import_object", "load_plugin_file", "load_plugin_files",
           "plugin_paths"]
