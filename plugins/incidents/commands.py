"""The ``!incident`` subcommands: parse, check roles and privacy, answer. Reactive threads.

``!incident <subcommand> <arguments>`` (``!inc`` for short) is one Univac command whose
rest of line is parsed here, subcommand by subcommand; a mistake is answered with that
subcommand's usage line. Before a subcommand runs, the sender's roles are checked
(``privacy.py``): a refusal is answered and written to the audit trail, and so is
every write, with its outcome (``done``, ``rejected`` by a rule, ``failed`` in the
store). Answers with details are given only where ``privacy`` allows; elsewhere they
say that the incident exists and where to ask.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from univac import Context, StoreError, UserError
from univac.kit.text import one_line

from . import correlate, postmortem, render
from .model import SEVERITIES, severity_of
from .privacy import Access, access_of, refusal, viewers_only, where_to_look
from .service import Actor, Done, Incidents
from .settings import Settings

OPTION = re.compile(r"\s*--?(?P<name>[a-z-]+)(?:=|\s+)(?P<value>\S+)")
DUE = re.compile(r"\+?(?P<count>\d+)(?P<unit>[dw])")
STATUS_WORDS = {"done": "done", "cancel": "cancelled", "cancelled": "cancelled",
                "reopen": "open", "open": "open"}
TITLE_CHARS = 300


class Usage(UserError):
    """A mistake in the arguments: answered with the subcommand's usage line."""


@dataclass(frozen=True)
class Form:
    """How usage lines are written: ``!incident log ...`` or ``univac: log ...``."""

    lead: str
    usages: dict[str, str]

    def usage(self, sub: str) -> str:
        return f"{self.lead}{self.usages.get(sub, SUBS[sub].usage)}"


@dataclass(frozen=True)
class Call:
    """One subcommand call: who asks, where, when, and the operations."""

    ctx: Context[Settings]
    incidents: Incidents
    access: Access
    actor: Actor
    now: datetime
    touched: dict[str, str] = field(default_factory=dict)
    """What a write changed (the ``incident``), for its audit record."""

    @property
    def settings(self) -> Settings:
        return self.ctx.config

    def done(self, done: Done) -> Done:
        """Note the incident a write changed; return ``done``."""
        self.touched["incident"] = done.incident.id
        return done


Reply = str | None


@dataclass(frozen=True)
class Sub:
    """A subcommand: its name, whether it writes, its usage and what it does."""

    name: str
    write: bool
    doing: str
    usage: str
    summary: str
    run: Callable[[Call, str], Reply]


def run(ctx: Context[Settings], incidents: Incidents, line: str, form: Form) -> Reply:
    """Run the subcommand ``line`` names, as ``form`` spells it."""
    name, _, rest = line.strip().partition(" ")
    sub = SUBS.get(name.casefold() or "help")
    if sub is None:
        raise UserError(f"No subcommand '{one_line(name, 30)}'. Subcommands: "
                        f"{', '.join(SUBS)}. {form.lead}help <subcommand> explains one.")
    access = access_of(ctx, ctx.config)
    allowed = access.writer if sub.write else access.reader or sub.name == "help"
    action = f"incident.{sub.name}"
    if not allowed:
        reason = refusal(ctx.config, sub.write, sub.doing)
        ctx.audit(action, "refused", reason=reason, arguments=rest.strip()[:200])
        return reason
    call = Call(ctx, incidents, access, actor_of(ctx), ctx.now())
    try:
        reply = sub.run(call, rest.strip())
    except Usage as error:
        _audit_write(call, sub, "rejected", rest, reason=str(error))
        return f"{error}. Usage: {form.usage(sub.name)}"
    except StoreError as error:
        _audit_write(call, sub, "failed", rest, reason=str(error))
        raise
    except UserError as error:
        _audit_write(call, sub, "rejected", rest, reason=str(error))
        raise
    _audit_write(call, sub, "done", rest, **call.touched)
    return reply


def _audit_write(call: Call, sub: Sub, outcome: str, rest: str, **details: str) -> None:
    if sub.write:
        call.ctx.audit(f"incident.{sub.name}", outcome, arguments=rest.strip()[:200],
                       **details)


