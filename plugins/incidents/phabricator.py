"""The ``phabricator`` tracker: incidents mirrored to Maniphest tasks, as Corto keeps them.

Layer: plugin; called by the operations (``service.py``) on reactive threads, one
change at a time (under the operations' lock); its PHID cache has its own lock.

What each change does in Phabricator (``maniphest.edit``, Conduit's "Using Edit
Endpoints": a list of ``{type, value}`` transactions, ``objectIdentifier`` to edit an
existing task, none to create one; docs/incidents.md has the table):

- ``created``: a new task: ``title``, ``description`` (the incident's facts and the
  link to its document), ``projects.add`` (the configured project's PHID), ``view``
  and ``edit`` (the policies), ``status`` (``progress``: "In Progress"). The task's
  monogram ``T123`` is kept on the incident (``refs``), so users can name it so.
- ``comment``: a ``comment``; ``coordinator``: ``owner``, the user's PHID;
  ``status``: ``status`` (resolved -> ``open``, Corto's resolve; closed ->
  ``resolved``; reopened -> ``progress``); severity and follow-up changes: a comment.
- A change to an incident without a task (its creation was not mirrored: Phabricator
  was away) creates the task first, with the incident's current state, unless a task
  of the project already names the incident in its description (a create that timed
  out after Phabricator made the task): then that one is taken (``maniphest.search``).

User names and project hashtags become PHIDs with ``user.search`` (constraint
``usernames``) and ``project.search`` (constraint ``slugs``), kept in a small bounded
cache, so a command costs one call once they are known. Failures raise
``TrackerError`` with a short text for chat ("Phabricator did not answer", "no such
task T123...", "no such user NAME", "Phabricator refused the change: ..."); the
method and Conduit's own words go to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from univac import check_service_url
from univac.kit.text import one_line

from .conduit import Conduit, PhidCache, Refused, Unanswered
from .model import (
    COMMENT,
    COORDINATOR,
    CREATED,
    FOLLOWUP,
    FOLLOWUP_STATUS,
    SEVERITY,
    STATUS,
    Event,
    Incident,
)
from .tracker import Change, TrackerError

log = logging.getLogger("univac.plugin.incidents")

NAME = "phabricator"
SEARCH_LIMIT = 100
Transactions = list[dict[str, Any]]
MISSING = ("does not identify a valid object", "No object exists with")
"""How maniphest.edit says that ``objectIdentifier`` names no task the bot can see."""


@dataclass(frozen=True)
class Options:
    """What the tracker needs from the settings (``phabricator_*``)."""

    project: str
    policy_view: str
    policy_edit: str
    statuses: Mapping[str, str]
    """Incident status (open, resolved, closed) -> the task status value to set."""
    user: str = ""


class PhabricatorTracker:
    """Mirrors incidents to Maniphest tasks (see the module docstring)."""

    name = NAME

    def __init__(self, conduit: Conduit, options: Options) -> None:
        self.conduit = conduit
        self.options = options
        self.cache = PhidCache()

    @classmethod
    def from_settings(cls, settings: Any) -> PhabricatorTracker:
        s = settings
        statuses = {"open": s.phabricator_status_open,
                    "resolved": s.phabricator_status_resolved,
                    "closed": s.phabricator_status_closed}
        options = Options(s.phabricator_project, s.phabricator_policy_view,
                          s.phabricator_policy_edit, statuses, s.phabricator_user)
        conduit = Conduit(s.phabricator_url, s.phabricator_token, s.phabricator_timeout_s)
        log.info("incidents: mirroring to Phabricator at %s as %s, tagging %s", conduit.url,
                 s.phabricator_user or "the token's user", s.phabricator_project)
        return cls(conduit, options)

    def mirror(self, change: Change) -> dict[str, str]:
        """Show ``change`` to Phabricator; ``{"phabricator": "T123"}`` for a new task."""
        try:
            return self._mirror(change)
        except Unanswered as error:
            log.warning("incidents: Phabricator did not answer: %s", error)
            raise TrackerError("Phabricator did not answer") from None
        except Refused as error:
            log.warning("incidents: Phabricator refused %s", error)
            raise TrackerError(self._refusal(error)) from None
        except (KeyError, IndexError, TypeError, ValueError) as error:
            log.warning("incidents: Phabricator's answer is not as Conduit documents it: "
                        "%s: %s", type(error).__name__, error)
            raise TrackerError("Phabricator gave an answer I cannot read") from None

    def close(self) -> None:
        self.conduit.close()

    # what a change does -------------------------------------------------------------

    def _mirror(self, change: Change) -> dict[str, str]:
        incident, event = change.incident, change.event
        ref = incident.refs.get(NAME)
        if ref:
            changed = self._changed(incident, event)
            if changed:
                self._edit(ref, changed)
            return {}
        if event.type != CREATED:
            found = self._existing(incident)
            if found:
                self._edit(found, self._state(incident, event) + self._remark(event))
                return {NAME: found}
        return {NAME: self._create(change)}

    def _create(self, change: Change) -> str:
        incident, event = change.incident, change.event
        created = [
            {"type": "title", "value": incident.title},
            {"type": "description", "value": description(change)},
            {"type": "projects.add", "value": [self._project(self.options.project)]},
            {"type": "view", "value": self._policy(self.options.policy_view)},
            {"type": "edit", "value": self._policy(self.options.policy_edit)},
            *self._state(incident, event), *self._remark(event),
        ]
        result = self.conduit.call("maniphest.edit", {"transactions": created})
        return f"T{int(result['object']['id'])}"

    def _state(self, incident: Incident, event: Event) -> Transactions:
        """The task's status and owner as the incident has them now."""
        state = [self._status(incident)]
        if incident.coordinator:
            owner = self._owner(incident.coordinator, strict=event.type == COORDINATOR)
            state += [{"type": "owner", "value": owner}] if owner else []
        return state

    def _changed(self, incident: Incident, event: Event) -> Transactions:
        """The transactions of one timeline event, on an existing task."""
        if event.type == COORDINATOR:
            return [{"type": "owner", "value": self._owner(incident.coordinator, strict=True)}]
        if event.type == STATUS:
            return [self._status(incident)]
        return self._remark(event)

    def _status(self, incident: Incident) -> dict[str, Any]:
        status = self.options.statuses.get(incident.status)
        if status is None:  # another program's record
            raise TrackerError(f"no task status for an incident that is {incident.status}")
        return {"type": "status", "value": status}

    @staticmethod
    def _remark(event: Event) -> Transactions:
        """The comment of an event that changes neither the owner nor the status."""
        if event.type in (CREATED, COORDINATOR, STATUS):
            return []
        return [{"type": "comment", "value": comment(event)}]

    def _edit(self, ref: str, transactions: Transactions) -> None:
        try:
            self.conduit.call("maniphest.edit", {"objectIdentifier": ref,
                                                 "transactions": transactions})
        except Refused as error:
            if any(words in error.info for words in MISSING):
                log.warning("incidents: Phabricator refused %s", error)
                raise TrackerError(f"no such task {ref}, or the bot may not see it") from None
            raise

    def _existing(self, incident: Incident) -> str:
        """A task of the project already naming ``incident`` (made by a create whose
        answer never came), as ``T123``; empty if there is none."""
        project = self._project(self.options.project)
        found = self.conduit.call("maniphest.search", {
            "constraints": {"projects": [project]}, "order": "newest",
            "limit": SEARCH_LIMIT})
        for task in found["data"]:
            if incident.id in str(task["fields"]["description"]["raw"]):
                log.info("incidents: %s is already T%s in Phabricator", incident.id, task["id"])
                return f"T{int(task['id'])}"
        return ""

    # names to PHIDs -----------------------------------------------------------------

    def _owner(self, name: str, strict: bool) -> str:
        """The PHID of user ``name``; no such user: TrackerError, or "" unless strict."""
        try:
            return self._user(name)
        except TrackerError:
            if strict:
                raise
            log.warning("incidents: no Phabricator user %r; the task keeps no owner", name)
            return ""

    def _user(self, name: str) -> str:
        wanted = name.strip().removeprefix("@")
        return self._phid("user.search", "usernames", wanted, f"no such user {wanted}")

    def _project(self, value: str) -> str:
        slug = value.strip().removeprefix("#")
        if slug.startswith("PHID-"):
            return slug
        return self._phid("project.search", "slugs", slug,
                          f"no such project #{slug} in Phabricator")

    def _policy(self, value: str) -> str:
        """A policy: ``#hashtag`` (the project's members) becomes the project's PHID;
        a PHID or a global policy (``admin``, ``users``...) is sent as it is."""
        value = value.strip()
        return self._project(value) if value.startswith("#") else value

    def _phid(self, method: str, constraint: str, value: str, missing: str) -> str:
        key = f"{method}:{value.casefold()}"
        known = self.cache.get(key)
        if known:
            return known
        found = self.conduit.call(method, {"constraints": {constraint: [value]}, "limit": 1})
        if not found["data"]:
            raise TrackerError(missing)
        phid = str(found["data"][0]["phid"])
        self.cache.put(key, phid)
        return phid

    def _refusal(self, error: Refused) -> str:
        if error.code in ("ERR-INVALID-AUTH", "ERR-INVALID-SESSION"):
            whose = f"of {self.options.user}" if self.options.user else "of the bot"
            return f"Phabricator refused the API token {whose}"
        return f"Phabricator refused the change: {one_line(error.info, 120)}"


