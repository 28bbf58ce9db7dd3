"""The release gate: may a service be released now? Main thread of ``univac incidents``.

    univac incidents gate --service S [--env E] [--strict] [--json] [--details]
                          [--config FILE]

It reads the store of ``[plugins.incidents]`` without changing it (``offline.py``; no
bot needs to run) and blocks the release when the service (in environment ``E``, if
given; names compared ignoring case) has:

- an open incident of severity P0 or P1 (``--strict``: P0 to P2); a resolved one (out
  of ``list``, open for follow-up only) does not block;
- an open follow-up, of any of its incidents, whatever their status, whose due date
  has passed (``--strict``: due today too). Today is the date in ``shift_zone``, as
  ``!incident followups`` counts it.

It prints one line per reason (``blocked: inc_... is an open P1 incident of api (prod),
started ...``), or one ``pass: ...`` line; ``--json`` prints one JSON object instead
(docs/incidents.md, "Release gate"). Titles and owners are shown only with
``--details``: CI logs are often read more widely than incidents may be.

Exit codes (the gate's own: a CI job tells "blocked" from "could not decide"): 0 pass,
1 blocked, 2 a mistake on the command line, 3 the configuration or the store could
not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from . import offline
from .digest import View
from .model import FOLLOWUP, FOLLOWUP_STATUS, Incident, followups

PASS, BLOCKED, USAGE, UNKNOWN = 0, 1, 2, 3
FORMAT = 1


@dataclass(frozen=True)
class Reason:
    """One thing that blocks the release."""

    kind: str
    """``incident`` or ``followup``."""
    incident: str
    text: str
    """The line printed after ``blocked: ``, without details."""
    details: str
    """What ``--details`` adds: a title (and a follow-up's owner)."""
    record: dict[str, Any]
    """The reason's JSON object."""


def check(view: View, service: str, env: str, strict: bool, today: date) -> list[Reason]:
    """Every reason to block ``service`` (in ``env``, when given): incidents first."""
    mine = {i.id: i for i in view.incidents() if _matches(i, service, env)}
    levels = ("P0", "P1", "P2") if strict else ("P0", "P1")
    found = [_incident_reason(i) for i in sorted(
        mine.values(), key=lambda i: (i.severity, i.started_at, i.id))
        if i.status == "open" and i.severity in levels]
    items = [f for f in followups(view.events(types=(FOLLOWUP, FOLLOWUP_STATUS)))
             if f.incident_id in mine and f.status == "open" and
             (f.due <= today if strict else f.due < today)]
    items.sort(key=lambda f: (f.due, f.incident_id, f.number))
    return found + [_followup_reason(f, today) for f in items]


def run(args: argparse.Namespace) -> int:
    """``univac incidents gate``: print the verdict; the exit code."""
    if not args.service.strip():
        print("gate: --service must name a service", file=sys.stderr)
        return USAGE
    try:
        settings = offline.settings_of(args.config)
        records = offline.read_only(settings, args.config)
    except offline.Unreadable as error:
        return _cannot_decide(args, str(error))
    today = settings.shifts.today(datetime.now(UTC))
    reasons = check(records, args.service, args.env, args.strict, today)
    code = BLOCKED if reasons else PASS
    if args.json:
        print(json.dumps(_verdict(args, code, reasons, today, records.source), sort_keys=True))
    elif reasons:
        for reason in reasons:
            print(f"blocked: {reason.text}{reason.details if args.details else ''}")
    else:
        print(f"pass: {_pass_line(args)}")
    return code


def _matches(incident: Incident, service: str, env: str) -> bool:
    return incident.service.casefold() == service.strip().casefold() and \
        (not env or incident.env.casefold() == env.strip().casefold())


def _incident_reason(incident: Incident) -> Reason:
    text = (f"{incident.id} is an open {incident.severity} incident of {incident.service} "
            f"({incident.env}), started {incident.started_at}")
    return Reason("incident", incident.id, text, f": {incident.title}", {
        "kind": "incident", "incident": incident.id, "severity": incident.severity,
        "env": incident.env, "started_at": incident.started_at, "title": incident.title})


def _followup_reason(item: Any, today: date) -> Reason:
    due = item.due.isoformat()
    when = f"is due today ({due})" if item.due == today else f"was due {due}"
    text = (f"follow-up {item.number} of {item.incident_id} ({item.priority}) {when} and is "
            "still open")
    return Reason("followup", item.incident_id, text,
                  f": {item.title} (owner {item.owner})", {
                      "kind": "followup", "incident": item.incident_id,
                      "followup": item.number, "priority": item.priority, "due": due,
                      "title": item.title, "owner": item.owner})


def _verdict(args: argparse.Namespace, code: int, reasons: Iterable[Reason], today: date | None,
             source: str | None, error: str | None = None) -> dict[str, Any]:
    hidden = {"title": None, "owner": None}
    return {
        "format": FORMAT, "service": args.service, "env": args.env or None,
        "strict": args.strict, "today": today.isoformat() if today else None,
        "source": source, "exit_code": code, "error": error,
        "verdict": {PASS: "pass", BLOCKED: "blocked"}.get(code, "unknown"),
        "reasons": [{**r.record, **({} if args.details else
                                    {k: v for k, v in hidden.items() if k in r.record}),
                     "text": r.text} for r in reasons],
    }


def _cannot_decide(args: argparse.Namespace, error: str) -> int:
    print(f"gate: cannot decide: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps(_verdict(args, UNKNOWN, (), None, None, error), sort_keys=True))
    return UNKNOWN


def _pass_line(args: argparse.Namespace) -> str:
    where = f" ({args.env})" if args.env else ""
    levels = "P0-P2" if args.strict else "P0/P1"
    late = "overdue or due-today" if args.strict else "overdue"
    return f"{args.service}{where} has no open {levels} incident and no {late} follow-up"