def actor_of(ctx: Context[Any]) -> Actor:
    message = ctx.message
    assert message is not None
    return Actor(message.identity or f"{message.transport}:{message.sender}", message.sender)


# the subcommands --------------------------------------------------------------------


def create(call: Call, rest: str) -> Reply:
    found, title = options(rest, {"sev": "severity", "severity": "severity",
                                  "service": "service", "env": "env"})
    if not title:
        raise Usage("missing title")
    severity = severity_of(found["severity"]) if "severity" in found else ""
    done = call.done(call.incidents.create(one_line(title, TITLE_CHARS), call.actor, call.now,
                                           severity, found.get("service", ""),
                                           found.get("env", "")))
    incident = done.incident
    if not call.access.details:
        return _lagging(f"Created {incident.id} (#{done.number}); {_ask(call)}.", done)
    return _lagging(f"Created {incident.id} (#{done.number}): {incident.severity} "
                    f"{incident.service} ({incident.env}). Document: "
                    f"{call.incidents.document(incident)}", done)


def list_(call: Call, rest: str) -> Reply:
    service = _one_word(rest, "service")
    rows = call.incidents.listed(service)
    whose = f" of {service}" if service else ""
    if not rows:
        return f"No open incidents{whose}."
    if not call.access.details:
        return f"{len(rows)} open incident(s){whose}; {_ask(call)}."
    lines = [render.incident_line(n, i, call.now) for n, i in rows]
    return render.bounded(lines, call.settings.max_lines, "narrow it down: list <service>")


def show(call: Call, rest: str) -> Reply:
    number, incident = call.incidents.find(_one_word(rest, "id", required=True))
    if not call.access.details:
        return f"{incident.id} is an incident; {_ask(call)}."
    lines = [render.incident_line(number, incident, call.now),
             one_line(f"env {incident.env}, started {incident.started_at}, opened by "
                      f"{incident.created_by}; document: {call.incidents.document(incident)}"
                      + "".join(f"; {k} {v}" for k, v in incident.refs.items()), 400)]
    zone = call.incidents.shifts.zone
    lines += [render.event_line(e, zone)
              for e in call.incidents.timeline(incident, call.settings.show_events)]
    return render.bounded(lines, call.settings.max_lines, f"see {incident.id}'s document")


def log(call: Call, rest: str) -> Reply:
    ref, text = _ref_and_text(rest, "text")
    done = call.done(call.incidents.log(ref, one_line(text, 1000), call.actor, call.now))
    return _lagging(f"Logged on {done.incident.id}.", done)


def sev(call: Call, rest: str) -> Reply:
    ref, level = _ref_and_text(rest, "severity")
    done = call.done(call.incidents.set_severity(ref, severity_of(level), call.actor, call.now))
    return _lagging(f"{done.incident.id} is now {done.incident.severity}.", done)


def coordinator(call: Call, rest: str) -> Reply:
    ref, who = _ref_and_text(rest, "coordinator")
    done = call.done(call.incidents.set_coordinator(ref, one_line(who, 100), call.actor,
                                                    call.now))
    return _lagging(f"{done.incident.coordinator} now coordinates {done.incident.id}.", done)


def _status(action: str, said: str) -> Callable[[Call, str], Reply]:
    def change(call: Call, rest: str) -> Reply:
        ref = _one_word(rest, "id", required=True)
        done = call.done(call.incidents.set_status(ref, action, call.actor, call.now))
        return _lagging(f"{said} {done.incident.id}.", done)

    return change


def note(call: Call, rest: str) -> Reply:
    if not rest:
        raise Usage("missing text")
    shift = call.incidents.note(one_line(rest, 1000), call.actor, call.now)
    return f"Noted for the handover of the shift {shift.label()}."


def notes(call: Call, rest: str) -> Reply:
    if rest.casefold() not in ("", "prior", "previous", "-p"):
        raise Usage(f"unexpected {rest!r}")
    prior = bool(rest)
    shift, found = call.incidents.notes(call.now, prior)
    which = "prior shift" if prior else "shift"
    if not found:
        return f"No handover notes for the {which} ({shift.label()})."
    if not call.access.details:
        return f"{len(found)} handover note(s) for the {which}; {_ask(call)}."
    zone = call.incidents.shifts.zone
    lines = [f"Handover notes of the {which} {shift.label()}:"]
    lines += [render.event_line(e, zone, typed=False) for e in found]
    return render.bounded(lines, call.settings.max_lines, "the rest is in the incident log")


