"""``univac runbook``: lint, simulate, promote, overrides. The ``univac`` process, no bot.

Installed as the ``univac.commands`` entry point ``runbook``; ``main(argv)`` gets the
arguments after the name and returns the exit code: 0 fine, 1 problems found (lint
errors, nothing matching, a refused promotion, an unreadable configuration), 2 a bad
command line.

    univac runbook lint DIR [--environments staging,prod] [--strict] [--format github]
    univac runbook simulate DIR --service S --symptom TEXT [--env E] [--output STEP=FILE]
    univac runbook promote DIR --action ID --env prod --evidence-url URL [--by NAME]
    univac runbook overrides [--since 30d] [--audit-file PATH] [--format json]

``--config FILE`` (or ``$UNIVAC_CONFIG``) reads the bot's settings: the environments,
PATH, variables and secrets that lint checks against, and the audit file's place.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from univac import ConfigError, plugin_settings, state_folder

from . import lint as linting
from . import overrides as report
from . import promotion
from .catalogue import Catalogue, load
from .settings import DEFAULT_PATH, Settings
from .simulate import simulate

PLUGIN = "runbooks"


class Refused(Exception):
    """A problem to print (``univac runbook: ...``) before exiting with 1."""


def main(argv: list[str]) -> int:
    """Run one subcommand; the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse's way of saying "bad command line" (or --help)
        return int(stop.code or 0)
    try:
        return int(args.run(args))
    except (ConfigError, Refused) as error:
        print(f"univac runbook: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"univac runbook: {error.filename or ''}: {error.strerror or error}",
              file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="univac runbook",
                                     description="Runbook catalogues: lint, simulate, promote, "
                                                 "and the overrides report.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    check = _command(commands, "lint", "check a catalogue (for CI)", lint)
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument("--format", choices=("text", "github"), default="text",
                       help="github: workflow annotations")
    flow = _command(commands, "simulate", "the flow for a synthetic alert; runs nothing",
                    run_simulate)
    flow.add_argument("--service", default="", help="the alert's service (empty: any)")
    flow.add_argument("--symptom", required=True, help="the alert's name or words")
    flow.add_argument("--env", default="", help="judge the guards in this environment")
    flow.add_argument("--output", action="append", default=[], metavar="STEP=FILE",
                      help="a step's output to judge its expect patterns (repeatable)")
    promote = _command(commands, "promote", "promote a step's current version", run_promote)
    promote.add_argument("--action", required=True, metavar="ID", help="the step's id")
    promote.add_argument("--env", required=True, help="the environment, e.g. prod")
    promote.add_argument("--evidence-url", required=True, help="where the evidence is")
    promote.add_argument("--by", default="", help="who promotes (default: your login)")
    used = commands.add_parser("overrides", help="steps that most often needed a human")
    used.add_argument("--since", default="30d", help="period: 30d, 12h, 2w (default 30d)")
    used.add_argument("--audit-file", type=Path, help="the audit file (default: the bot's)")
    used.add_argument("--config", type=Path, help="the bot's configuration file")
    used.add_argument("--format", choices=("text", "json"), default="text")
    used.set_defaults(run=run_overrides)
    return parser


def _command(commands: argparse._SubParsersAction, name: str, about: str,
             run: object) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=about, description=about)
    parser.add_argument("dir", type=Path, metavar="DIR", help="the catalogue folder")
    parser.add_argument("--config", type=Path, help="the bot's configuration file")
    parser.add_argument("--environments", default="",
                        help="known environments, comma-separated (default: the bot's, "
                             "else staging,prod)")
    parser.add_argument("--path", default="", help=f"PATH for programs (default {DEFAULT_PATH})")
    parser.set_defaults(run=run)
    return parser


def settings_for(args: argparse.Namespace) -> tuple[Settings, bool]:
    """The plugin's settings from the configuration file, else defaults for ``DIR``;
    and whether they came from a file."""
    config = args.config or os.environ.get("UNIVAC_CONFIG")
    root = str(args.dir.resolve())
    settings = plugin_settings(PLUGIN, config) if config else \
        Settings(catalogue=root)
    if args.path:
        settings = dataclasses.replace(settings, path=args.path)
    known = tuple(e.strip() for e in args.environments.split(",") if e.strip())
    if not known:
        return settings, bool(config)
    return dataclasses.replace(
        settings, environments=known, default_environment=known[0],
        alert_environment=known[-1],
        promoted_environments=tuple(e for e in settings.promoted_environments if e in known),
        variables={e: v for e, v in settings.variables.items() if e in known},
        secret_files={e: v for e, v in settings.secret_files.items() if e in known},
    ), bool(config)


def _catalogue(args: argparse.Namespace) -> Catalogue | None:
    if not args.dir.is_dir():
        print(f"univac runbook: {args.dir}: not a folder", file=sys.stderr)
        return None
    return load(args.dir)


