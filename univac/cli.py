"""The ``univac`` command: run the bot, check a config, write an example. Layer: core.

    univac [--config FILE]          run the bot (console transport without a config)
    univac check --config FILE      validate everything without connecting
    univac store migrate [--dry-run] --config FILE   create or upgrade the store's schema
    univac init [PATH]              write an annotated example configuration
    univac watchdog [OPTIONS] -- COMMAND...   run the bot as a child, restart it
    univac NAME ARGS...             a plugin's command-line tool (``univac.commands``
                                    entry points, see ``univac/plugincli.py``)

Exit codes: ``univac/exitcodes.py``.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from univac import exitcodes, logs, plugincli
from univac.config import Config, load
from univac.decorators import CommandSpec
from univac.engine.access import Access
from univac.engine.bot import Bot, state_dir
from univac.engine.catalog import inspect_plugin
from univac.errors import ConfigError, ConfigIssue, StoreError
from univac.ops.sdnotify import Notifier
from univac.version import __version__

log = logging.getLogger("univac.cli")
COMMANDS = ("run", "check", "init", "watchdog", "store")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``univac`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    tool = _plugin_tool(argv)
    if tool is not None:
        logs.setup()
        return int(tool(argv[1:]))
    argv = _with_command(argv)
    args = _parser(full=argv[:1] != ["run"]).parse_args(argv)
    return int(args.handler(args))


def _plugin_tool(argv: list[str]) -> plugincli.Main | None:
    """A plugin's command-line tool named by the first argument, if it is one."""
    if not argv or argv[0] in COMMANDS or argv[0].startswith("-"):
        return None
    return plugincli.find(argv[0])


def _with_command(argv: list[str]) -> list[str]:
    wants_help = argv and argv[0] in ("-h", "--help", "--version")
    return argv if wants_help or (argv and argv[0] in COMMANDS) else ["run", *argv]


def _parser(full: bool = True) -> argparse.ArgumentParser:
    """The command line; ``univac run`` (``full=False``) leaves out the watchdog's options,
    whose defaults would import ``univac.ops.watchdog`` (and ``subprocess``) for nothing
    at every start, and the plugin tools' names (an entry-point scan) that --help shows."""
    tools = plugincli.names() if full else []
    parser = argparse.ArgumentParser(
        prog="univac", description="Univac chat-ops bot.",
        epilog=f"Plugin tools: univac {{{','.join(tools)}}} --help" if tools else None)
    parser.add_argument("--version", action="version", version=f"univac {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, summary in (
        ("run", _run, "run the bot (the default command)"),
        ("check", _check, "validate a configuration without connecting"),
    ):
        sub = commands.add_parser(name, help=summary)
        sub.add_argument("--config", type=Path, default=_default_config(), help="TOML file")
        sub.set_defaults(handler=handler)
    _add_store(commands.add_parser("store", help="the state store: store migrate [--dry-run]"))
    init = commands.add_parser("init", help="write an annotated example configuration")
    init.add_argument("path", nargs="?", default="univac.toml", help="file to write, or -")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_init)
    watchdog = commands.add_parser(
        "watchdog", help="run the bot as a child process; restart it when it crashes or hangs",
        description="Run COMMAND (default: this univac's 'run') and restart it on a crash "
                    "or a hang. Example: univac watchdog -- univac --config univac.toml")
    if full:
        _add_watchdog(watchdog)
    return parser


def _add_store(sub: argparse.ArgumentParser) -> None:
    actions = sub.add_subparsers(dest="action", required=True)
    migrate = actions.add_parser("migrate", help="create or upgrade the store's schema")
    migrate.add_argument("--config", type=Path, default=_default_config(), help="TOML file")
    migrate.add_argument("--dry-run", action="store_true", help="print the SQL; change nothing")
    migrate.set_defaults(handler=_migrate)


def _add_watchdog(sub: argparse.ArgumentParser) -> None:
    from univac.ops.watchdog import Policy

    defaults = Policy()
    for flag, default, text in (
        ("--max-crashes", defaults.max_crashes, "give up after more than N crashes..."),
        ("--window", defaults.window_s, "...within this many seconds"),
        ("--hang-timeout", defaults.hang_timeout_s, "seconds without a heartbeat; 0: off"),
        ("--start-timeout", defaults.start_timeout_s, "seconds to wait for READY"),
        ("--stop-timeout", defaults.stop_timeout_s, "seconds to wait for an exit"),
        ("--backoff-min", defaults.backoff_s[0], "first restart delay, doubling..."),
        ("--backoff-max", defaults.backoff_s[1], "...up to this many seconds"),
    ):
        kind = int if isinstance(default, int) else float
        sub.add_argument(flag, type=_non_negative(kind), default=default, help=text,
                         metavar="N" if kind is int else "S")
    sub.add_argument("child", nargs="*", metavar="COMMAND", help="the bot's command line")
    sub.set_defaults(handler=_watchdog)


