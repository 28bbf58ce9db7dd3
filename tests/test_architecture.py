"""Import rules of the architecture, checked by parsing every module with ``ast``.

    plugins/*     -> univac (public names) + univac.kit (public names) + stdlib
                     + own libraries; no plugin imports another plugin; a plugin
                     package (plugins/triage/) imports its own modules relatively, only them
    kit/*         -> univac (public names) + univac.kit + stdlib + the plugin libraries;
                     never a plugin
    transports/*  -> univac (public names) + stdlib + its one protocol library; a
                     transport package (transports/irc/) imports its siblings relatively
    stores/*      -> univac (public names) + stdlib + its one database library; the
                     modules of one backend (postgres.py, postgres_lease.py) import each other
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
PLUGIN_LIBRARIES = {
    "requests", "bs4", "dns", "feedparser", "waitress", "prometheus_client", "jwt", "yaml",
}
PLUGIN_PACKAGE_LIBRARIES = {"incidents": {"psycopg", "jinja2"}}
KIT = "univac.kit"
TRANSPORT_LIBRARIES = {
    "console": set(),
    "irc": {"irc", "jaraco", "cryptography"},
    "xmpp": {"slixmpp"},
    "matrix": {"nio", "aiohttp", "markdown_it"},
    "slack": {"slack_sdk", "aiohttp"},
}
STORE_LIBRARIES = {"postgres": {"psycopg"}}
CORE_EXCEPTIONS = {"pytest_plugin.py": {"pytest"}}
PUBLIC_API = {
    "Backoff", "Calendar", "FailureLog", "LoopHost", "background", "until_stopped",
    "check_seconds", "check_service_url", "on", "state_folder",
    "RetryAfter", "Schedule", "Skip",
    "CommandInfo", "ConfigError", "Context", "Deliver", "Message", "MetricsReport",
    "PluginError", "PollerReport", "SettingsError", "StaleEpochError", "StatusReport", "Store",
    "StoreError", "Target", "Transport", "TransportContext", "TransportError",
    "TransportStatus", "UnivacError", "UsageError", "UserError", "WebhookRequest",
    "WebhookResponse", "WebhookRoute", "__version__", "command", "every", "match",
    "plugin_settings", "webhook",
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
            found.append((f"relative:{'.' * node.level}{node.module or ''}", []))
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
            outside = ("univac.plugins", "univac.transports", "univac.stores", KIT)
            return "" if not module.startswith(outside) else "no"
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


def test_stores_import_public_api_and_one_database_library() -> None:
    def allowed(path: Path, module: str, names: list[str]) -> str:
        family = path.stem.split("_")[0]
        if module.startswith(f"univac.stores.{family}"):
            return ""
        if top(module) == "univac":
            return public_only(module, names)
        libraries = STORE_LIBRARIES.get(family, set())
        return "" if top(module) in STDLIB | libraries else f"not allowed for {family}"

    assert violations("stores", allowed) == []
    assert (ROOT / "stores" / "postgres.py").exists()


def kit_only(module: str, names: list[str]) -> str:
    """Plugins share code only through the kit's public modules and names."""
    if module != KIT and not module.startswith(KIT + "."):
        return f"plugins share code only through {KIT}"
    parts = module.split(".")[2:] + names
    private = [part for part in parts if part.startswith("_")]
    return f"not public: {private}" if private else ""


def test_plugins_import_public_api_and_own_libraries() -> None:
    def allowed(path: Path, module: str, names: list[str]) -> str:
        inside = path.relative_to(ROOT / "plugins").parts
        if module.startswith("relative:"):
            return own_package(path, module)
        if module.startswith(("univac.plugins", KIT)):
            return kit_only(module, names)
        if top(module) == "univac":
            return public_only(module, names)
        own = PLUGIN_PACKAGE_LIBRARIES.get(inside[0], set()) if len(inside) > 1 else set()
        return "" if top(module) in STDLIB | PLUGIN_LIBRARIES | own else "not an allowed library"

    assert violations("plugins", allowed) == []


def own_package(path: Path, module: str) -> str:
    """A plugin package's module may import modules of its own plugin package
    (``from .x import y``, and ``from ..x`` from a subpackage), never outside it."""
    inside = path.relative_to(ROOT / "plugins").parts
    if len(inside) < 2:
        return "a single-module plugin has no siblings"
    dots = len(module.removeprefix("relative:")) - len(module.removeprefix("relative:").lstrip("."))
    return "" if dots <= len(inside) - 1 else "only the plugin's own package"


