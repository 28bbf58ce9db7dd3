"""The cleanup rules: labelling invariants, enforced on issues idle since their last event.

Layer: plugin; the cleanup poller's thread (and ``force-cleanup`` on an HTTP worker).
An issue is due ``cleanup_delay_s`` after its last event (events.py queues it). For
each, a fresh GET confirms that it is still open, then the rules run in order on its
labels, each seeing what the ones before it changed:

1. several priorities: keep the highest;
2. several ``team-*``: remove them all, with their ``triaged-*`` and ``fyi-*``, and ask
   for one team label;
3. ``fyi-X`` with ``team-X``: redundant, removed with a comment; ``fyi-X`` acknowledged
   by ``triaged-X`` (no ``team-X``): both removed silently;
4. ``triaged-X`` without ``team-X``: removed with a comment;
5. ``triaged-X`` without a priority: removed with a comment, sending the issue back to
   team X's triage, at most once per team per ``refeed_delay_s`` (else the issue waits);
6. triaged and still carrying the thumbs label: the label is removed;
7. the stale label on an issue a contributor touched recently, or on an unassigned
   one: removed;
8. locked before it was last reopened: unlocked.

The comments of one issue are posted as one comment.
"""

from __future__ import annotations

from .changes import Change, apply, into_model, open_issue
from .model import Issue, refreshed
from .runtime import Runtime

MULTIPLE_TEAMS = ("This issue had more than one team label ({labels}). An issue belongs to "
                  "one team: please add exactly one `{prefix}*` label. To ask another team "
                  "for its opinion, add its `{fyi}*` label instead.")
FYI_REDUNDANT = "The `{fyi}` label was removed: the issue already belongs to `{team}`."
TRIAGED_WITHOUT_TEAM = ("The `{triaged}` label was removed: the issue does not have the "
                        "`{team}` label, and only the owning team marks an issue triaged.")
NO_PRIORITY = ("The `{triaged}` label was removed: a triaged issue needs a priority "
               "({priorities}). This sends it back to the triage of `{team}`.")


def run(rt: Runtime, numbers: list[int], now: int) -> int:
    """Clean up each issue of ``numbers``; how many were changed."""
    changed = 0
    for number in numbers:
        changed += clean(rt, number, now)
    rt.ran("cleanup", now)
    return changed


def clean(rt: Runtime, number: int, now: int) -> bool:
    """Run the rules on one issue (after a fresh GET); True when something was changed."""
    payload = open_issue(rt, number)
    if payload is None:
        return False
    fresh = refreshed(rt.model.get(number), payload, rt.labels, rt.model.team(), now)
    change, wait_until = plan(rt, number, fresh, now)
    apply(rt, change)
    with rt.model.state:
        current = rt.model.get(number)
        if current is None:
            return not change.empty()  # closed meanwhile
        after = refreshed(current, payload, rt.labels, rt.model.team(), now)
        if not rt.settings.dry_run:
            into_model(rt.labels, after, change)
        queued_meanwhile = current.cleanup_at > fresh.cleanup_at
        after.cleanup_at = current.cleanup_at if queued_meanwhile else wait_until
        rt.model.put(number, after)
        for team in change.refeeds:
            rt.model.record_refeed(team, now)
    return not change.empty()


def plan(rt: Runtime, number: int, issue: Issue, now: int) -> tuple[Change, int]:
    """The cleanup of one issue; and when to look again (0: not until its next event)."""
    change, labels = Change(number), list(issue.labels)
    _priorities(rt, change, labels)
    _teams(rt, change, labels)
    _fyi(rt, change, labels)
    _triaged_without_team(rt, change, labels)
    wait_until = _without_priority(rt, change, labels, now)
    if rt.labels.is_triaged(labels):
        change.drop(rt.settings.thumbs_label, "thumbs-triaged", labels)
    recently = issue.touched and now - issue.touched < rt.settings.stale_after_s
    if recently or not issue.assignee:
        change.drop(rt.settings.stale_label, "stale-touched", labels)
    if issue.locked_at and issue.locked_at < issue.reopened_at:
        change.unlock = "unlock-reopened"
    return change, wait_until


def _priorities(rt: Runtime, change: Change, labels: list[str]) -> None:
    for lower in rt.labels.priorities_of(labels)[1:]:
        change.drop(lower, "priorities", labels)


def _teams(rt: Runtime, change: Change, labels: list[str]) -> None:
    teams = rt.labels.teams_of(labels)
    if len(teams) < 2:
        return
    named = ", ".join(f"`{rt.labels.team_label(t)}`" for t in teams)
    for team in teams:
        for label in (rt.labels.team_label(team), rt.labels.triaged_label(team),
                      rt.labels.fyi_label(team)):
            change.drop(label, "teams", labels)
    change.say("teams", MULTIPLE_TEAMS.format(labels=named, prefix=rt.settings.team_prefix,
                                              fyi=rt.settings.fyi_prefix))


def _fyi(rt: Runtime, change: Change, labels: list[str]) -> None:
    for team in [t for t in map(rt.labels.fyi, list(labels)) if t]:
        fyi = rt.labels.fyi_label(team)
        if rt.labels.team_label(team) in labels:
            change.drop(fyi, "fyi-redundant", labels)
            change.say("fyi-redundant", FYI_REDUNDANT.format(
                fyi=fyi, team=rt.labels.team_label(team)))
        elif rt.labels.triaged_label(team) in labels:
            change.drop(fyi, "fyi-acknowledged", labels)
            change.drop(rt.labels.triaged_label(team), "fyi-acknowledged", labels)


def _triaged_without_team(rt: Runtime, change: Change, labels: list[str]) -> None:
    for team in rt.labels.triaged_teams(list(labels)):
        if rt.labels.team_label(team) not in labels:
            triaged = rt.labels.triaged_label(team)
            change.drop(triaged, "triaged-without-team", labels)
            change.say("triaged-without-team", TRIAGED_WITHOUT_TEAM.format(
                triaged=triaged, team=rt.labels.team_label(team)))


def _without_priority(rt: Runtime, change: Change, labels: list[str], now: int) -> int:
    if rt.labels.priorities_of(labels):
        return 0
    wait_until = 0
    for team in rt.labels.triaged_teams(list(labels)):
        if not rt.model.refeed_allowed(team, now, rt.settings.refeed_delay_s):
            wait_until = rt.model.refeed_at(team) + int(rt.settings.refeed_delay_s)
            continue
        triaged = rt.labels.triaged_label(team)
        change.drop(triaged, "triaged-without-priority", labels)
        change.say("triaged-without-priority", NO_PRIORITY.format(
            triaged=triaged, team=rt.labels.team_label(team),
            priorities=", ".join(rt.settings.priorities)))
        change.refeeds.append(team)
    return wait_until
