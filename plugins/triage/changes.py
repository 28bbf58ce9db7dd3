"""Changes the rules ask for, and making them on GitHub (or only saying so).

Layer: plugin; the poller and HTTP worker threads that run the rules. A ``Change``
says which labels to add and remove (each with the rule that wants it), whether to
unassign and unlock, and the comment paragraphs, posted as one comment. In dry-run
mode nothing is sent: the change is logged and kept for ``/debug`` and ``!triage``.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .github import NotFound
from .model import Issue, Labels
from .runtime import Runtime

log = logging.getLogger("univac.plugin.triage")


@dataclass
class Change:
    """What the rules want done to one issue."""

    number: int
    add: dict[str, str] = field(default_factory=dict)
    """Label -> the rule that adds it."""
    remove: dict[str, str] = field(default_factory=dict)
    """Label -> the rule that removes it."""
    comments: list[tuple[str, str]] = field(default_factory=list)
    """(rule, paragraph)."""
    unlock: str = ""
    """The rule that unlocks it, if one does."""
    unassign: tuple[str, ...] = ()
    unassign_rule: str = ""
    refeeds: list[str] = field(default_factory=list)
    """Teams the issue is sent back to (counted against their refeed limit)."""

    def empty(self) -> bool:
        return not (self.add or self.remove or self.comments or self.unlock or self.unassign)

    def drop(self, label: str, rule: str, labels: list[str]) -> None:
        """Remove ``label`` from the working ``labels`` (and from GitHub)."""
        if label in labels:
            labels.remove(label)
            if self.add.pop(label, None) is None:
                self.remove[label] = rule

    def put(self, label: str, rule: str, labels: list[str]) -> None:
        if label not in labels:
            labels.append(label)
            if self.remove.pop(label, None) is None:
                self.add[label] = rule

    def say(self, rule: str, text: str) -> None:
        self.comments.append((rule, text))

    def describe(self) -> str:
        parts = [f"-{label}" for label in self.remove] + [f"+{label}" for label in self.add]
        if self.unassign:
            parts.append("unassign " + ", ".join(self.unassign))
        if self.unlock:
            parts.append("unlock")
        if self.comments:
            parts.append("comment (" + ", ".join(dict.fromkeys(r for r, _ in self.comments)) + ")")
        return f"#{self.number}: " + "; ".join(parts)

    def comment(self) -> str:
        return "\n\n".join(text for _, text in self.comments)


def apply(rt: Runtime, change: Change) -> None:
    """Make ``change`` on GitHub, or log it in dry-run mode."""
    if change.empty():
        return
    if rt.settings.dry_run:
        log.info("dry run: would change %s", change.describe())
        rt.would.append(change.describe())
        return
    log.info("changing %s", change.describe())
    reserve, path = rt.settings.reserve, rt.github.issue_path
    for label, rule in change.remove.items():
        with suppress(NotFound):  # already gone
            rt.github.call("DELETE", path(change.number, f"/labels/{quote(label, safe='')}"),
                           reserve)
        rt.counts.count("triage_label_changes", rule=rule, change="removed")
    if change.add:
        rt.github.call("POST", path(change.number, "/labels"), reserve,
                       {"labels": list(change.add)})
        for rule in change.add.values():
            rt.counts.count("triage_label_changes", rule=rule, change="added")
    _actions(rt, change)


def _actions(rt: Runtime, change: Change) -> None:
    reserve, path = rt.settings.reserve, rt.github.issue_path
    if change.unassign:
        rt.github.call("DELETE", path(change.number, "/assignees"), reserve,
                       {"assignees": list(change.unassign)})
        rt.counts.count("triage_actions", rule=change.unassign_rule, kind="unassign")
    if change.unlock:
        rt.github.call("DELETE", path(change.number, "/lock"), reserve)
        rt.counts.count("triage_actions", rule=change.unlock, kind="unlock")
    if change.comments:
        rt.github.call("POST", path(change.number, "/comments"), reserve,
                       {"body": change.comment()})
        for rule in dict.fromkeys(r for r, _ in change.comments):
            rt.counts.count("triage_actions", rule=rule, kind="comment")


def open_issue(rt: Runtime, number: int) -> dict[str, Any] | None:
    """The issue as GitHub has it now, if it is an open issue; else it leaves the model."""
    try:
        payload = rt.github.json("GET", rt.github.issue_path(number), rt.settings.reserve)
    except NotFound:
        payload = None
    if not isinstance(payload, dict) or payload.get("state") != "open" \
            or payload.get("pull_request"):
        rt.model.drop(number)
        return None
    return payload


def into_model(labels: Labels, issue: Issue, change: Change) -> None:
    """What ``change`` did to GitHub, done to the model's ``issue`` too."""
    issue.labels = [label for label in issue.labels if label not in change.remove]
    issue.labels += [label for label in change.add if label not in issue.labels]
    if change.unlock:
        issue.locked_at = 0
    if change.unassign:
        issue.assignee, issue.assignee_touched = "", 0
        issue.assignee_is_member = issue.assignee_is_reporter = False
    if not labels.triaged_teams(issue.labels):
        issue.triaged_at = issue.thumbs_at_triage = 0
