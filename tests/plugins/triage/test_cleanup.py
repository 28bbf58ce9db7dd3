"""Every cleanup rule, with an injected clock, against the fake GitHub's state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.plugins.triage.conftest import T0, TEAM, seconds

DUE = T0 + timedelta(minutes=45)


@pytest.fixture
def triage(make_triage):
    made = make_triage()
    made.rt.model.set_glob("team", {"members": TEAM, "loaded": seconds(T0)})
    return made


def cleaned(triage, number: int, when=DUE) -> None:
    """Queue ``number`` with an event at T0 (by alice) and run the cleanup at ``when``."""
    triage.clock.now = T0
    triage.touch(number)
    triage.tick("cleanup_due", when)


def test_several_priorities_keep_the_highest(triage, github) -> None:
    github.add(1, labels=["team-engine", "P3", "P1", "P2", "triaged-engine"])
    cleaned(triage, 1)
    assert triage.labels(1) == ["team-engine", "P1", "triaged-engine"]
    assert triage.comments(1) == []
    assert triage.issue(1).labels == ["team-engine", "P1", "triaged-engine"]
    assert triage.rt.counts.get("triage_label_changes", rule="priorities", change="removed") == 2


def test_several_teams_are_all_removed_with_their_triage_labels(triage, github) -> None:
    github.add(1, labels=["team-engine", "team-tool", "triaged-engine", "fyi-tool", "P2",
                          "fyi-web"])
    cleaned(triage, 1)
    assert triage.labels(1) == ["P2", "fyi-web"]
    [comment] = triage.comments(1)
    assert "more than one team label (`team-engine`, `team-tool`)" in comment


def test_fyi_redundant_with_the_team_is_removed_with_a_comment(triage, github) -> None:
    github.add(1, labels=["team-engine", "fyi-engine", "P2"])
    cleaned(triage, 1)
    assert triage.labels(1) == ["team-engine", "P2"]
    assert triage.comments(1) == [
        "The `fyi-engine` label was removed: the issue already belongs to `team-engine`."]


def test_fyi_acknowledged_by_triaged_is_removed_silently(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P2", "fyi-tool", "triaged-tool"])
    cleaned(triage, 1)
    assert triage.labels(1) == ["team-engine", "triaged-engine", "P2"]
    assert triage.comments(1) == []


def test_triaged_without_its_team_is_removed_with_a_comment(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "triaged-web", "P2"])
    cleaned(triage, 1)
    assert triage.labels(1) == ["team-engine", "triaged-engine", "P2"]
    [comment] = triage.comments(1)
    assert comment.startswith("The `triaged-web` label was removed")


def test_triaged_without_priority_goes_back_once_per_team_per_day(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine"])
    github.add(2, labels=["team-engine", "triaged-engine"])
    triage.touch(1)
    triage.touch(2)
    triage.tick("cleanup_due", DUE)
    assert triage.labels(1) == ["team-engine"]
    assert "needs a priority (P0, P1, P2, P3)" in triage.comments(1)[0]
    assert triage.labels(2) == ["team-engine", "triaged-engine"]  # the team had its refeed
    assert triage.rt.model.glob("refeeds") == {"engine": seconds(DUE)}
    assert triage.rt.model.pending() == {2: seconds(DUE + timedelta(days=1))}
    triage.tick("cleanup_due", DUE + timedelta(hours=23))
    assert triage.labels(2) == ["team-engine", "triaged-engine"]
    triage.tick("cleanup_due", DUE + timedelta(days=1))
    assert triage.labels(2) == ["team-engine"]
    assert triage.rt.model.pending() == {}


def test_the_thumbs_label_goes_once_triaged(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P1", "new thumbs-up"])
    github.add(2, labels=["team-engine", "P1", "new thumbs-up"])
    triage.touch(1)
    triage.touch(2)
    triage.tick("cleanup_due", DUE)
    assert triage.labels(1) == ["team-engine", "triaged-engine", "P1"]
    assert triage.labels(2) == ["team-engine", "P1", "new thumbs-up"]  # not triaged yet


def test_the_stale_label_goes_when_touched_recently_or_unassigned(triage, github) -> None:
    github.add(1, labels=["stale"], assignees=["dave"])  # touched by alice at T0
    github.add(2, labels=["stale"])  # unassigned
    github.add(3, labels=["stale"], assignees=["dave"])
    triage.touch(1)
    triage.touch(2)
    triage.touch(3, sender="dave")  # the assignee, not a contributor
    triage.tick("cleanup_due", DUE)
    assert (triage.labels(1), triage.labels(2), triage.labels(3)) == ([], [], ["stale"])


def test_locked_before_it_was_reopened_is_unlocked(triage, github, clock) -> None:
    github.add(1, locked=True)
    triage.touch(1, action="locked")
    clock.advance(days=2)
    github.issues[1].state = "open"
    triage.touch(1, action="reopened")
    triage.tick("cleanup_due", clock.now + timedelta(minutes=45))
    assert github.issues[1].locked is False
    assert triage.issue(1).locked_at == 0
    assert [c.method for c in github.changes(1)] == ["DELETE"]


def test_an_issue_locked_after_its_reopening_stays_locked(triage, github, clock) -> None:
    github.add(1)
    triage.touch(1, action="reopened")
    github.issues[1].locked = True
    clock.advance(hours=1)
    triage.touch(1, action="locked")
    triage.tick("cleanup_due", clock.now + timedelta(minutes=45))
    assert github.issues[1].locked is True and github.changes(1) == []


def test_nothing_is_done_before_the_issue_is_idle_for_the_delay(triage, github, clock) -> None:
    github.add(1, labels=["P1", "P2"])
    triage.touch(1)
    clock.advance(minutes=30)
    triage.touch(1)  # a second event: idle counts from here
    assert triage.tick("cleanup_due", T0 + timedelta(minutes=50)) == []
    assert triage.labels(1) == ["P1", "P2"]
    triage.tick("cleanup_due", T0 + timedelta(minutes=75))
    assert triage.labels(1) == ["P1"]


def test_a_fresh_get_must_find_the_issue_open(triage, github) -> None:
    github.add(1, labels=["P1", "P2"])
    triage.touch(1)
    github.issues[1].state = "closed"  # the closing event has not arrived
    triage.tick("cleanup_due", DUE)
    assert triage.labels(1) == ["P1", "P2"] and github.changes() == []
    assert triage.issue(1) is None


def test_the_rules_comments_come_as_one_comment(triage, github) -> None:
    github.add(1, labels=["team-engine", "fyi-engine", "triaged-web", "P2"])
    cleaned(triage, 1)
    [comment] = triage.comments(1)
    assert "`fyi-engine` label was removed" in comment
    assert "\n\nThe `triaged-web` label was removed" in comment


def test_dry_run_changes_nothing_and_says_what_it_would_do(make_triage, github) -> None:
    triage = make_triage(dry_run=True)
    github.add(1, labels=["team-engine", "team-tool", "P2"])
    cleaned(triage, 1)
    assert triage.labels(1) == ["team-engine", "team-tool", "P2"] and github.changes() == []
    assert list(triage.rt.would) == ["#1: -team-engine; -team-tool; comment (teams)"]
    assert triage.rt.model.pending() == {}
    lines = triage.harness.ask("!triage")
    assert "(dry run: GitHub is not changed)" in lines[0]
    assert lines[-1] == "dry run, last change not made: #1: -team-engine; -team-tool; comment " \
                        "(teams)"


def test_a_spent_rate_limit_defers_the_cleanup(triage, github) -> None:
    github.add(1, labels=["P1", "P2"])
    triage.touch(1)
    github.remaining = 200  # 4 % of 5,000 left: under the 5 % kept in reserve
    github.add(9)
    triage.tick("background_update", T0)  # a call that reads the quota (scan: 50 % reserve)
    poller = next(p for p in triage.harness.bot.pollers if p.name == "triage.cleanup_due")
    result = poller.run_once(DUE)
    assert result.kind == "deferred" and result.retry_s > 3000
    assert triage.labels(1) == ["P1", "P2"] and triage.rt.model.due() == [1]
