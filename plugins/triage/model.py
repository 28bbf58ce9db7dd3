"""The model of the repository's open issues, kept in the plugin's store.

Layer: plugin; any thread (webhooks on HTTP workers, pollers on their own threads).
One record per open issue (``issue:<n>``) and one per global (``team``, ``scan``,
``refeeds``, ``selftest``, ``runs``), so a webhook rewrites one small record. Callers
group a read-modify-write in ``with model.state:`` (one store transaction, and the
lock that also guards the in-memory index of numbers and due cleanups kept here).

The index is built from the records, and built again whenever the state has read them
from the store again (``state.generation``): when a standby becomes the leader with
``[ha]`` (what the previous leader stored is then the truth), and after a failed write.

Times are whole seconds since the epoch (0: never); a record leaves out fields at
their defaults, so 10,000 issues take a few megabytes as JSON text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .settings import Settings

ISSUE = "issue:"
GLOBALS = ("team", "scan", "refeeds", "selftest", "runs")


@dataclass
class Issue:
    """What the rules need to know of one open issue."""

    labels: list[str] = field(default_factory=list)
    """The relevant labels only (``Labels.relevant``)."""
    reporter: str = ""
    opened: int = 0
    touched: int = 0
    """The last touch by a contributor (a member of the team)."""
    assignee: str = ""
    assignee_touched: int = 0
    assignee_is_reporter: bool = False
    assignee_is_member: bool = False
    locked_at: int = 0
    """When it was locked; 0 while it is not locked."""
    reopened_at: int = 0
    triaged_at: int = 0
    thumbs_at_triage: int = 0
    thumbs: int = 0
    cleanup_at: int = 0
    """When the cleanup rules are due (0: not queued)."""

    def record(self) -> dict[str, Any]:
        """The stored form: fields at their defaults left out."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    @classmethod
    def of(cls, record: dict[str, Any]) -> Issue:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})

    def untouched_since(self) -> int:
        """The last contributor touch, or the opening when there was none."""
        return self.touched or self.opened


