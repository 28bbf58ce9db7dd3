"""The tidy rules: stale work goes back to triage; old locks open; the self-test.

Layer: plugin; the tidy poller's thread (and ``force-tidy`` on an HTTP worker). Every
``tidy_period_s`` each tracked issue is checked against the model; when a rule
applies, a fresh GET confirms the issue is open and the rules run again on what
GitHub says before anything changes. "Untouched" counts from the last touch by a
contributor (or the opening). "Back to triage" removes ``triaged-X``, at most once per
team per ``refeed_delay_s``:

- assigned and untouched for ``unassign_after_s`` (29 weeks): unassigned, back to
  triage, the stale label removed, with a comment;
- else assigned and untouched for ``stale_after_s`` (18 weeks): the stale label and a
  comment;
- unassigned, triaged ``unassigned_priority`` (P1) and untouched for
  ``unassigned_p1_after_s`` (18 weeks): back to triage, with a comment;
- locked for ``unlock_after_s`` (28 days), not ``permanently locked``: unlocked;
- triaged, with at least ``thumbs_min`` thumbs-up and ``thumbs_ratio`` times as many
  as when it was triaged: back to triage with the thumbs label, and a comment;
- the self-test: an issue opened every ``self_test_period_s`` (6 weeks) while none is
  open; escalated (the critical label and a comment) when no contributor touched it
  for ``self_test_escalate_s`` (18 days).
"""

from __future__ import annotations

from typing import Any

from .changes import Change, apply, into_model, open_issue
from .model import Issue, login_of, refreshed
from .runtime import Runtime, log

STALE = ("This issue is assigned but has had no activity from the team for {weeks} weeks. "
         "If you are still working on it, please leave a comment; otherwise consider "
         "unassigning yourself so that someone else can take it.")
UNASSIGNED = ("This issue was assigned but had no activity from the team for {weeks} weeks, "
              "so it was unassigned and sent back to triage.")
P1_UNTOUCHED = ("This unassigned {priority} issue has had no activity from the team for "
                "{weeks} weeks; it is sent back to triage to check its priority.")
THUMBS = ("This issue has {thumbs} thumbs-up, at least {ratio:g} times as many as when it was "
          "triaged; it is sent back to triage to check its priority.")
ESCALATED = ("This self-test issue has not been handled for {days} days; it is escalated to "
             "critical triage.")


def run(rt: Runtime, now: int) -> int:
    """Tidy every tracked issue and the self-test; how many issues were changed."""
    changed = 0
    for number, issue in rt.model.issues():
        if not plan(rt, number, issue, [issue.assignee] if issue.assignee else [], now).empty():
            changed += confirm_and_apply(rt, number, now)
    self_test(rt, now)
    rt.ran("tidy", now)
    return changed


def confirm_and_apply(rt: Runtime, number: int, now: int) -> bool:
    """GET the issue; if it is open, plan on what GitHub says and make the change."""
    payload = open_issue(rt, number)
    if payload is None:
        return False
    with rt.model.state:
        fresh = refreshed(rt.model.get(number), payload, rt.labels, rt.model.team(), now)
    assignees = [login_of(a) for a in payload.get("assignees") or [] if login_of(a)]
    change = plan(rt, number, fresh, assignees, now)
    apply(rt, change)
    with rt.model.state:
        current = rt.model.get(number)
        if current is not None:
            after = refreshed(current, payload, rt.labels, rt.model.team(), now)
            if not rt.settings.dry_run:
                into_model(rt.labels, after, change)
            rt.model.put(number, after)
        for team in change.refeeds:
            rt.model.record_refeed(team, now)
    return not change.empty()