# the texts ------------------------------------------------------------------------------


def description(change: Change) -> str:
    """The task's description: the incident's facts and where its document is."""
    incident, event = change.incident, change.event
    opener = event.meta.get("nick") if event.type == CREATED else None
    return "\n".join([
        f"Incident {incident.id}: {incident.severity}, service {incident.service} "
        f"({incident.env}), started {incident.started_at}, opened in chat by "
        f"{opener or incident.created_by}.",
        "",
        f"Incident document: {change.document}",
        "",
        "This task mirrors the incident log, which stays the record: change the incident "
        "from chat.",
    ])


def comment(event: Event) -> str:
    """The comment a timeline event becomes, naming who changed it in chat."""
    meta, who = event.meta, str(event.meta.get("nick") or event.actor)
    if event.type == COMMENT:
        return f"{who}: {event.message}"
    if event.type == SEVERITY:
        return f"Severity {meta.get('from', '?')} -> {meta.get('to', '?')} ({who})."
    if event.type == FOLLOWUP:
        return (f"Follow-up: {event.message} (owner {meta.get('owner', '?')}, "
                f"{meta.get('priority', '?')}, due {meta.get('due_date', '?')}; added by {who}).")
    if event.type == FOLLOWUP_STATUS:
        return f"{event.message.capitalize()} ({who})."
    return f"{event.type}: {event.message} ({who})."


