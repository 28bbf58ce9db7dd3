"""The ``[plugins.incidents]`` settings, checked when the configuration is read.

Every problem is reported at once (``SettingsError``), naming the key: a role that is
missing, a store without its database, a time zone ``zoneinfo`` does not know, a
shift start that is no time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from univac import Calendar, SettingsError, Target

from . import phabricator, signin
from .model import SEVERITIES
from .recurrence import Thresholds
from .shifts import Shifts

ALERT_SEVERITIES = {"critical": "P1", "high": "P1", "error": "P2", "warning": "P3",
                    "low": "P3", "info": "P3"}
"""The default ``alert_severities``: Prometheus' usual severity labels and PagerDuty's
urgencies."""


@dataclass(frozen=True)
class Period:
    """A poller schedule: every ``seconds``, and after a failure never later than that.

    Not an ``Interval``: the core backs an interval poller off from twice its interval
    up to an hour, but a schedule's next date caps the wait after a failure, so a
    fallback is retried at least this often.
    """

    seconds: float

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return f"every {self.seconds:g} s"


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.incidents]`` table (see docs/incidents.md)."""

    writers: str
    """The role that may create and change incidents (``[roles]``)."""
    readers: str = ""
    """The role that may list and read them; writers always may. Empty: writers only."""
    viewers: str = ""
    """The role that sees details; empty: the readers (and the writers)."""
    channels: tuple[str, ...] = ()
    """Where details may be shown besides private messages: ``irc:#sre`` or ``#sre``."""
    corto_compat: bool = False
    """Answer Corto's own command names when addressed by name (``univac: list``)."""
    store: Literal["jsonl", "postgres", "auto"] = "jsonl"
    folder: str = ""
    """The JSON lines folder; empty: the plugin's data folder, ``incidents`` in the
    state folder (``[bot] state_dir`` or the default one)."""
    dsn: str = ""
    """PostgreSQL connection string (``postgres``, ``auto``); a secret: ``dsn_file``."""
    connect_timeout_s: int = 5
    timeout_s: float = 10.0
    retry_s: float = 300.0
    """How often the store is checked, and PostgreSQL tried again while it is away."""
    shift_start: str = "08:00"
    """When a shift starts, wall-clock ``HH:MM`` (or ``mon 09:00`` for weekly shifts)."""
    shift_length_s: int = 43200
    shift_zone: str = "UTC"
    default_severity: str = "P2"
    default_service: str = "general"
    default_env: str = "prod"
    followup_due_s: int = 7 * 86400
    """A follow-up without ``--due`` is due this long after it is added."""
    document_url: str = ""
    """Where an incident's working document is: ``https://docs.example/{id}``; empty:
    the markdown artifact kept with the incident."""
    tracker: Literal["none", "phabricator"] = "none"
    """Where incidents are mirrored: nowhere, or Phabricator (the ``phabricator_*``
    settings)."""
    show_events: int = 5
    max_lines: int = 15
    """Lines in one reply at most; the rest is summarised."""
    # Phabricator tracker
    phabricator_url: str = ""
    """Phabricator's address, ``https://phabricator.example.org`` (Corto's ``url``)."""
    phabricator_token: str = ""
    """The bot account's Conduit API token; a secret: ``phabricator_token_file``."""
    phabricator_user: str = ""
    """The bot account's user name, for the log and the token's error."""
    phabricator_project: str = "Wikimedia-Incident"
    """The project (hashtag or PHID) incident tasks are tagged with."""
    phabricator_policy_view: str = "#acl_sre-team"
    """Who may see incident tasks: a project's members (``#hashtag``), a PHID, or a
    global policy (``admin``...). Never public unless written here."""
    phabricator_policy_edit: str = "#acl_sre-team"
    phabricator_status_open: str = "progress"
    """The task status of an open incident: Corto's "In Progress" (this install's key)."""
    phabricator_status_resolved: str = "open"
    """The task status of a resolved incident: "Open", pending follow-up, as Corto."""
    phabricator_status_closed: str = "resolved"
    phabricator_timeout_s: float = 5.0
    """One Conduit call fails after this long ("Phabricator did not answer")."""
    # Pages
    page_token: str = ""
    """A bearer token that opens the pages (a secret: ``page_token_file``); empty: none."""
    page_token_role: str = ""
    """The role the page token grants (needed with a token)."""
    page_user_header: str = ""
    """The header a reverse proxy names its signed-in user in (``X-Forwarded-User``);
    the user is the identity ``http:<user>``. Empty: no proxy."""
    page_proxies: tuple[str, ...] = ()
    """The proxies trusted to send that header: addresses or networks."""
    page_recent_s: int = 7 * 86400
    """Resolved and closed incidents stay on ``/incidents`` this long after changing."""
    # Alerts in
    alert_targets: tuple[Target, ...] = ()
    """Where incidents opened from alerts are announced; empty: the entries of
    ``channels`` that name their transport (``irc:#sre``)."""
    alert_labels: tuple[str, ...] = ("alertname", "service", "env")
    """The labels whose values, joined by ``/``, are an alert's signature."""
    alert_service_labels: tuple[str, ...] = ("service", "job")
    """The first of these labels an alert has is its incident's service."""
    alert_env_labels: tuple[str, ...] = ("env", "environment")
    alert_severities: dict[str, str] = field(default_factory=lambda: dict(ALERT_SEVERITIES))
    """An alert's severity (any case) -> the incident's; ``P0``..``P3`` stand for
    themselves; any other: ``default_severity``."""
    alert_cooldown_s: float = 900.0
    """Firing alerts add to the incident their signature opened this recently, even
    a resolved one, rather than open another."""
    alert_resolves: bool = False
    """A resolved alert resolves its incident once none of its alerts fires."""
    pagerduty_secret: str = ""
    """The signing secret of the PagerDuty v3 webhook subscription (``_file``)."""
    pagerduty_services: dict[str, str] = field(default_factory=dict)
    """PagerDuty service name -> the incident's service, where they differ."""
    correlate_window_s: float = 86400.0
    """``correlate``: incidents this far apart or more get nothing for time."""
    correlate_top: int = 3
    """``correlate``: how many related incidents are listed."""
    # Recurrence, digest, gate
    recurrence_service_7d: int = 3
    """A service is flagged with this many incidents or more in 7 days..."""
    recurrence_service_30d: int = 5
    """... or this many in 30 days."""
    recurrence_signature_7d: int = 2
    """An alert signature is flagged with this many incidents or more in 7 days..."""
    recurrence_signature_30d: int = 3
    """... or this many in 30 days."""
    digest_schedule: str = "mon 08:00 UTC"
    """When the weekly digest of the week that ended is written (a calendar)."""
    digest_targets: tuple[Target, ...] = ()
    """Where the digest's summary (counts only) is posted: ``irc:#sre``; empty: nowhere."""
    reports_folder: str = ""
    """Holds ``incidents/weekly/YYYY-WW.json`` and ``.md``; empty: ``reports`` in the
    bot's state folder."""
    digest_link_base: str = ""
    """The public base URL of the bot's pages (``https://bot.example.org``): the summary
    links ``<base>/incidents/weekly/YYYY-WW``; empty: it names the file."""

    def __post_init__(self) -> None:
        problems = {key: reason for key, reason in self._problems() if reason}
        if problems:
            raise SettingsError(problems)

    def _problems(self) -> list[tuple[str, str]]:
        found = [("writers", "" if self.writers.strip() else
                  "name the role that may create and change incidents")]
        if self.store != "jsonl" and not self.dsn:
            found.append(("dsn", f"store '{self.store}' needs a PostgreSQL connection string "
                                 "(dsn, dsn_file or dsn_env)"))
        found.append(("dsn", _dsn_problem(self.dsn)))
        try:
            Shifts.parse(self.shift_start, self.shift_length_s, self.shift_zone)
        except ValueError as error:
            key = str(error).split(":", 1)[0]
            found.append((key if key.startswith("shift_") else "shift_start", str(error)))
        if self.default_severity not in SEVERITIES:
            found.append(("default_severity", f"expected one of {', '.join(SEVERITIES)}"))
        for key in ("connect_timeout_s", "timeout_s", "retry_s", "followup_due_s"):
            if not getattr(self, key) > 0:
                found.append((key, "must be more than 0"))
        if not (1 <= self.max_lines <= 200 and 0 <= self.show_events <= 50):
            found.append(("max_lines", "max_lines must be 1..200 and show_events 0..50"))
        found.append(("document_url", _template_problem(self.document_url)))
        found += phabricator.settings_problems(self)
        found += signin.problems(self)
        found += _alert_problems(self)
        return found + _weekly_problems(self)

    @property
    def check_every(self) -> Period:
        """The schedule of the store's health check (the ``backend`` poller)."""
        return Period(self.retry_s)

    @property
    def shifts(self) -> Shifts:
        return Shifts.parse(self.shift_start, self.shift_length_s, self.shift_zone)

    def journal_folder(self, data_dir: Path) -> Path:
        """The JSON lines folder: ``folder``, else the plugin's data folder
        (``ctx.data_dir``: ``incidents`` in the state folder)."""
        if self.folder:
            return Path(self.folder).expanduser()
        return data_dir

    @property
    def thresholds(self) -> Thresholds:
        """When recurrence flags a service or a signature."""
        return Thresholds(self.recurrence_service_7d, self.recurrence_service_30d,
                          self.recurrence_signature_7d, self.recurrence_signature_30d)

    def digest_folder(self, data_dir: Path) -> Path:
        """Where the weekly digests are: ``<reports_folder>/incidents/weekly``, the reports
        folder being ``reports`` in the state folder (the parent of ``data_dir``) unless set."""
        reports = Path(self.reports_folder).expanduser() if self.reports_folder else \
            data_dir.parent / "reports"
        return reports / "incidents" / "weekly"


