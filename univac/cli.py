"""The ``univac`` command: run the bot, check a config, write an example. Layer: core.

    univac [--config FILE]          run the bot (console transport without a config)
    univac check --config FILE      validate everything without connecting
    univac store migrate [--dry-run] --config FILE   create or upgrade the store's schema
    univac init [PATH]              write an annotated example configuration
    univac watchdog [OPTIONS] -- COMMAND...   run the bot as a child, restart it

Exit codes: 0 clean stop, 1 invalid configuration, 2 bad command line, 3 the
supervisor gave up after repeated crashes, 4 the watchdog gave up (see watchdog.py),
5 the state store cannot be opened (a database that does not answer), 6 a leader that
lost its lease could not close its transports in time (``[ha]``, leader.py).
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

from univac import logs
from univac.config import Config, load
from univac.decorators import CommandSpec
from univac.engine.access import Access
from univac.engine.bot import Bot, state_dir
from univac.engine.catalog import inspect_plugin
from univac.errors import ConfigError, ConfigIssue, StoreError
from univac.ops.sdnotify import Notifier
from univac.version import __version__

EXIT_CONFIG = 1
EXIT_STORE = 5
COMMANDS = ("run", "check", "init", "watchdog", "store")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``univac`` console script."""
    argv = _with_command(sys.argv[1:] if argv is None else argv)
    args = _parser(watchdog_options=argv[:1] != ["run"]).parse_args(argv)
    return int(args.handler(args))


def _with_command(argv: list[str]) -> list[str]:
    wants_help = argv and argv[0] in ("-h", "--help", "--version")
    return argv if wants_help or (argv and argv[0] in COMMANDS) else ["run", *argv]


def _parser(watchdog_options: bool = True) -> argparse.ArgumentParser:
    """The command line; ``univac run`` leaves out the watchdog's options, whose defaults
    would import ``univac.ops.watchdog`` (and ``subprocess``) for nothing at every start."""
    parser = argparse.ArgumentParser(prog="univac", description="Univac chat-ops bot.")
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
    if watchdog_options:
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
        bot = Bot(config)
    except ConfigError as error:
        return _report(error.issues)
    except StoreError as error:
        print(f"error: state store ({config.store.backend}): {error}", file=sys.stderr)
        return EXIT_STORE
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
    issues = list(config.plugin_issues) + _plugin_code_issues(config)
    if issues:
        return _report(issues)
    ha = ", one active of several ([ha])" if config.ha.enabled else ""
    print(f"{config.file}: OK ({len(config.transports)} transport(s), "
          f"{len(config.plugins)} plugin(s), {config.store.backend} store{ha})")
    return 0


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
        return EXIT_STORE
    for statement in statements:
        print(f"{statement};")
    done = "would run" if args.dry_run else "ran"
    summary = f"{done} {len(statements)} statement(s)" if statements else "schema up to date"
    print(f"-- {entry.backend} store: {summary}")
    return 0


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
    return EXIT_CONFIG


def _init(args: argparse.Namespace) -> int:
    from importlib.resources import files  # here, not at the top: only init needs it

    example = files("univac").joinpath("example.toml").read_text(encoding="utf-8")
    if args.path == "-":
        sys.stdout.write(example)
        return 0
    path = Path(args.path)
    if path.exists() and not args.force:
        print(f"error: {path} exists; use --force to overwrite", file=sys.stderr)
        return EXIT_CONFIG
    path.write_text(example, encoding="utf-8")
    print(f"wrote {path}; check it with: univac check --config {path}")
    return 0