def settings_problems(settings: Any) -> list[tuple[str, str]]:
    """What is wrong with the ``phabricator_*`` settings (``tracker = "phabricator"``)."""
    s = settings
    if s.tracker != NAME:
        return []
    found = [("phabricator_url", _url_problem(s.phabricator_url))]
    if not s.phabricator_token:
        found.append(("phabricator_token", "the bot account's Conduit API token is needed "
                      "(phabricator_token_file or phabricator_token_env)"))
    named = {"phabricator_project": "name the project incident tasks are tagged with",
             "phabricator_policy_view": "name who may see incident tasks (#acl_sre-team)",
             "phabricator_policy_edit": "name who may edit incident tasks (#acl_sre-team)",
             "phabricator_status_open": "name the status of an open incident's task",
             "phabricator_status_resolved": "name the status of a resolved incident's task",
             "phabricator_status_closed": "name the status of a closed incident's task"}
    found += [(key, why) for key, why in named.items() if not getattr(s, key).strip("# ")]
    if not 0 < s.phabricator_timeout_s <= 120:
        found.append(("phabricator_timeout_s", "must be more than 0 and at most 120"))
    return found


def _url_problem(url: str) -> str:
    """An https address, or http to this machine only: the token goes with every call."""
    if not url:
        return "Phabricator's address is needed: https://phabricator.example.org"
    try:
        check_service_url("phabricator_url", url, "https://phabricator.example.org")
    except ValueError as error:
        return str(error).removeprefix("phabricator_url: ")
    return ""