def _alert_problems(settings: Settings) -> list[tuple[str, str]]:
    """The problems of the alert and correlate settings."""
    bad = sorted(k for k, v in settings.alert_severities.items() if v not in SEVERITIES)
    return [
        ("alert_severities", f"map to one of {', '.join(SEVERITIES)}: {', '.join(bad)}"
         if bad else ""),
        ("alert_labels", "" if settings.alert_labels and all(settings.alert_labels) else
         "name at least one label, none empty"),
        ("alert_cooldown_s", "" if settings.alert_cooldown_s >= 0 else "must be 0 or more"),
        ("correlate_window_s", "" if settings.correlate_window_s > 0 else "must be more than 0"),
        ("correlate_top", "" if 1 <= settings.correlate_top <= 20 else "must be 1..20"),
    ]


def _template_problem(template: str) -> str:
    if not template:
        return ""
    try:
        template.format(id="inc", short="abc")
    except (KeyError, IndexError, ValueError):
        return "only {id} and {short} may be filled in (write {{ for a brace)"
    return "" if "{id}" in template or "{short}" in template else "must contain {id}"


def _dsn_problem(dsn: str) -> str:
    if not dsn:
        return ""
    from psycopg import Error, conninfo  # here: only a configured database needs it

    try:
        conninfo.conninfo_to_dict(dsn)
    except Error:  # its text would quote the secret
        return "not a PostgreSQL connection string (key=value pairs or a postgresql:// URI)"
    return ""


def _weekly_problems(settings: Settings) -> list[tuple[str, str]]:
    """The recurrence and digest settings' problems."""
    found = [(key, "must be 1 or more") for key in (
        "recurrence_service_7d", "recurrence_service_30d", "recurrence_signature_7d",
        "recurrence_signature_30d") if getattr(settings, key) < 1]
    try:
        Calendar.parse(settings.digest_schedule)
    except ValueError as error:
        found.append(("digest_schedule", str(error)))
    base = settings.digest_link_base
    if base and not base.startswith(("https://", "http://")):
        found.append(("digest_link_base", "expected an http(s):// URL"))
    return found