def plan(rt: Runtime, number: int, issue: Issue, assignees: list[str], now: int) -> Change:
    """The tidy change of one issue (refeeds only where the team's limit allows)."""
    s, change, labels = rt.settings, Change(number), list(issue.labels)
    idle = now - issue.untouched_since()
    if assignees and idle >= s.unassign_after_s and _refeed_ok(rt, labels, now):
        change.unassign, change.unassign_rule = tuple(assignees), "unassign-untouched"
        change.drop(s.stale_label, "unassign-untouched", labels)
        _back_to_triage(rt, change, labels, "unassign-untouched")
        change.say("unassign-untouched", UNASSIGNED.format(weeks=_weeks(s.unassign_after_s)))
    elif assignees and idle >= s.stale_after_s and s.stale_label not in labels:
        change.put(s.stale_label, "stale", labels)
        change.say("stale", STALE.format(weeks=_weeks(s.stale_after_s)))
    elif (not assignees and s.unassigned_priority in labels and idle >= s.unassigned_p1_after_s
          and rt.labels.is_triaged(labels) and _refeed_ok(rt, labels, now)):
        _back_to_triage(rt, change, labels, "p1-untouched")
        change.say("p1-untouched", P1_UNTOUCHED.format(
            priority=s.unassigned_priority, weeks=_weeks(s.unassigned_p1_after_s)))
    if (issue.locked_at and s.permanently_locked_label not in labels
            and now - issue.locked_at >= s.unlock_after_s):
        change.unlock = "unlock-old"
    if _thumbs_up(rt, issue, labels) and _refeed_ok(rt, labels, now):
        _back_to_triage(rt, change, labels, "thumbs")
        change.put(s.thumbs_label, "thumbs", labels)
        change.say("thumbs", THUMBS.format(thumbs=issue.thumbs, ratio=s.thumbs_ratio))
    return change


def _thumbs_up(rt: Runtime, issue: Issue, labels: list[str]) -> bool:
    s = rt.settings
    return (rt.labels.is_triaged(labels) and s.thumbs_label not in labels
            and issue.thumbs >= s.thumbs_min
            and issue.thumbs >= s.thumbs_ratio * issue.thumbs_at_triage)


def _owning_team(rt: Runtime, labels: list[str]) -> str:
    teams = rt.labels.teams_of(labels)
    return teams[0] if len(teams) == 1 else ""


def _refeed_ok(rt: Runtime, labels: list[str], now: int) -> bool:
    team = _owning_team(rt, labels)
    return not team or rt.model.refeed_allowed(team, now, rt.settings.refeed_delay_s)


def _back_to_triage(rt: Runtime, change: Change, labels: list[str], rule: str) -> None:
    team = _owning_team(rt, labels)
    for triaged in rt.labels.triaged_teams(list(labels)):
        change.drop(rt.labels.triaged_label(triaged), rule, labels)
    if team and team not in change.refeeds:
        change.refeeds.append(team)


def _weeks(seconds: float) -> str:
    return f"{seconds / (7 * 86400):g}"


def self_test(rt: Runtime, now: int) -> None:
    """Open the self-test issue when it is time; escalate it when nobody handled it."""
    s, test = rt.settings, rt.model.glob("selftest", {})
    number, created = int(test.get("number", 0)), int(test.get("created", 0))
    issue = rt.model.get(number) if number else None
    if issue is not None:
        if not test.get("escalated") and now - max(issue.touched, created) >= \
                s.self_test_escalate_s:
            change = Change(number)
            change.put(s.critical_label, "self-test", list(issue.labels))
            change.say("self-test", ESCALATED.format(days=f"{s.self_test_escalate_s / 86400:g}"))
            apply(rt, change)
            if not s.dry_run:
                rt.model.set_glob("selftest", test | {"escalated": now})
        return
    if created and now - created < s.self_test_period_s:
        return
    _open_self_test(rt, now)


def _open_self_test(rt: Runtime, now: int) -> None:
    s = rt.settings
    if s.dry_run:
        rt.would.append(f"open the self-test issue {s.self_test_title!r}")
        log.info("dry run: would open the self-test issue")
        return
    body: dict[str, Any] = {"title": s.self_test_title, "body": s.self_test_body}
    if s.self_test_labels:
        body["labels"] = list(s.self_test_labels)
    created = rt.github.json("POST", rt.github.repo_path + "/issues", s.reserve, body)
    number = int(created["number"])
    rt.counts.count("triage_actions", rule="self-test", kind="open")
    with rt.model.state:
        issue = refreshed(None, created, rt.labels, rt.model.team(), now)
        rt.model.put(number, issue)
        rt.model.set_glob("selftest", {"number": number, "created": now})
    log.info("opened the self-test issue #%d", number)
