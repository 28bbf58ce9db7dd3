"""What ``<webhook_prefix>/triage/debug``, ``!triage`` and the plugin's line of
``!status`` and ``/healthz`` show.

Layer: plugin; HTTP worker and reactive threads (it only reads). The page is plain
text: uptime, mode, credentials, rate limit, the team, the scan's position, the last
runs, pending cleanups, refeed times, the self-test issue, the counts, the changes a
dry run did not make, and every tracked issue with its number. The status line is the
size of the model, the last scan and the rate limit left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from .model import Issue
from .runtime import Runtime


def stamp(seconds: float) -> str:
    """``2026-01-31 12:00 UTC``, or ``never`` for 0."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds)) if seconds else "never"


def duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m"


def summary(rt: Runtime) -> list[str]:
    """The short status: what ``!triage`` answers (one line each)."""
    s, model, quota = rt.settings, rt.model, rt.github.quota
    scan, runs = model.glob("scan", {}), model.glob("runs", {})
    mode = " (dry run: GitHub is not changed)" if s.dry_run else ""
    left = f"{quota.remaining}/{quota.limit}, resets {stamp(quota.reset)}" if quota.limit \
        else "not known yet"
    lines = [
        f"triage of {s.repo}{mode}, up {duration(time.time() - rt.started)}: "
        f"{model.tracked()} open issues tracked, {len(model.pending())} cleanups pending",
        f"scan: next #{scan.get('next') or scan.get('highest') or '?'} of "
        f"#{scan.get('highest') or '?'}, {scan.get('passes', 0)} full passes; "
        f"team {s.team}: {len(model.team())} members",
        f"GitHub ({rt.github.auth.describe()}): rate limit {left}; last cleanup "
        f"{stamp(runs.get('cleanup', 0))}, last tidy {stamp(runs.get('tidy', 0))}",
    ]
    if rt.last_error:
        lines.append(f"last error: {rt.last_error}")
    return lines


def status_line(rt: Runtime) -> str:
    """One line for ``!status`` and ``/healthz``: quick (no call to GitHub, no scan of
    the issues), read from any thread."""
    model, quota = rt.model, rt.github.quota
    scan = model.glob("scan", {})
    upcoming = scan.get("next") or scan.get("highest") or "?"
    last = f"last scan {stamp(scan['at'])}, next #{upcoming}" if scan.get("at") \
        else "no scan yet"
    left = f"GitHub rate limit {quota.remaining}/{quota.limit} left" if quota.limit \
        else "GitHub rate limit not known yet"
    mode = "; dry run" if rt.settings.dry_run else ""
    return (f"{model.tracked()} open issue(s) tracked, {len(model.pending())} cleanup(s) pending; "
            f"{last}; {left}{mode}")


def describe(number: int, issue: Issue) -> str:
    """One issue as the debug page lists it."""
    parts = [f"#{number}: labels [{', '.join(issue.labels)}]", f"opened {stamp(issue.opened)}",
             f"touched {stamp(issue.touched)}"]
    if issue.assignee:
        flags = [word for word, on in (("reporter", issue.assignee_is_reporter),
                                       ("member", issue.assignee_is_member)) if on]
        parts.append(f"assigned to {issue.assignee}" + (f" ({', '.join(flags)})" if flags else "")
                     + f", who touched it {stamp(issue.assignee_touched)}")
    if issue.locked_at:
        parts.append(f"locked {stamp(issue.locked_at)}")
    if issue.reopened_at:
        parts.append(f"reopened {stamp(issue.reopened_at)}")
    if issue.triaged_at:
        parts.append(f"triaged {stamp(issue.triaged_at)} with {issue.thumbs_at_triage} "
                     "thumbs-up")
    parts.append(f"{issue.thumbs} thumbs-up")
    if issue.cleanup_at:
        parts.append(f"cleanup due {stamp(issue.cleanup_at)}")
    return "; ".join(parts)


def page(rt: Runtime) -> str:
    return "\n".join(_page(rt)) + "\n"


def _page(rt: Runtime) -> Iterator[str]:
    model = rt.model
    yield from summary(rt)
    pending = model.pending()
    yield f"pending cleanups ({len(pending)}):" + "".join(
        f" #{n} at {stamp(at)};" for n, at in sorted(pending.items()))
    refeeds = model.glob("refeeds", {})
    yield "refeeds:" + ("".join(f" {team} {stamp(at)};" for team, at in sorted(refeeds.items()))
                        or " none")
    test = model.glob("selftest", {})
    yield (f"self-test: #{test['number']} opened {stamp(test.get('created', 0))}"
           + (f", escalated {stamp(test['escalated'])}" if test.get("escalated") else "")
           if test.get("number") else "self-test: none opened yet")
    yield "counts:" + ("".join(f"\n  {line}" for line in rt.counts.lines()) or " none yet")
    if rt.settings.dry_run:
        yield f"dry run, changes not made ({len(rt.would)} latest):"
        yield from (f"  {line}" for line in rt.would)
    yield f"issues ({model.tracked()}):"
    for number, issue in model.issues():
        yield describe(number, issue)