def followup(call: Call, rest: str) -> Reply:
    ref, text = _ref_and_text(rest, "title")
    words = text.split()
    if len(words) == 2 and words[0].casefold() in STATUS_WORDS and words[1].isdigit():
        status = STATUS_WORDS[words[0].casefold()]
        done, item = call.incidents.set_followup(ref, int(words[1]), status, call.actor,
                                                 call.now)
        call.done(done)
        return _lagging(f"Follow-up {item.number} of {done.incident.id} is {status}.", done)
    found, title = options(text, {"owner": "owner", "due": "due", "priority": "priority",
                                  "prio": "priority"})
    if not title:
        raise Usage("missing title")
    today = call.incidents.shifts.today(call.now)
    due = due_of(found["due"], today) if "due" in found else \
        today + timedelta(seconds=call.settings.followup_due_s)
    priority = severity_of(found.get("priority", "P2"))
    done, item = call.incidents.add_followup(
        ref, one_line(title, TITLE_CHARS), found.get("owner", call.actor.nick), priority, due,
        call.actor, call.now)
    call.done(done)
    return _lagging(f"Follow-up {item.number} of {done.incident.id} added, due "
                    f"{item.due.isoformat()}.", done)


def followups(call: Call, rest: str) -> Reply:
    service = _one_word(rest, "service")
    found = call.incidents.open_followups(service)
    if not found:
        return "No open follow-ups."
    today = call.incidents.shifts.today(call.now)
    late = sum(1 for _, f in found if f.overdue(today))
    if not call.access.details:
        return f"{len(found)} open follow-up(s), {late} overdue; {_ask(call)}."
    lines = [render.followup_line(i, f, today) for i, f in found]
    return render.bounded(lines, call.settings.max_lines, "narrow it down: followups <service>")


def recurrence(call: Call, rest: str) -> Reply:
    service = _one_word(rest, "service")
    counts = call.incidents.recurrence(call.now, service)
    whose = f" of {service}" if service else ""
    if not counts:
        return f"No incidents{whose} in the last 30 days."
    flagged = sum(c.flagged for c in counts)
    if not call.access.details:
        return f"{flagged} service(s) or alert signature(s){whose} flagged for recurrence; " \
               f"{_ask(call)}."
    lines = [f"Incidents{whose} in the last 7 and 30 days, {flagged} flagged:"]
    lines += [c.line(call.settings.thresholds) for c in counts]
    return render.bounded(lines, call.settings.max_lines, "narrow it down: recurrence <service>")


def postmortem_(call: Call, rest: str) -> Reply:
    ref = _one_word(rest, "id", required=True)
    make = postmortem.maker(call.incidents.store, call.actor.nick, call.now)
    done, artifact = call.incidents.attach(ref, make, call.actor, call.now)
    call.done(done)
    where = postmortem.where(call.incidents.health().active)
    return _lagging(f"Postmortem draft of {done.incident.id}: {artifact.path} {where}.", done)


def status(call: Call, rest: str) -> Reply:
    health = call.incidents.health()
    head = f"Incident store: {health.store}, writing to {health.active}"
    if not call.access.details:
        return f"{head}."
    problems = f" Problems: {'; '.join(health.problems[-3:])}" if health.problems else ""
    return one_line(f"{head}: {health.detail}.{problems}", 600)


def help_(call: Call, rest: str) -> Reply:
    lead = f"{call.ctx.bot.prefix}incident "
    wanted = rest.strip().casefold()
    if wanted in SUBS:
        sub = SUBS[wanted]
        return f"{lead}{sub.usage} - {sub.summary}"
    return (f"Incident subcommands: {', '.join(SUBS)}. {lead}help <subcommand> explains "
            f"one; {call.ctx.bot.prefix}inc is short for {lead.strip()}.")