def lint(args: argparse.Namespace) -> int:
    settings, configured = settings_for(args)
    catalogue = _catalogue(args)
    if catalogue is None:
        return 1
    problems = linting.lint(catalogue, settings, configured)
    for problem in problems:
        print(_github(problem, args.dir) if args.format == "github" else problem)
    errors = sum(1 for p in problems if p.level == "error")
    warnings = len(problems) - errors
    print(f"{errors} error(s), {warnings} warning(s) in {len(catalogue.steps)} valid step(s)"
          f" of {args.dir}", file=sys.stderr)
    return 1 if errors or (args.strict and warnings) else 0


def _github(problem: linting.Problem, root: Path) -> str:
    line = f",line={problem.line}" if problem.line else ""
    text = f"{problem.step}: {problem.reason}" if problem.step else problem.reason
    return f"::{problem.level} file={root / problem.file}{line}::{text}"


def run_simulate(args: argparse.Namespace) -> int:
    settings, _ = settings_for(args)
    catalogue = _catalogue(args)
    if catalogue is None:
        return 1
    if args.env and args.env not in settings.environments:
        print(f"univac runbook: --env {args.env}: not one of {', '.join(settings.environments)}",
              file=sys.stderr)
        return 2
    outputs = {}
    for item in args.output:
        step, equals, file = item.partition("=")
        if not equals or not step or not file:
            print(f"univac runbook: --output {item}: write STEP=FILE", file=sys.stderr)
            return 2
        outputs[step] = Path(file).read_text(encoding="utf-8", errors="replace")
    unknown = sorted(set(outputs) - set(catalogue.steps))
    if unknown:
        print(f"univac runbook: --output for unknown step(s): {', '.join(unknown)}",
              file=sys.stderr)
        return 1
    result = simulate(catalogue, settings, args.service, args.symptom, args.env, outputs)
    print("\n".join(result.lines))
    return 0 if result.offered else 1


def run_promote(args: argparse.Namespace) -> int:
    catalogue = _catalogue(args)
    if catalogue is None:
        return 1
    step = catalogue.get(args.action)
    refusal = promotion.evidence_problem(args.evidence_url)
    if step is None:
        problems = [str(p) for p in catalogue.problems if p.step == args.action]
        refusal = f"no valid step {args.action} in {args.dir}" + \
            (": " + "; ".join(problems) if problems else "")
    elif args.env not in step.safety.scopes:
        refusal = f"{step.id} may run only in {', '.join(step.safety.scopes)}, not {args.env}"
    if refusal:
        print(f"univac runbook: not promoted: {refusal}", file=sys.stderr)
        return 1
    assert step is not None
    if catalogue.promotions.of(step.id, args.env, step.version) is not None:
        print(f"{step.id} version {step.version} is already promoted to {args.env}.")
        return 0
    record = promotion.Promotion(
        step.id, args.env, step.version, args.by or getpass.getuser(),
        datetime.now(UTC).isoformat(timespec="seconds"), args.evidence_url, catalogue.commit)
    promotion.add(args.dir, record)
    print(f"Promoted {step.id} version {step.version} to {args.env} (evidence "
          f"{args.evidence_url}). Commit {promotion.FILE} to make it count.")
    return 0


def run_overrides(args: argparse.Namespace) -> int:
    try:
        since = datetime.now(UTC) - report.period(args.since)
    except ValueError as error:
        print(f"univac runbook: --since: {error}", file=sys.stderr)
        return 2
    audit = args.audit_file or audit_file(args.config or os.environ.get("UNIVAC_CONFIG"))
    if audit is None:
        print("univac runbook: name the audit file: --audit-file PATH, or --config FILE "
              "(or $UNIVAC_CONFIG)", file=sys.stderr)
        return 2
    if not report.files(audit):
        print(f"univac runbook: {audit}: no such file", file=sys.stderr)
        return 1
    found = report.report(audit, since)
    if args.format == "json":
        print(report.as_json(found))
        return 0
    print(f"Steps that needed a human since {since:%Y-%m-%d %H:%M} UTC ({args.since}), "
          f"from {audit}:")
    print("\n".join(report.table(found)) if found.rows else "No runbook records in that time.")
    if found.unreadable:
        print(f"({found.unreadable} line(s) of the audit trail were not JSON)", file=sys.stderr)
    return 0


def audit_file(config: str | Path | None) -> Path | None:
    """Where the bot writes its audit trail, from the ``[bot]`` table of its configuration:
    ``audit_file`` (once ``audit_log``) in the state folder, found the way the bot does."""
    if not config:
        return None
    path = Path(config)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("bot", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise Refused(f"{path}: cannot read the configuration: {error}") from None
    name = str(table.get("audit_file") or table.get("audit_log") or "audit.jsonl")
    try:
        return state_folder(path) / name
    except ConfigError as error:
        raise Refused(str(error)) from None


