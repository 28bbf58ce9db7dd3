"""``univac incidents ...``: the incidents plugin's command-line tool. Main thread, no bot.

    univac incidents migrate [--dry-run] [--config FILE]
    univac incidents gate --service S [--env E] [--strict] [--json] [--details]
                          [--config FILE]

``migrate`` creates the PostgreSQL tables (``incidents``, ``incident_events``,
``incident_artifacts``) if they are missing, with the ``dsn`` of ``[plugins.incidents]``
(secrets from ``dsn_file``/``dsn_env``), and prints the statements; running it again
changes nothing. ``--dry-run`` prints the statements without connecting (no
configuration needed). Exit codes: 0 done, 1 a configuration or database problem, 2 a
command-line mistake.

``gate`` is the release gate (``gate.py``): exit 0 pass, 1 blocked (open P0/P1
incidents or overdue follow-ups of the service), 2 a command-line mistake, 3 the
configuration or the store could not be read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from univac import StoreError

from . import gate, offline
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
    _gate_parser(actions)
    return parser


def _gate_parser(actions: Any) -> None:
    checks = actions.add_parser(
        "gate", help="exit 1 when a service has open P0/P1 incidents or overdue follow-ups",
        description="Block a release: exit 0 pass, 1 blocked, 2 a command-line mistake, "
                    "3 the configuration or the store could not be read.")
    checks.add_argument("--service", required=True, help="the service to release")
    checks.add_argument("--env", default="", help="its environment (default: any)")
    checks.add_argument("--strict", action="store_true", help="P2 incidents and follow-ups "
                        "due today block too")
    checks.add_argument("--json", action="store_true", help="print one JSON object")
    checks.add_argument("--details", action="store_true", help="show titles and owners")
    checks.add_argument("--config", type=Path, default=None,
                        help="TOML file (default: $UNIVAC_CONFIG)")
    checks.set_defaults(handler=gate.run)


def _migrate(args: argparse.Namespace) -> int:
    if args.dry_run:
        _print(DDL)
        return 0
    try:
        settings = offline.settings_of(args.config)
    except offline.Unreadable as error:
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
