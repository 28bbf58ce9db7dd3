"""GitHub webhook events applied to the model.

Layer: plugin; the HTTP server's worker threads. As the original does it: a closed
(or deleted, or transferred) issue is dropped; a touch by a contributor (a member of
the team) or by the assignee is recorded; ``triaged-X`` added while the issue has
exactly one team label, ``team-X``, sets the triage time (and the thumbs count then);
every touched issue is queued for cleanup ``cleanup_delay_s`` after its last event.
``membership`` events keep the team current. Each event changes its issue's record
(and, for a new highest number or a membership, one global) in one transaction.
"""

from __future__ import annotations

from typing import Any

from .model import Issue, login_of, refreshed
from .runtime import Runtime

DROPPED = ("closed", "deleted", "transferred")


def apply_event(rt: Runtime, event: str, payload: dict[str, Any], now: int) -> str:
    """Apply one event; what happened, in a few words (the webhook's reply)."""
    if event == "membership":
        return _membership(rt, payload)
    repo = (payload.get("repository") or {}).get("full_name", "")
    if str(repo).lower() != rt.settings.repo.lower():
        return f"not {rt.settings.repo}"
    issue = payload.get("issue")
    if event not in ("issues", "issue_comment") or not isinstance(issue, dict):
        return "nothing to model"
    if issue.get("pull_request"):
        return "a pull request"
    number = issue.get("number")
    if not isinstance(number, int) or number < 1:
        raise ValueError("the issue has no number")
    action = str(payload.get("action", ""))
    with rt.model.state:
        if (event == "issues" and action in DROPPED) or issue.get("state") == "closed":
            return "dropped" if rt.model.drop(number) else "closed"
        changed = _changed(rt, event, action, payload, now)
        rt.model.put(number, changed)
        if action == "opened":
            _highest(rt, number)
    return "applied"


def _changed(rt: Runtime, event: str, action: str, payload: dict[str, Any], now: int) -> Issue:
    issue = payload["issue"]
    members = rt.model.team()
    changed = refreshed(rt.model.get(issue["number"]), issue, rt.labels, members, now)
    sender = login_of(payload.get("sender")).lower()
    if sender and sender in members:
        changed.touched = now
    if sender and sender == changed.assignee.lower():
        changed.assignee_touched = now
    if event == "issues" and action == "labeled":
        team = rt.labels.triaged((payload.get("label") or {}).get("name", ""))
        if team and rt.labels.teams_of(changed.labels) == [team]:
            changed.triaged_at, changed.thumbs_at_triage = now, changed.thumbs
    if action == "locked":
        changed.locked_at = now
    elif action == "reopened":
        changed.reopened_at = now
    changed.cleanup_at = now + int(rt.settings.cleanup_delay_s)
    return changed


def _highest(rt: Runtime, number: int) -> None:
    scan = rt.model.glob("scan", {})
    if number > scan.get("highest", 0):
        rt.model.set_glob("scan", scan | {"highest": number})


def _membership(rt: Runtime, payload: dict[str, Any]) -> str:
    team = payload.get("team") or {}
    org = login_of(payload.get("organization"))
    if team.get("slug") != rt.settings.team or (org and org.lower() != rt.settings.owner.lower()):
        return "another team"
    member = login_of(payload.get("member"))
    action = payload.get("action")
    if not member or action not in ("added", "removed"):
        return "nothing to model"
    with rt.model.state:
        known = rt.model.glob("team", {})
        members = [m for m in known.get("members", []) if m.lower() != member.lower()]
        if action == "added":
            members.append(member)
        rt.model.set_glob("team", known | {"members": sorted(members)})
    return f"member {action}"
