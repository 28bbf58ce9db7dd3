"""The incident log's records and the rules they follow. Pure data; any thread.

Three kinds of record, as the incident log keeps them (one JSON object each, in
``incidents.jsonl``, ``events.jsonl`` and ``artifacts.jsonl``, or one row each in the
tables ``incidents``, ``incident_events`` and ``incident_artifacts``):

- ``Incident``: the current state of one incident. Every change writes a new snapshot
  with ``version`` one higher; the snapshot with the highest version wins. Ids read
  ``inc_YYYYMMDD_HHMM_<rand>`` (UTC), ``<rand>`` six lowercase hex digits, never all
  digits, so that a short id never looks like a number from ``list``.
- ``Event``: one entry of a timeline, typed (``created``, ``comment``, ``severity``,
  ``coordinator``, ``status``, ``followup``, ``followup_status``, ``handover_note``,
  ``artifact``),
  with who (the transport identity), when, a message and ``meta``. Handover notes
  belong to no incident (``incident_id`` null).
- ``Artifact``: a file attached to an incident (json, md or txt, at most 2 MB).

Rules: the status goes ``open`` -> ``resolved`` -> ``closed``, and ``reopen`` goes back
to ``open`` (``transition``); follow-ups carry a title, owner, priority, due date and
status (``FollowUp``). Records written by other tools may carry more keys: they are
kept as they are in ``meta`` when read, never rejected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from univac import UserError

SEVERITIES = ("P0", "P1", "P2", "P3")
STATUSES = ("open", "resolved", "closed")
FOLLOWUP_STATUSES = ("open", "done", "cancelled")
ARTIFACT_FORMATS = ("json", "md", "txt")
MAX_ARTIFACT_BYTES = 2 * 1024 * 1024
CREATED, COMMENT, SEVERITY, COORDINATOR, STATUS = (
    "created", "comment", "severity", "coordinator", "status")
FOLLOWUP, FOLLOWUP_STATUS, NOTE = "followup", "followup_status", "handover_note"
ATTACHED = "artifact"
"""An artifact added to an incident after its creation (a postmortem draft)."""
INCIDENT_ID = re.compile(r"inc_\d{8}_\d{4}_[0-9a-z]+")
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


class RuleError(UserError):
    """A change the rules do not allow (its text is for the user)."""


def timestamp(moment: datetime) -> str:
    """``2026-03-02T08:14:03.123456Z``: UTC, microseconds, as every record writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """An aware datetime from a record's timestamp (ISO 8601; naive means UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_incident_id(now: datetime, taken: Iterable[str] = ()) -> str:
    """A fresh ``inc_YYYYMMDD_HHMM_<rand>`` not in ``taken``."""
    used = set(taken)
    stamp = now.astimezone(UTC).strftime("%Y%m%d_%H%M")
    while True:
        rand = secrets.token_hex(3)
        made = f"inc_{stamp}_{rand}"
        if not rand.isdigit() and made not in used:
            return made


def new_id(prefix: str) -> str:
    """A random record id such as ``ev_3f9a...``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def short_id(incident_id: str) -> str:
    """The last part of an id: ``a1b2c3`` of ``inc_20260302_0814_a1b2c3``."""
    return incident_id.rsplit("_", 1)[-1]


class Record:
    """A record of the incident log: to and from its JSON object (one line, one row)."""

    def to_record(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_record(cls: type[R], record: Mapping[str, Any]) -> R:
        """Build it from a JSON object: unknown keys go to ``meta``, a null counts as
        missing (but where null is a value); ValueError when it is unusable."""
        return _from_record(cls, record)


R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Incident(Record):
    """One incident's current state (one snapshot; the highest ``version`` wins)."""

    id: str
    title: str
    service: str
    env: str
    severity: str
    status: str
    started_at: str
    created_by: str
    created_at: str
    updated_at: str
    coordinator: str = ""
    resolved_at: str | None = None
    closed_at: str | None = None
    version: int = 1
    refs: Mapping[str, str] = field(default_factory=dict)
    """Where the incident is mirrored: tracker name -> its reference (``T123``)."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Anything else: alert signatures, keys other tools wrote."""

    def changed(self, now: datetime, **changes: Any) -> Incident:
        """The next snapshot: ``changes`` applied, version + 1, ``updated_at`` now."""
        return dataclasses.replace(self, **changes, version=self.version + 1,
                                   updated_at=timestamp(now))


@dataclass(frozen=True)
class Event(Record):
    """One timeline entry; ``incident_id`` None for a handover note."""

    id: str
    incident_id: str | None
    ts: str
    type: str
    message: str
    actor: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifact(Record):
    """A file attached to an incident; ``path`` is ``<incident_id>/<name>``."""

    id: str
    incident_id: str
    name: str
    format: str
    size_bytes: int
    sha256: str
    path: str
    created_at: str
    created_by: str


@dataclass(frozen=True)
class Batch:
    """The records of one change, saved together: events, artifacts, then snapshots."""

    incidents: tuple[Incident, ...] = ()
    events: tuple[Event, ...] = ()
    artifacts: tuple[tuple[Artifact, bytes], ...] = ()

    def __len__(self) -> int:
        return len(self.incidents) + len(self.events) + len(self.artifacts)


def _record(value: Any) -> dict[str, Any]:
    record = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in record.items()}