class Labels:
    """Label names and their meaning, from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.singles = {settings.design_doc_label, settings.permanently_locked_label,
                        settings.thumbs_label, settings.stale_label, settings.critical_label,
                        *settings.priorities}

    def _suffix(self, label: str, prefix: str) -> str:
        if not label.startswith(prefix) or len(label) == len(prefix):
            return ""
        name = label[len(prefix):]
        return name if not self.s.teams or name in self.s.teams else ""

    def team(self, label: str) -> str:
        """``X`` for ``team-X`` (a known team), else an empty string."""
        return self._suffix(label, self.s.team_prefix)

    def triaged(self, label: str) -> str:
        return self._suffix(label, self.s.triaged_prefix)

    def fyi(self, label: str) -> str:
        return self._suffix(label, self.s.fyi_prefix)

    def relevant(self, label: str) -> bool:
        return label in self.singles or bool(
            self.team(label) or self.triaged(label) or self.fyi(label))

    def keep(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.relevant(name)]

    def teams_of(self, labels: Iterable[str]) -> list[str]:
        return [t for t in map(self.team, labels) if t]

    def triaged_teams(self, labels: Iterable[str]) -> list[str]:
        return [t for t in map(self.triaged, labels) if t]

    def priorities_of(self, labels: Iterable[str]) -> list[str]:
        present = set(labels)
        return [p for p in self.s.priorities if p in present]

    def team_label(self, team: str) -> str:
        return self.s.team_prefix + team

    def triaged_label(self, team: str) -> str:
        return self.s.triaged_prefix + team

    def fyi_label(self, team: str) -> str:
        return self.s.fyi_prefix + team

    def is_triaged(self, labels: Iterable[str]) -> bool:
        """Triaged: some ``triaged-X`` whose ``team-X`` is there too."""
        present = list(labels)
        return any(self.team_label(t) in present for t in self.triaged_teams(present))


class Model:
    """The issues and globals in ``state`` (``ctx.state``), with an index in memory."""

    def __init__(self, state: Any, labels: Labels) -> None:
        self.state = state
        self.labels = labels
        self._numbers: set[int] = set()
        self._due: dict[int, int] = {}
        self._team: set[str] | None = None
        self._generation = 0
        """The state's generation the index was built from."""
        with state:
            self._index()

    def _index(self) -> None:
        """Build the index again if the state read its records again (lock held)."""
        if self._generation == self.state.generation:
            return
        numbers, due = set(), {}
        for key in list(self.state.keys()):
            if key.startswith(ISSUE):
                number = int(key[len(ISSUE):])
                numbers.add(number)
                if at := self.state.get(key, {}).get("cleanup_at", 0):
                    due[number] = at
        self._numbers, self._due, self._team = numbers, due, None
        self._generation = self.state.generation

    def get(self, number: int) -> Issue | None:
        record = self.state.get(f"{ISSUE}{number}")
        return Issue.of(record) if record is not None else None

    def put(self, number: int, issue: Issue) -> None:
        with self.state:
            self._index()
            self.state[f"{ISSUE}{number}"] = issue.record()
            self._numbers.add(number)
            if issue.cleanup_at:
                self._due[number] = issue.cleanup_at
            else:
                self._due.pop(number, None)

    def drop(self, number: int) -> bool:
        """Forget a closed (or deleted, or transferred) issue; True if it was tracked."""
        with self.state:
            self._index()
            key = f"{ISSUE}{number}"
            self._numbers.discard(number)
            self._due.pop(number, None)
            if key in self.state:
                del self.state[key]
                return True
            return False

    def numbers(self) -> list[int]:
        with self.state:
            self._index()
            return sorted(self._numbers)

    def tracked(self) -> int:
        if self._generation != self.state.generation:
            with self.state:
                self._index()
        return len(self._numbers)

    def due(self, now: int | None = None) -> list[int]:
        """Issues queued for cleanup, due by ``now`` (every queued one when None)."""
        with self.state:
            self._index()
            return sorted(n for n, at in self._due.items() if now is None or at <= now)

    def pending(self) -> dict[int, int]:
        with self.state:
            self._index()
            return dict(self._due)

    def issues(self) -> Iterator[tuple[int, Issue]]:
        for number in self.numbers():
            issue = self.get(number)
            if issue is not None:
                yield number, issue

    def glob(self, name: str, default: Any = None) -> Any:
        assert name in GLOBALS, name
        found = self.state.get(name)
        return default if found is None else found

    def set_glob(self, name: str, value: Any) -> None:
        assert name in GLOBALS, name
        with self.state:
            self.state[name] = value
            if name == "team":
                self._team = None

    def team(self) -> set[str]:
        """The contributors' logins, lower case (kept in memory between changes)."""
        with self.state:
            self._index()
            if self._team is None:
                members = self.glob("team", {}).get("members", [])
                self._team = {login.lower() for login in members}
            return self._team

    def refeed_allowed(self, team: str, now: int, delay: float) -> bool:
        last = self.glob("refeeds", {}).get(team, 0)
        return not last or now - last >= delay

    def refeed_at(self, team: str) -> int:
        return int(self.glob("refeeds", {}).get(team, 0))

    def record_refeed(self, team: str, now: int) -> None:
        with self.state:
            self.set_glob("refeeds", self.glob("refeeds", {}) | {team: now})

    def record_run(self, kind: str, now: int) -> None:
        with self.state:
            self.set_glob("runs", self.glob("runs", {}) | {kind: now})


def parse_time(stamp: object) -> int:
    """GitHub's ``2024-01-31T12:00:00Z`` as seconds since the epoch (0 when missing)."""
    if not isinstance(stamp, str) or not stamp:
        return 0
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def login_of(user: object) -> str:
    return str(user.get("login", "")) if isinstance(user, dict) else ""


def refreshed(old: Issue | None, payload: dict[str, Any], labels: Labels,
              members: set[str], now: int) -> Issue:
    """``old`` brought up to date with an issue object as GitHub gives it.

    Labels, reporter, opening, assignee, lock and thumbs come from the object; the
    touches, triage time and cleanup time stay as they were.
    """
    issue = dataclasses.replace(old) if old is not None else Issue()
    names = [label.get("name", "") if isinstance(label, dict) else str(label)
             for label in payload.get("labels") or []]
    issue.labels = labels.keep(names)
    issue.reporter = login_of(payload.get("user")) or issue.reporter
    issue.opened = parse_time(payload.get("created_at")) or issue.opened or now
    assignees = [login_of(a) for a in payload.get("assignees") or []] or \
        [login_of(payload.get("assignee"))]
    issue.assignee = next((a for a in assignees if a), "")
    issue.assignee_is_reporter = bool(issue.assignee) and issue.assignee == issue.reporter
    issue.assignee_is_member = issue.assignee.lower() in members
    if not payload.get("locked"):
        issue.locked_at = 0
    elif not issue.locked_at:
        issue.locked_at = now
    reactions = payload.get("reactions")
    if isinstance(reactions, dict):
        issue.thumbs = int(reactions.get("+1", 0) or 0)
    if not labels.triaged_teams(issue.labels):
        issue.triaged_at = issue.thumbs_at_triage = 0
    return issue