def test_plugin_package_rule_allows_siblings_only() -> None:
    package = ROOT / "plugins" / "runbooks" / "cli.py"
    assert own_package(package, "relative:.catalogue") == ""
    assert own_package(package, "relative:..links") != ""
    assert own_package(ROOT / "plugins" / "dns.py", "relative:.links") != ""
    nested = ROOT / "plugins" / "incidents" / "stores" / "jsonl.py"
    assert own_package(nested, "relative:..model") == ""
    assert own_package(nested, "relative:...links") != ""


def test_the_kit_imports_public_api_and_plugin_libraries_never_a_plugin() -> None:
    def allowed(path: Path, module: str, names: list[str]) -> str:
        if module == KIT or module.startswith(KIT + "."):
            return ""
        if top(module) == "univac":
            return public_only(module, names)
        return "" if top(module) in STDLIB | PLUGIN_LIBRARIES else "not an allowed library"

    assert violations("kit", allowed) == []


def test_kit_rule_refuses_private_names_and_other_plugins() -> None:
    assert kit_only("univac.kit.fetch", ["Guard", "fetch"]) == ""
    assert kit_only("univac.kit", ["rest"]) == ""
    assert "not public" in kit_only("univac.kit.fetch", ["_origin"])
    assert "not public" in kit_only("univac.kit._private", ["helper"])
    assert "only through" in kit_only("univac.plugins.links", ["titles"])
    assert "only through" in kit_only("univac.plugins", ["links"])


KIT_API = {
    "fetch": {"REDIRECTS", "USER_AGENT", "Blocked", "FetchError", "Guard", "HttpStatus",
              "Limits", "RateLimited", "Resolver", "Response", "check", "fetch", "remaining",
              "reset_time", "retry_after", "slow_down", "system_resolver"},
    "watch": {"KEEP_MIN", "Item", "announce", "check_targets", "check_watch", "fresh",
              "seen_keys"},
    "rest": {"RestSettings", "Service", "Source", "check_paging", "get", "lookup", "poll"},
    "webhook": {"PREFIX", "SIGNATURE_HEADER", "Deliveries", "Store", "bearer_ok", "headers_of",
                "marks", "read_body", "refusal", "sign", "verify"},
    "text": {"CONTROL", "one_line", "template_problem"},
    "alerts": {"PAGERDUTY_EVENTS", "PAGERDUTY_HEADER", "Alert", "PagerDutyEvent", "alertmanager",
               "pagerduty", "pagerduty_sign", "pagerduty_verify"},
}


def test_the_kit_api_is_pinned_and_documented() -> None:
    import importlib

    found = {path.stem for path in (ROOT / "kit").glob("*.py") if path.stem != "__init__"}
    assert found == set(KIT_API)
    page = (ROOT / "docs" / "kit.md").read_text(encoding="utf-8")
    for name, public in KIT_API.items():
        module = importlib.import_module(f"{KIT}.{name}")
        assert set(module.__all__) == public, name
        assert all(hasattr(module, attribute) for attribute in public)
        assert module.__doc__ and f"`kit.{name}`" in page, name


def test_public_api_is_pinned() -> None:
    assert set(univac.__all__) == PUBLIC_API
    assert all(hasattr(univac, name) for name in univac.__all__)


def test_no_generic_top_level_packages_are_installed() -> None:
    import univac.kit
    import univac.plugins
    import univac.stores
    import univac.transports

    assert Path(univac.stores.__file__).parent == ROOT / "stores"
    assert Path(univac.kit.__file__).parent == ROOT / "kit"
    assert Path(univac.plugins.__file__).parent == ROOT / "plugins"
    assert Path(univac.transports.__file__).parent == ROOT / "transports"
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    packages = setup["options"]["packages"].split()
    assert packages == ["univac", "univac.engine", "univac.kit", "univac.ops",
                        "univac.plugins", "univac.plugins.incidents",
                        "univac.plugins.incidents.stores", "univac.plugins.runbooks",
                        "univac.plugins.triage",
                        "univac.stores", "univac.transports", "univac.transports.irc",
                        "univac.transports.xmpp", "univac.transports.matrix",
                        "univac.transports.slack"]
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


def test_the_public_api_loads_no_event_loop_for_transports_that_need_none() -> None:
    """The IRC transport and the console import ``univac``; asyncio (about 2 MB) is
    loaded only by the transports that run a loop (univac/loophost.py)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", "import sys, univac, univac.transports.irc, "
         "univac.engine.bot; print(sorted(m for m in ('asyncio', 'slixmpp', 'nio') "
         "if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
