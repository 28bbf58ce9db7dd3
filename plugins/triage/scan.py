"""The background scan: one issue per ``background_update_s``, rebuilt from its timeline.

Layer: plugin; the scan poller's thread (and ``force-update`` on an HTTP worker). The
scan walks from the highest issue number downwards and wraps around to the highest
again (asked of GitHub at the start of each pass, and raised by ``opened`` webhooks);
its position is stored after each issue, so a restart resumes where
it stopped. For each number it GETs the issue (a pull request, a closed, deleted or
transferred issue leaves the model) and replays its timeline to rebuild the last
touch by a contributor and by the assignee, the lock, the last reopening and when it
was triaged. It leaves ``scan_reserve`` (half) of the rate limit to everything else.
Before the first issue, and every ``team_refresh_s``, it reads the team's members.
"""

from __future__ import annotations

from typing import Any

from .github import NotFound, RateLimited
from .model import Issue, Labels, login_of, parse_time, refreshed
from .runtime import Runtime, log

NOT_TOUCHES = ("subscribed", "unsubscribed", "mentioned")
"""Timeline events that do not count as someone touching the issue."""
GIVE_UP_AFTER = 3
"""An issue failing this many scans in a row is passed over until the next pass."""


def step(rt: Runtime, now: int) -> str:
    """Scan the next issue (reading the team or the highest number first if due)."""
    if _team_due(rt, now):
        load_team(rt, now)
    scan = rt.model.glob("scan", {})
    highest = scan.get("highest") or find_highest(rt)
    if not highest:
        return "the repository has no issues"
    number = min(scan.get("next") or highest, highest)
    try:
        outcome = update(rt, number, now, rt.settings.scan_reserve)
    except RateLimited:
        raise
    except Exception:
        if rt.scan_failures.get(number, 0) + 1 < GIVE_UP_AFTER:
            rt.scan_failures[number] = rt.scan_failures.get(number, 0) + 1
            raise
        log.warning("scan: passing over #%d after %d failures", number, GIVE_UP_AFTER)
        outcome = "passed over"
    rt.scan_failures.pop(number, None)
    _advance(rt, number, now)
    return f"#{number}: {outcome}"


def _advance(rt: Runtime, number: int, now: int) -> None:
    """Store the next number; after #1 the next pass starts from a fresh highest number."""
    with rt.model.state:
        scan = rt.model.glob("scan", {})
        if number <= 1:
            scan |= {"highest": 0, "next": 0, "passes": scan.get("passes", 0) + 1}
        else:
            scan |= {"next": number - 1}
        rt.model.set_glob("scan", scan | {"at": now})


def _team_due(rt: Runtime, now: int) -> bool:
    loaded = rt.model.glob("team", {}).get("loaded", 0)
    return not loaded or now - loaded >= rt.settings.team_refresh_s or not rt.team_read


def load_team(rt: Runtime, now: int) -> None:
    """Read the members of the contributors' team."""
    path = f"/orgs/{rt.settings.owner}/teams/{rt.settings.team}/members"
    members = sorted({login_of(m) for page in rt.github.pages(path, rt.settings.scan_reserve)
                      for m in page if login_of(m)})
    rt.model.set_glob("team", {"members": members, "loaded": now})
    rt.team_read = True
    log.info("team %s: %d members", rt.settings.team, len(members))


def find_highest(rt: Runtime) -> int:
    """The newest issue's (or pull request's) number, stored as the scan's start."""
    newest = rt.github.json("GET", rt.github.repo_path + "/issues", rt.settings.scan_reserve,
                            params={"state": "all", "sort": "created", "direction": "desc",
                                    "per_page": 1})
    highest = int(newest[0]["number"]) if isinstance(newest, list) and newest else 0
    if highest:
        with rt.model.state:
            rt.model.set_glob("scan", rt.model.glob("scan", {}) | {"highest": highest})
    return highest


def update(rt: Runtime, number: int, now: int, reserve: float) -> str:
    """Bring one issue's record up to date from GitHub; what became of it."""
    try:
        payload = rt.github.json("GET", rt.github.issue_path(number), reserve)
    except NotFound:
        rt.model.drop(number)
        return "not found"
    if not isinstance(payload, dict) or payload.get("pull_request"):
        rt.model.drop(number)
        return "a pull request"
    if payload.get("state") != "open":
        rt.model.drop(number)
        return "closed"
    events = [e for page in rt.github.pages(rt.github.issue_path(number, "/timeline"), reserve)
              for e in page if isinstance(e, dict)]
    with rt.model.state:
        old = rt.model.get(number)
        issue = refreshed(old, payload, rt.labels, rt.model.team(), now)
        replay(issue, old, payload, events, rt.labels, rt.model.team(), now)
        rt.model.put(number, issue)
    rt.counts.count("triage_scanned_issues")
    rt.update_gauges()
    return "updated"


def replay(issue: Issue, old: Issue | None, payload: dict[str, Any], events: list[dict[str, Any]],
           labels: Labels, members: set[str], now: int) -> None:
    """Rebuild touches, lock, reopening and triage time from the timeline, in place."""
    touched = assignee_touched = triaged_at = locked_at = reopened_at = 0
    present: list[str] = []
    assignee = issue.assignee.lower()
    for event in events:
        at = parse_time(event.get("created_at"))
        kind = str(event.get("event", ""))
        if not at:
            continue
        name = (event.get("label") or {}).get("name", "")
        if kind == "labeled" and name not in present:
            present.append(name)
            team = labels.triaged(name)
            if team and labels.teams_of(present) == [team]:
                triaged_at = at
        elif kind == "unlabeled" and name in present:
            present.remove(name)
            if not labels.triaged_teams(present):
                triaged_at = 0
        elif kind in ("locked", "unlocked"):
            locked_at = at if kind == "locked" else 0
        elif kind == "reopened":
            reopened_at = at
        actor = (login_of(event.get("actor")) or login_of(event.get("user"))).lower()
        if actor and kind not in NOT_TOUCHES:
            touched = at if actor in members else touched
            assignee_touched = at if assignee and actor == assignee else assignee_touched
    issue.touched, issue.assignee_touched, issue.reopened_at = touched, assignee_touched, \
        reopened_at
    issue.locked_at = (locked_at or issue.locked_at or now) if payload.get("locked") else 0
    triaged_now = labels.triaged_teams(issue.labels)
    issue.triaged_at = triaged_at if triaged_now else 0
    same = old is not None and old.triaged_at == issue.triaged_at
    issue.thumbs_at_triage = old.thumbs_at_triage if same and old else issue.thumbs \
        if issue.triaged_at else 0
