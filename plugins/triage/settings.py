"""The ``[plugins.triage]`` table: repository, credentials, timings, labels, chat.

Layer: plugin; read once at start (the settings reader fills it on the main thread).
Every duration, label and team list of the rules is here, with the original's
defaults where the original had one (docs/triage.md lists them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from univac import SettingsError, Target
from univac.kit.text import template_problem

WEEK_S = 7 * 86400.0
DAY_S = 86400.0
REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

EVENTS = ("issues", "pull_request", "pull_request_review", "issue_comment", "label", "star",
          "membership", "gollum")
"""The GitHub events relayed to chat."""
FIELDS = {
    "issues": ("repo", "sender", "action", "number", "title", "url", "body", "label",
               "assignee"),
    "pull_request": ("repo", "sender", "action", "number", "title", "url", "body", "base",
                     "head"),
    "pull_request_review": ("repo", "sender", "action", "state", "number", "title", "url",
                            "body"),
    "issue_comment": ("repo", "sender", "action", "kind", "number", "title", "url", "body"),
    "label": ("repo", "sender", "action", "label"),
    "star": ("repo", "sender", "action", "stars"),
    "membership": ("sender", "action", "member", "team"),
    "gollum": ("repo", "sender", "pages", "url"),
}
"""The fields each event's template may use."""
TEMPLATES = {
    "issues": "[{repo}] {sender} {action} issue #{number}: {title} {url}",
    "pull_request": "[{repo}] {sender} {action} pull request #{number}: {title} {url}",
    "pull_request_review": "[{repo}] {sender} reviewed pull request #{number} ({state}): "
                           "{title} {url}",
    "issue_comment": "[{repo}] {sender} commented on {kind} #{number} ({title}): {body} {url}",
    "label": "[{repo}] {sender} {action} the label {label}",
    "star": "[{repo}] {sender} {action} a star ({stars} now)",
    "membership": "{sender} {action} {member} (team {team})",
    "gollum": "[{repo}] {sender} edited the wiki: {pages} {url}",
}
ACTIONS = {
    "issues": ("opened", "closed", "reopened"),
    "pull_request": ("opened", "closed", "reopened", "merged"),
    "pull_request_review": ("submitted",),
    "issue_comment": ("created",),
    "label": ("created", "edited", "deleted"),
    "star": ("created", "deleted"),
    "membership": ("added", "removed"),
    "gollum": ("edited",),
}
"""The actions relayed per event (``merged``: a pull request closed merged; a wiki
edit has no action of its own and counts as ``edited``)."""


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.triage]`` table (docs/triage.md explains each setting)."""

    repo: str = ""
    team: str = ""
    api_url: str = "https://api.github.com"
    token: str = ""
    app_id: str = ""
    app_key: str = ""
    installation_id: str = ""
    timeout_s: float = 10.0
    dry_run: bool = False
    targets: tuple[Target, ...] = ()
    event_targets: dict[str, tuple[Target, ...]] | None = None
    events: tuple[str, ...] = EVENTS
    actions: dict[str, tuple[str, ...]] | None = None
    templates: dict[str, str] | None = None
    bots: tuple[str, ...] = ()
    max_line_chars: int = 400
    line_chars: dict[str, int] | None = None
    excerpt_chars: int = 200
    background_update_s: float = 1.0
    cleanup_period_s: float = 60.0
    cleanup_delay_s: float = 45 * 60.0
    tidy_period_s: float = 5 * 3600.0
    refeed_delay_s: float = DAY_S
    team_refresh_s: float = DAY_S
    stale_after_s: float = 18 * WEEK_S
    unassign_after_s: float = 29 * WEEK_S
    unassigned_p1_after_s: float = 18 * WEEK_S
    unlock_after_s: float = 28 * DAY_S
    self_test_period_s: float = 6 * WEEK_S
    self_test_escalate_s: float = 18 * DAY_S
    thumbs_min: int = 100
    thumbs_ratio: float = 2.0
    scan_reserve: float = 0.5
    reserve: float = 0.05
    teams: tuple[str, ...] = ()
    team_prefix: str = "team-"
    triaged_prefix: str = "triaged-"
    fyi_prefix: str = "fyi-"
    priorities: tuple[str, ...] = ("P0", "P1", "P2", "P3")
    unassigned_priority: str = "P1"
    design_doc_label: str = "design doc"
    permanently_locked_label: str = "permanently locked"
    thumbs_label: str = "new thumbs-up"
    stale_label: str = "stale"
    critical_label: str = "will need additional triage"
    self_test_title: str = "Triage process self-test"
    self_test_body: str = ("This is a test of our triage processes. Please handle this issue "
                           "the same way you would a normal valid but low-priority issue.")
    self_test_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = {**_source_problems(self), **_credential_problems(self),
                    **_timing_problems(self), **_chat_problems(self), **_label_problems(self)}
        if problems:
            raise SettingsError(problems)

    @property
    def owner(self) -> str:
        return self.repo.partition("/")[0]

    def template(self, event: str) -> str:
        return (self.templates or {}).get(event, TEMPLATES[event])

    def relayed(self, event: str, action: str) -> bool:
        return event in self.events and action in (self.actions or {}).get(event, ACTIONS[event])

    def targets_of(self, event: str) -> tuple[str, ...]:
        return tuple((self.event_targets or {}).get(event, self.targets))

    def limit_of(self, transport: str) -> int:
        return (self.line_chars or {}).get(transport, self.max_line_chars)


def _source_problems(s: Settings) -> dict[str, str]:
    found = {}
    if not REPO.fullmatch(s.repo):
        found["repo"] = "required: the repository as owner/name, e.g. flutter/flutter"
    if not SLUG.fullmatch(s.team):
        found["team"] = "required: the slug of the contributors' team, e.g. flutter-hackers"
    if not s.api_url.startswith(("https://", "http://")):
        found["api_url"] = "must be an http(s) URL such as https://api.github.com"
    return found


def _credential_problems(s: Settings) -> dict[str, str]:
    app = (s.app_id, s.app_key, s.installation_id)
    if s.token and any(app):
        return {"token": "give either token or the app settings, not both"}
    if not s.token and not all(app):
        missing = [name for name, value in zip(("app_id", "app_key", "installation_id"), app,
                                               strict=True) if not value]
        return {"token": "required: a token, or the GitHub App's app_id, app_key and "
                         f"installation_id (missing: {', '.join(missing)})"}
    found = {}
    for name in ("app_id", "installation_id"):
        if getattr(s, name) and not getattr(s, name).strip().isdigit():
            found[name] = "must be a number (as GitHub shows it)"
    if s.app_key and "PRIVATE KEY" not in s.app_key:
        found["app_key"] = "expected a PEM private key; give it as app_key_file = \"key.pem\""
    return found


def _timing_problems(s: Settings) -> dict[str, str]:
    found = {}
    for name in ("background_update_s", "cleanup_period_s", "tidy_period_s", "timeout_s"):
        if getattr(s, name) <= 0:
            found[name] = "must be more than 0"
    for name in ("cleanup_delay_s", "refeed_delay_s", "team_refresh_s", "stale_after_s",
                 "unassign_after_s", "unassigned_p1_after_s", "unlock_after_s",
                 "self_test_period_s", "self_test_escalate_s"):
        if getattr(s, name) < 0:
            found[name] = "must not be negative"
    for name in ("scan_reserve", "reserve"):
        if not 0 <= getattr(s, name) < 1:
            found[name] = "a fraction of the rate limit: 0 to 0.99"
    if s.thumbs_min < 0 or s.thumbs_ratio < 1:
        found["thumbs_ratio"] = "need thumbs_min >= 0 and thumbs_ratio >= 1"
    return found


def _chat_problems(s: Settings) -> dict[str, str]:
    found = {}
    unknown = sorted(set(s.events) - set(EVENTS))
    if unknown:
        found["events"] = f"unknown {unknown}; choose from {', '.join(EVENTS)}"
    for name in ("event_targets", "actions", "templates"):
        table: Mapping[str, object] = getattr(s, name) or {}
        odd = sorted(set(table) - set(EVENTS))
        if odd:
            found[name] = f"unknown events {odd}; choose from {', '.join(EVENTS)}"
    for event, template in (s.templates or {}).items():
        if event in FIELDS and (reason := template_problem(template, FIELDS[event])):
            found["templates"] = f"{event}: {reason}"
    limits = [s.max_line_chars, s.excerpt_chars, *(s.line_chars or {}).values()]
    if min(limits) < 20:
        found["max_line_chars"] = "line lengths (max_line_chars, line_chars, excerpt_chars) " \
                                  "must be at least 20"
    return found


def _label_problems(s: Settings) -> dict[str, str]:
    found = {}
    if not s.priorities:
        found["priorities"] = "name at least one priority label, the highest first"
    elif s.unassigned_priority not in s.priorities:
        found["unassigned_priority"] = f"must be one of priorities {list(s.priorities)}"
    prefixes = (s.team_prefix, s.triaged_prefix, s.fyi_prefix)
    if not all(prefixes) or len(set(prefixes)) < 3:
        found["team_prefix"] = "team_prefix, triaged_prefix and fyi_prefix must differ and " \
                               "not be empty"
    for name in ("thumbs_label", "stale_label", "critical_label", "permanently_locked_label"):
        if not getattr(s, name):
            found[name] = "must not be empty"
    return found