def _non_negative(kind: type[float]) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative")
        return value
    convert.__name__ = kind.__name__
    return convert


def _default_config() -> Path | None:
    value = os.environ.get("UNIVAC_CONFIG")
    return Path(value) if value else None


def _run(args: argparse.Namespace) -> int:
    formatter = logs.setup()
    try:
        config = load(args.config)
        formatter.set_secrets(config.secrets)
        logging.getLogger().setLevel(config.bot.log_level)
        for warning in config.warnings:
            log.warning("%s", warning)
        bot = Bot(config)
    except ConfigError as error:
        return _report(error.issues)
    except StoreError as error:
        print(f"error: state store ({config.store.backend}): {error}", file=sys.stderr)
        return exitcodes.STORE
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: threading.Thread(target=bot.request_stop).start())
    faulthandler.enable()  # SIGABRT from a watchdog that saw a hang: every thread's stack
    return bot.run(Notifier.from_environ(os.environ))


def _watchdog(args: argparse.Namespace) -> int:
    from univac.ops.watchdog import Policy, Watchdog

    logs.setup()
    policy = Policy(
        args.max_crashes, args.window, args.hang_timeout, args.start_timeout,
        args.stop_timeout, (args.backoff_min, args.backoff_max),
    )
    command = args.child or [sys.executable, "-m", "univac", "run"]
    return Watchdog(command, policy).run()


def _check(args: argparse.Namespace) -> int:
    try:
        config = load(args.config)
    except ConfigError as error:
        return _report(error.issues)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    issues = list(config.plugin_issues) + _plugin_code_issues(config)
    if issues:
        return _report(issues)
    ha = ", one active of several ([ha])" if config.ha.enabled else ""
    print(f"{config.file}: OK ({len(config.transports)} transport(s), "
          f"{len(config.plugins)} plugin(s), {config.store.backend} store{ha})")
    return exitcodes.OK


def _migrate(args: argparse.Namespace) -> int:
    """Bring the store's schema up to date (or print what that would run): SQL on stdout."""
    formatter = logs.setup()
    try:
        config = load(args.config)
    except ConfigError as error:
        return _report(error.issues)
    formatter.set_secrets(config.secrets)
    entry = config.store
    try:
        store = entry.module.connect(entry.settings, state_dir(config))
        try:
            statements = store.migrate(dry_run=args.dry_run)
        finally:
            store.close()
    except StoreError as error:
        print(f"error: state store ({entry.backend}): {error}", file=sys.stderr)
        return exitcodes.STORE
    for statement in statements:
        print(f"{statement};")
    done = "would run" if args.dry_run else "ran"
    summary = f"{done} {len(statements)} statement(s)" if statements else "schema up to date"
    print(f"-- {entry.backend} store: {summary}")
    return exitcodes.OK


def _plugin_code_issues(config: Config) -> list[ConfigIssue]:
    issues, handlers = [], []
    for entry in config.plugins:
        try:
            handlers += inspect_plugin(entry.name, entry.module, entry.settings).handlers
        except Exception as error:
            issues.append(ConfigIssue(config.file, f"plugins.{entry.name}", str(error)))
    commands = [h for h in handlers if isinstance(h.spec, CommandSpec)]
    plugins = [entry.name for entry in config.plugins]
    problems = Access(config.roles, config.access).problems(commands, plugins)
    return issues + [ConfigIssue(config.file, "", problem) for problem in problems]


def _report(issues: list[ConfigIssue]) -> int:
    for issue in issues:
        print(f"error: {issue}", file=sys.stderr)
    print(f"{len(issues)} configuration error(s)", file=sys.stderr)
    return exitcodes.CONFIG


def _init(args: argparse.Namespace) -> int:
    from importlib.resources import files  # here, not at the top: only init needs it

    example = files("univac").joinpath("example.toml").read_text(encoding="utf-8")
    if args.path == "-":
        sys.stdout.write(example)
        return exitcodes.OK
    path = Path(args.path)
    problem = _cannot_write(path, args.force)
    if not problem:
        try:
            path.write_text(example, encoding="utf-8")
        except OSError as error:
            problem = f"cannot write {path}: {error.strerror or error}"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return exitcodes.CONFIG
    print(f"wrote {path}; check it with: univac check --config {path}")
    return exitcodes.OK


def _cannot_write(path: Path, force: bool) -> str:
    """Why ``univac init`` will not write ``path``, or ``""``."""
    if path.is_dir():
        return f"{path} is a folder; give a file name, such as {path / 'univac.toml'}"
    if path.exists() and not force:
        return f"{path} exists; use --force to overwrite"
    if path.parent.exists() and not path.parent.is_dir():
        return f"{path.parent} is not a folder"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist; create it first"
    return ""
