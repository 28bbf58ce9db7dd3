"""Import rules of the architecture, checked by parsing every module with ``ast``.

    plugins/*     -> univac (public names) + univac.plugins._* + stdlib + own libraries
    transports/*  -> univac (public names) + stdlib + its one protocol library; a
                     transport package (transports/irc/) imports its siblings relatively
    univac/**     -> univac/** + stdlib (never a transport, a plugin, irc or slixmpp),
                     and no import cycle among core modules, type-only imports included
"""

from __future__ import annotations

import ast
import configparser
import sys
from pathlib import Path

import univac

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
PLUGIN_LIBRARIES = {"requests", "bs4", "dns", "waitress", "prometheus_client"}
TRANSPORT_LIBRARIES = {
    "console": set(),
    "irc": {"irc", "jaraco", "cryptography"},
    "xmpp": {"slixmpp"},
    "matrix": {"nio", "aiohttp", "markdown_it"},
    "slack": {"slack_sdk", "aiohttp"},
}
CORE_EXCEPTIONS = {"pytest_plugin.py": {"pytest"}}
PUBLIC_API = {
    "CommandInfo", "ConfigError", "Context", "Deliver", "Message", "MetricsReport",
    "PluginError", "PollerReport", "StatusReport", "Transport", "TransportError",
    "TransportStatus", "UnivacError", "UsageError", "UserError", "WebhookRequest",
    "WebhookResponse", "WebhookRoute", "__version__", "command", "every", "match", "webhook",
}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import statement in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            found.append((f"relative:{node.module}", []))
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def violations(folder: str, allowed: callable) -> list[str]:
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module, names in imports(path):
            reason = allowed(path, module, names)
            if reason:
                problems.append(f"{path.relative_to(ROOT)}: {module}: {reason}")
    return problems


def public_only(module: str, names: list[str]) -> str:
    if module != "univac":
        return "import public names from 'univac' itself"
    private = sorted(set(names) - set(univac.__all__))
    return f"not public: {private}" if private else ""


def test_core_imports_only_core_and_stdlib() -> None:
    def allowed(path: Path, module: str, names: list[str]) -> str:
        if top(module) == "univac":
            return "" if not module.startswith(("univac.plugins", "univac.transports")) else "no"
        extra = CORE_EXCEPTIONS.get(path.name, set())
        return "" if top(module) in STDLIB | extra else "core uses the standard library only"

    assert violations("univac", allowed) == []


def test_transports_import_one_protocol_library() -> None:
    def allowed(path: Path, module: str, names: list[str]) -> str:
        inside = path.relative_to(ROOT / "transports").parts
        family = inside[0] if len(inside) > 1 else path.stem
        if module.startswith("relative:"):
            return "" if len(inside) > 1 else "a single-module transport has no siblings"
        if top(module) == "univac":
            return public_only(module, names)
        libraries = TRANSPORT_LIBRARIES.get(family, set())
        return "" if top(module) in STDLIB | libraries else f"not allowed for {family}"

    assert violations("transports", allowed) == []


def test_plugins_import_public_api_and_own_libraries() -> None:
    def allowed(path: Path, module: str, names: list[str]) -> str:
        shared = module == "univac.plugins" and all(n.startswith("_") for n in names)
        if module.startswith("univac.plugins._") or shared:
            return ""
        if top(module) == "univac":
            return public_only(module, names)
        return "" if top(module) in STDLIB | PLUGIN_LIBRARIES else "not an allowed library"

    assert violations("plugins", allowed) == []


def test_public_api_is_pinned() -> None:
    assert set(univac.__all__) == PUBLIC_API
    assert all(hasattr(univac, name) for name in univac.__all__)


def test_no_generic_top_level_packages_are_installed() -> None:
    import univac.plugins
    import univac.transports

    assert Path(univac.plugins.__file__).parent == ROOT / "plugins"
    assert Path(univac.transports.__file__).parent == ROOT / "transports"
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    packages = setup["options"]["packages"].split()
    assert packages == ["univac", "univac.engine", "univac.ops", "univac.plugins",
                        "univac.transports", "univac.transports.irc", "univac.transports.xmpp",
                        "univac.transports.matrix", "univac.transports.slack"]
    assert all(name.startswith("univac") for name in packages)


def core_graph() -> dict[str, set[str]]:
    """Core module -> the core modules it imports (at run time or for type checking)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "univac").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = set()
        for module, names in imports(path):
            if top(module) == "univac":
                candidates = [f"{module}.{n}" for n in names] + [module]
                graph[name].update(c for c in candidates if (ROOT / _file_of(c)).exists())
    return graph


def _file_of(module: str) -> Path:
    parts = module.split(".")
    package = Path(*parts) / "__init__.py"
    return package if (ROOT / package).exists() else Path(*parts).with_suffix(".py")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets, each as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], set())):
            if nxt in path:
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in done:
                visit([*path, nxt])
        done.add(path[-1])

    for node in sorted(graph):
        if node not in done:
            visit([node])
    return found


def test_no_import_cycle_in_the_core_type_only_imports_included() -> None:
    graph = core_graph()
    assert graph.get("univac.context"), "the graph is empty"
    # univac/__init__.py re-exports the public API; the rule is about modules importing
    # each other, so the package itself is left out of the graph
    modules = {k: vs - {"univac"} for k, vs in graph.items() if k != "univac"}
    assert cycles(modules) == []


def test_cycle_finder_finds_a_type_only_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_core_modules_are_small_and_documented() -> None:
    for path in sorted((ROOT / "univac").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 300, f"{path.name} has {lines} lines"
