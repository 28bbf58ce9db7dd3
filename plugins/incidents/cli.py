"""``univac incidents ...``: the incidents plugin's command-line tool. Main thread, no bot.

    univac incidents migrate [--dry-run] [--config FILE]

``migrate`` creates the PostgreSQL tables (``incidents``, ``incident_events``,
``incident_artifacts``) if they are missing, with the ``dsn`` of ``[plugins.incidents]``
(secrets from ``dsn_file``/``dsn_env``), and prints the statements; running it again
changes nothing. ``--dry-run`` prints the statements without connecting (no
configuration needed). Exit codes: 0 done, 1 a configuration or database problem, 2 a
command-line mistake. Later subcommands (a release gate) go beside ``migrate``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from univac import ConfigError, StoreError, plugin_settings

from .stores.configured import postgres_of
from .stores.postgres import DDL

log = logging.getLogger("univac.plugin.incidents")


def main(argv: list[str]) -> int:
    """Run ``univac incidents ARGS``; the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as leaving:
        return int(leaving.code or 0)
    return int(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="univac incidents",
                                     description="The incidents plugin's tools.")
    actions = parser.add_subparsers(dest="action", required=True)
    migrate = actions.add_parser("migrate", help="create the PostgreSQL tables if missing")
    migrate.add_argument("--dry-run", action="store_true", help="print the SQL; connect to "
                         "nothing")
    migrate.add_argument("--config", type=Path, default=None,
                         help="TOML file (default: $UNIVAC_CONFIG)")
    migrate.set_defaults(handler=_migrate)
    return parser


def _migrate(args: argparse.Namespace) -> int:
    if args.dry_run:
        _print(DDL)
        return 0
    try:
        settings = plugin_settings("incidents", args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    if not settings.dsn:
        print("[plugins.incidents] has no dsn: nothing to migrate (the jsonl store needs "
              "no set-up)", file=sys.stderr)
        return 1
    store = postgres_of(settings)
    try:
        _print(store.migrate())
    except StoreError as error:
        print(f"migration failed: {error} ({store.last_error})", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _print(statements: tuple[str, ...] | list[str]) -> None:
    for statement in statements:
        print(f"{statement};")
