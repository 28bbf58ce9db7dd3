"""Find transport and plugin modules by name. Layer: core; start-up thread only.

A name resolves, in this order: a path ending in ``.py``; a dotted module name; an
entry point in the ``univac.plugins`` / ``univac.transports`` group (the built-ins are
registered there too); a module of the built-in package. Every ``.py`` file in a
configured plugin folder is a plugin named after the file. Importing a module only
defines things: nothing registers itself; the caller inspects the module.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from univac.errors import PluginError
from univac.settings import did_you_mean

PLUGIN_GROUP = "univac.plugins"
TRANSPORT_GROUP = "univac.transports"


def load_module(group: str, name: str) -> ModuleType:
    """Import the module that ``name`` names in ``group``; PluginError says why not."""
    if name.endswith(".py"):
        return load_file(Path(name))
    try:
        if "." in name:
            return importlib.import_module(name)
        found = entry_points(group=group).select(name=name)
        if found:
            return next(iter(found)).load()
        return importlib.import_module(f"{group}.{name}")
    except ModuleNotFoundError as error:
        if error.name in (name, f"{group}.{name}"):
            raise PluginError(f"unknown name '{name}'{did_you_mean(name, known(group))}") from None
        raise PluginError(f"cannot import '{name}': {error}") from error
    except Exception as error:
        raise PluginError(f"cannot import '{name}': {type(error).__name__}: {error}") from error


def load_file(path: Path) -> ModuleType:
    """Import a plugin from a plain ``.py`` file, as module ``univac_plugin_<stem>``."""
    module_name = f"univac_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise PluginError(f"cannot read plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise PluginError(f"cannot import {path}: {type(error).__name__}: {error}") from error
    return module


def folder_plugins(folders: tuple[str, ...], base_dir: Path) -> dict[str, Path]:
    """Map plugin name to file for every ``.py`` file in the configured folders."""
    found: dict[str, Path] = {}
    for folder in folders:
        root = Path(folder).expanduser()
        root = root if root.is_absolute() else base_dir / root
        for path in sorted(root.glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def known(group: str) -> list[str]:
    """Names that resolve in ``group`` without a dot: entry points and built-ins."""
    names = set(entry_points(group=group).names)
    try:
        package = importlib.import_module(group)
        names.update(info.name for info in pkgutil.iter_modules(package.__path__))
    except ImportError:
        pass
    return sorted(names)