def _from_record(cls: type, record: Mapping[str, Any]) -> Any:
    """Build ``cls`` from a record; unknown keys go to ``meta``; ValueError when unusable."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    given = {k: v for k, v in record.items()
             if k in names and (v is not None or k in NULLABLE)}
    extra = {k: v for k, v in record.items() if k not in names}
    if extra and "meta" in names:
        given["meta"] = {**extra, **dict(given.get("meta") or {})}
    for key in ("refs", "meta"):
        if key in given and not isinstance(given[key], Mapping):
            raise ValueError(f"{key} is no JSON object")
    if "version" in given:
        given["version"] = int(given["version"])
    missing = [n for n, f in names.items() if n not in given and _required(f)]
    if missing:
        raise ValueError(f"a {cls.__name__.lower()} record without {', '.join(missing)}")
    return cls(**given)


NULLABLE = frozenset({"incident_id", "resolved_at", "closed_at"})
"""Keys whose null is a value; any other null counts as missing (its default applies)."""


def _required(spec: dataclasses.Field[Any]) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def encode(record: Mapping[str, Any]) -> bytes:
    """One JSON line: UTF-8, compact, ending in a newline."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


# rules ---------------------------------------------------------------------------------

TRANSITIONS = {"resolve": ("resolved", ("open",)), "close": ("closed", ("resolved",)),
               "reopen": ("open", ("resolved", "closed"))}


def transition(incident: Incident, action: str) -> str:
    """The status ``action`` leads to; RuleError saying why not."""
    target, sources = TRANSITIONS[action]
    if incident.status == target:
        raise RuleError(f"{incident.id} is already {target}.")
    if incident.status not in sources:
        hint = {"close": "resolve it first", "resolve": "reopen it first"}.get(action, "")
        raise RuleError(f"{incident.id} is {incident.status}: {hint}.")
    return target


def severity_of(text: str) -> str:
    """``P0``..``P3`` from what a user typed (any case); RuleError otherwise."""
    found = text.strip().upper()
    if found not in SEVERITIES:
        raise RuleError(f"'{text}' is no severity: use one of {', '.join(SEVERITIES)}.")
    return found


def digest(content: bytes) -> str:
    """The hex SHA-256 an artifact record carries."""
    return hashlib.sha256(content).hexdigest()


def check_artifact(name: str, content: bytes) -> str:
    """The artifact's format (json, md, txt) after checking its name, type and size."""
    if not SAFE_NAME.fullmatch(name):
        raise RuleError(f"'{name}' is no artifact name: letters, digits, '.', '_', '-'.")
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind not in ARTIFACT_FORMATS:
        raise RuleError(f"{name}: artifacts are {', '.join(ARTIFACT_FORMATS)} files only.")
    if len(content) > MAX_ARTIFACT_BYTES:
        raise RuleError(f"{name}: {len(content)} bytes, more than the 2 MB an artifact may have.")
    try:
        text = content.decode("utf-8")
        if kind == "json":
            json.loads(text)
    except (UnicodeDecodeError, ValueError):
        what = "JSON" if kind == "json" else "UTF-8 text"
        raise RuleError(f"{name}: not valid {what}.") from None
    return kind


# follow-ups ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """A follow-up of an incident, folded from its ``followup`` and status events."""

    id: str
    incident_id: str
    number: int
    """1, 2, ... in the order the incident's follow-ups were added."""
    title: str
    owner: str
    priority: str
    due: date
    status: str

    def overdue(self, today: date) -> bool:
        return self.status == "open" and self.due < today


def followup_meta(title: str, owner: str, priority: str, due: date) -> dict[str, Any]:
    """The required meta of a ``followup`` event."""
    return {"title": title, "owner": owner, "priority": priority,
            "due_date": due.isoformat(), "status": "open"}


def followups(events: Iterable[Event]) -> list[FollowUp]:
    """Every follow-up in ``events`` (one incident's or many), with its latest status."""
    found: dict[str, FollowUp] = {}
    counts: dict[str, int] = {}
    for event in events:
        meta = event.meta
        if event.type == FOLLOWUP and event.incident_id and event.id not in found:
            counts[event.incident_id] = counts.get(event.incident_id, 0) + 1
            found[event.id] = FollowUp(
                event.id, event.incident_id, counts[event.incident_id], str(meta.get("title", "")),
                str(meta.get("owner", "")), str(meta.get("priority", "P2")),
                _day(meta.get("due_date")), str(meta.get("status", "open")))
        elif event.type == FOLLOWUP_STATUS and meta.get("followup") in found:
            key = str(meta["followup"])
            found[key] = dataclasses.replace(found[key], status=str(meta.get("status", "open")))
    return list(found.values())


def _day(text: object) -> date:
    """A follow-up's due date; a missing or unreadable one (another tool's) is never due."""
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return date.max


# finding incidents ---------------------------------------------------------------------


def ordered(incidents: Iterable[Incident]) -> list[Incident]:
    """Incidents in the order they were created; ``list`` numbers them 1, 2, ... so."""
    return sorted(incidents, key=lambda incident: (incident.created_at, incident.id))


def find(ref: str, incidents: Iterable[Incident]) -> tuple[int, Incident]:
    """The incident ``ref`` names, and its number: the full id, its last part, ``#n`` or
    ``n`` (its number in ``list``), or a tracker's reference of it (``refs``)."""
    numbered = list(enumerate(ordered(incidents), 1))
    wanted = ref.strip().removeprefix("#")
    if wanted.isdigit():
        hits = [(n, i) for n, i in numbered if n == int(wanted)]
    else:
        hits = [(n, i) for n, i in numbered
                if wanted in (i.id, short_id(i.id), *i.refs.values())]
    if not hits:
        raise RuleError(f"No incident '{ref}'. Use its full id, its last part, or its number.")
    if len(hits) > 1:
        names = ", ".join(i.id for _, i in hits[:5])
        raise RuleError(f"'{ref}' could be {names}: use the full id.")
    return hits[0]