# argument helpers -------------------------------------------------------------------


def options(text: str, names: dict[str, str]) -> tuple[dict[str, str], str]:
    """Leading ``--name value`` pairs (by their key in ``names``) and the rest."""
    found: dict[str, str] = {}
    position = 0
    while (match := OPTION.match(text, position)) is not None:
        name = match.group("name")
        if name not in names:
            raise Usage(f"unknown option --{name}")
        found[names[name]] = match.group("value")
        position = match.end()
    return found, text[position:].strip()


def due_of(text: str, today: date) -> date:
    """A due date from ``2026-03-10``, ``3d`` or ``2w`` (from ``today``)."""
    relative = DUE.fullmatch(text.casefold())
    if relative:
        days = int(relative.group("count")) * (7 if relative.group("unit") == "w" else 1)
        return today + timedelta(days=days)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Usage(f"due: expected a date (2026-03-10) or a delay (3d, 2w), got {text!r}") \
            from None


def _one_word(rest: str, what: str, required: bool = False) -> str:
    words = rest.split()
    if required and not words:
        raise Usage(f"missing {what}")
    if len(words) > 1:
        raise Usage(f"too many arguments: {words[1]!r}")
    return words[0] if words else ""


def _ref_and_text(rest: str, what: str) -> tuple[str, str]:
    ref, _, text = rest.partition(" ")
    if not ref:
        raise Usage("missing id")
    if not text.strip():
        raise Usage(f"missing {what}")
    return ref, text.strip()


def _ask(call: Call) -> str:
    """Where details may be had: ``for details ask me in a private message``."""
    if not call.access.viewer:
        return viewers_only(call.settings)
    return f"for details {where_to_look(call.settings)}"


def _lagging(text: str, done: Done) -> str:
    return f"{text} ({done.lag})" if done.lag else text


SUBS: dict[str, Sub] = {sub.name: sub for sub in (
    Sub("create", True, "create incidents",
        "create [--sev P0-P3] [--service S] [--env E] <title>",
        "open an incident; answers with its id", create),
    Sub("list", False, "list incidents", "list [service]", "the open incidents", list_),
    Sub("show", False, "read incidents", "show <id>",
        "one incident and its latest timeline entries", show),
    Sub("log", True, "log on incidents", "log <id> <text>", "add a comment to the timeline",
        log),
    Sub("sev", True, "change incidents", f"sev <id> <{'|'.join(SEVERITIES)}>",
        "change the severity", sev),
    Sub("coordinator", True, "change incidents", "coordinator <id> <who>",
        "(re)assign the incident coordinator", coordinator),
    Sub("resolve", True, "resolve incidents", "resolve <id>",
        "out of the list, still open for follow-up", _status("resolve", "Resolved")),
    Sub("close", True, "close incidents", "close <id>", "close a resolved incident",
        _status("close", "Closed")),
    Sub("reopen", True, "reopen incidents", "reopen <id>", "back to open",
        _status("reopen", "Reopened")),
    Sub("note", True, "write handover notes", "note <text>",
        "a note for the current shift's handover", note),
    Sub("notes", False, "read handover notes", "notes [prior]",
        "this shift's handover notes, or the prior shift's", notes),
    Sub("followup", True, "add follow-ups",
        "followup <id> [--owner W] [--due 2026-03-10|3d] [--priority P0-P3] <title> | "
        "followup <id> done|cancel|reopen <n>",
        "add a follow-up to an incident, or change one's status", followup),
    Sub("followups", False, "read follow-ups", "followups [service]",
        "open follow-ups, the overdue marked", followups),
    Sub("recurrence", False, "read incidents", "recurrence [service]",
        "incidents per service and alert signature over 7 and 30 days, flagged first",
        recurrence),
    Sub("postmortem", True, "draft postmortems", "postmortem <id>",
        "write a postmortem draft from the timeline, kept as an artifact", postmortem_),
    Sub("status", False, "read incidents", "status", "which store is in use", status),
    Sub("correlate", False, "read incidents", correlate.USAGE, correlate.SUMMARY,
        correlate.subcommand),
    Sub("help", False, "", "help [subcommand]", "these subcommands", help_),
)}
