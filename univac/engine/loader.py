"""Find transport and plugin modules by name. Layer: core; start-up thread only.

A name resolves, in this order: a path ending in ``.py``; a dotted module name; a
module of the built-in package; an entry point in the ``univac.plugins`` /
``univac.transports`` group (how installed packages add names). The built-ins are
registered as entry points too, but a built-in name always means the built-in module:
looking it up first skips the entry-point scan (reading every installed package's
metadata, several milliseconds per lookup) at start. Every ``.py`` file in a
configured plugin folder is a plugin named after the file. Importing a module only
defines things: nothing registers itself; the caller inspects the module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
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
        return _built_in(group, name) or _installed(group, name)
    except PluginError:
        raise
    except ModuleNotFoundError as error:
        if error.name == name:
            raise PluginError(f"unknown name '{name}'{did_you_mean(name, known(group))}") from None
        raise PluginError(f"cannot import '{name}': {error}") from error
    except Exception as error:
        raise PluginError(f"cannot import '{name}': {type(error).__name__}: {error}") from error


def _built_in(group: str, name: str) -> ModuleType | None:
    """The module ``name`` of the built-in package, or ``None`` when there is none."""
    try:
        return importlib.import_module(f"{group}.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"{group}.{name}":
            return None
        raise


def _installed(group: str, name: str) -> ModuleType:
    """The module of the entry point ``name`` in ``group``."""
    from importlib.metadata import entry_points  # only for names that are not built in

    found = entry_points(group=group).select(name=name)
    if not found:
        raise PluginError(f"unknown name '{name}'{did_you_mean(name, known(group))}")
    return next(iter(found)).load()


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
    import pkgutil  # here, not at the top: only error messages need these two
    from importlib.metadata import entry_points

    names = set(entry_points(group=group).names)
    try:
        package = importlib.import_module(group)
        names.update(info.name for info in pkgutil.iter_modules(package.__path__))
    except ImportError:
        pass
    return sorted(names)
