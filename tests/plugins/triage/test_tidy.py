"""Every tidy rule and the self-test, with an injected clock, against the fake GitHub."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.plugins.triage.conftest import T0, TEAM, seconds

WEEK = timedelta(weeks=1)


@pytest.fixture
def triage(make_triage):
    made = make_triage(self_test_period_s=10**9)  # no self-test unless a test wants one
    made.rt.model.set_glob("team", {"members": TEAM, "loaded": seconds(T0)})
    made.rt.model.set_glob("selftest", {"number": 0, "created": seconds(T0)})
    return made


def tracked(triage, number: int, touched_by: str = "alice") -> None:
    """Model the fake's issue ``number`` as touched at T0 (by a contributor by default)."""
    triage.clock.now = T0
    triage.touch(number, sender=touched_by)


def test_assigned_and_untouched_for_18_weeks_gets_the_stale_label(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P2"], assignees=["dave"])
    tracked(triage, 1)
    triage.tick("tidy_all", T0 + 18 * WEEK - timedelta(minutes=1))
    assert "stale" not in triage.labels(1)
    triage.tick("tidy_all", T0 + 18 * WEEK)
    assert triage.labels(1) == ["team-engine", "triaged-engine", "P2", "stale"]
    [comment] = triage.comments(1)
    assert "no activity from the team for 18 weeks" in comment
    triage.tick("tidy_all", T0 + 19 * WEEK)  # labelled once, commented once
    assert len(triage.comments(1)) == 1


def test_assigned_and_untouched_for_29_weeks_is_unassigned_and_refed(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P2", "stale"], assignees=["dave"])
    github.add(2, labels=["team-engine", "triaged-engine", "P2"], assignees=["erin"])
    tracked(triage, 1)
    tracked(triage, 2)
    triage.tick("tidy_all", T0 + 29 * WEEK)
    assert github.issues[1].assignees == [] and triage.labels(1) == ["team-engine", "P2"]
    assert "so it was unassigned and sent back to triage" in triage.comments(1)[0]
    assert triage.issue(1).assignee == ""
    # one refeed per team per day: #2 waits, but is marked stale meanwhile
    assert github.issues[2].assignees == ["erin"]
    triage.tick("tidy_all", T0 + 29 * WEEK + timedelta(days=1))
    assert github.issues[2].assignees == [] and triage.labels(2) == ["team-engine", "P2"]


def test_an_unassigned_p1_untouched_for_18_weeks_goes_back_to_triage(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P1"])
    github.add(2, labels=["team-tool", "triaged-tool", "P2"])
    tracked(triage, 1)
    tracked(triage, 2)
    triage.tick("tidy_all", T0 + 18 * WEEK)
    assert triage.labels(1) == ["team-engine", "P1"]
    assert "unassigned P1 issue has had no activity" in triage.comments(1)[0]
    assert triage.labels(2) == ["team-tool", "triaged-tool", "P2"] and triage.comments(2) == []


def test_touches_by_others_do_not_count(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P1"])
    tracked(triage, 1, touched_by="alice")
    triage.clock.now = T0 + 10 * WEEK
    triage.touch(1, sender="stranger")
    triage.tick("tidy_all", T0 + 18 * WEEK)
    assert triage.labels(1) == ["team-engine", "P1"]


def test_locked_for_28_days_is_unlocked_unless_permanently(triage, github) -> None:
    github.add(1, locked=True)
    github.add(2, locked=True, labels=["permanently locked"])
    triage.clock.now = T0
    triage.touch(1, action="locked")
    triage.touch(2, action="locked")
    triage.tick("tidy_all", T0 + timedelta(days=27))
    assert github.issues[1].locked
    triage.tick("tidy_all", T0 + timedelta(days=28))
    assert not github.issues[1].locked and github.issues[2].locked
    assert triage.issue(1).locked_at == 0


def test_twice_the_thumbs_and_at_least_100_goes_back_with_the_label(triage, github) -> None:
    github.add(1, labels=["team-engine", "P2", "triaged-engine"], thumbs=60)
    github.add(2, labels=["team-tool", "triaged-tool", "P2"], thumbs=99)
    triage.clock.now = T0
    triage.touch(1, action="labeled", label="triaged-engine")
    assert triage.issue(1).thumbs_at_triage == 60
    tracked(triage, 2)
    github.issues[1].thumbs = 119
    triage.touch(1, sender="fan")
    triage.tick("tidy_all", T0 + WEEK)
    assert "new thumbs-up" not in triage.labels(1)  # 119 < 2 x 60
    github.issues[1].thumbs = 120
    triage.touch(1, sender="fan")
    triage.tick("tidy_all", T0 + 2 * WEEK)
    assert triage.labels(1) == ["team-engine", "P2", "new thumbs-up"]
    assert "120 thumbs-up" in triage.comments(1)[0]
    assert triage.labels(2) == ["team-tool", "triaged-tool", "P2"]  # 99 < 100


def test_the_self_test_is_opened_every_6_weeks_and_escalated_after_18_days(
        make_triage, github, clock) -> None:
    triage = make_triage()
    triage.tick("tidy_all", T0)
    [number] = github.issues
    assert github.issues[number].title == "Triage process self-test"
    assert triage.rt.model.glob("selftest") == {"number": number, "created": seconds(T0)}
    triage.tick("tidy_all", T0 + timedelta(days=17))
    assert triage.labels(number) == []
    triage.tick("tidy_all", T0 + timedelta(days=18))
    assert triage.labels(number) == ["will need additional triage"]
    assert "escalated to critical triage" in triage.comments(number)[0]
    triage.tick("tidy_all", T0 + timedelta(days=20))
    assert len(triage.comments(number)) == 1
    github.issues[number].state = "closed"
    triage.deliver("issues", {"action": "closed", "issue": github.issue_json(github.issues[number]),
                              "sender": {"login": "alice"},
                              "repository": {"full_name": "acme/rocket"}})
    triage.tick("tidy_all", T0 + 6 * WEEK - timedelta(minutes=1))
    assert len(github.issues) == 1
    triage.tick("tidy_all", T0 + 6 * WEEK)
    assert len(github.issues) == 2


def test_a_handled_self_test_is_not_escalated(make_triage, github) -> None:
    triage = make_triage()
    triage.rt.model.set_glob("team", {"members": TEAM, "loaded": seconds(T0)})
    triage.tick("tidy_all", T0)
    [number] = github.issues
    triage.clock.now = T0 + timedelta(days=10)
    triage.touch(number, sender="bob")
    triage.tick("tidy_all", T0 + timedelta(days=20))
    assert triage.labels(number) == []
    triage.tick("tidy_all", T0 + timedelta(days=28))
    assert triage.labels(number) == ["will need additional triage"]


def test_tidy_confirms_with_a_fresh_get(triage, github) -> None:
    github.add(1, labels=["team-engine", "triaged-engine", "P1"])
    tracked(triage, 1)
    github.issues[1].labels.remove("triaged-engine")  # the labelling event was lost
    triage.tick("tidy_all", T0 + 18 * WEEK)
    assert github.changes() == [] and triage.issue(1).labels == ["team-engine", "P1"]
