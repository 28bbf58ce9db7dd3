"""Webhook deliveries (recorded GitHub payloads) applied to the model, as the original did."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.plugins.triage.conftest import T0, TEAM, fixture, seconds

DELAY = 45 * 60


def with_team(triage) -> None:
    triage.rt.model.set_glob("team", {"members": TEAM, "loaded": seconds(T0)})


def test_an_opened_issue_is_tracked_and_queued_for_cleanup(make_triage) -> None:
    triage = make_triage()
    reply = triage.deliver("issues", fixture("issues_opened.json"))
    assert reply.status == 200 and reply.body.startswith("applied")
    issue = triage.issue(7)
    assert issue.reporter == "reporter"
    assert issue.opened == seconds(datetime(2026, 2, 20, 9, 30, tzinfo=UTC))
    assert issue.touched == 0  # the reporter is not a contributor
    assert issue.cleanup_at == seconds(T0) + DELAY
    assert triage.rt.model.due(seconds(T0) + DELAY) == [7]
    assert triage.rt.model.due(seconds(T0) + DELAY - 1) == []
    assert triage.rt.model.glob("scan")["highest"] == 7


def test_triaged_with_exactly_one_team_sets_the_triage_time_and_thumbs(make_triage) -> None:
    triage = make_triage()
    with_team(triage)
    triage.deliver("issues", fixture("issues_labeled.json"))
    issue = triage.issue(7)
    assert issue.labels == ["team-engine", "P2", "triaged-engine"]
    assert (issue.triaged_at, issue.thumbs_at_triage, issue.thumbs) == (seconds(T0), 4, 4)
    assert issue.touched == seconds(T0)  # alice is on the team


def test_triaged_beside_two_teams_sets_no_triage_time(make_triage) -> None:
    triage = make_triage()
    payload = fixture("issues_labeled.json")
    payload["issue"]["labels"].append({"name": "team-tool"})
    triage.deliver("issues", payload)
    assert triage.issue(7).triaged_at == 0


def test_touches_by_contributors_and_the_assignee_are_recorded(make_triage, clock) -> None:
    triage = make_triage()
    with_team(triage)
    triage.deliver("issues", fixture("issues_assigned.json"))  # alice assigns dave
    assigned = triage.issue(7)
    assert (assigned.assignee, assigned.touched, assigned.assignee_touched) == \
        ("dave", seconds(T0), 0)
    assert not assigned.assignee_is_member and not assigned.assignee_is_reporter
    later = clock.advance(hours=2)
    triage.deliver("issue_comment", fixture("issue_comment_created.json"))  # dave comments
    commented = triage.issue(7)
    assert commented.touched == seconds(T0)  # dave is not on the team
    assert commented.assignee_touched == seconds(later)
    assert commented.cleanup_at == seconds(later) + DELAY  # idle counts from the last event


def test_membership_events_keep_the_team_current(make_triage) -> None:
    triage = make_triage()
    with_team(triage)
    reply = triage.deliver("membership", fixture("membership_added.json"))
    assert reply.body.startswith("member added")
    assert "dave" in triage.rt.model.team()
    triage.deliver("issue_comment", fixture("issue_comment_created.json"))
    assert triage.issue(7).touched == seconds(T0)  # dave's comment is a contributor's now
    triage.deliver("membership", fixture("membership_added.json", action="removed"))
    assert triage.rt.model.team() == set(TEAM)
    other = fixture("membership_added.json")
    other["team"] = other["team"] | {"slug": "admins"}
    assert triage.deliver("membership", other).body.startswith("another team")
    assert triage.rt.model.team() == set(TEAM)


def test_closed_issues_are_dropped(make_triage) -> None:
    triage = make_triage()
    triage.deliver("issues", fixture("issues_opened.json"))
    assert triage.deliver("issues", fixture("issues_closed.json")).body.startswith("dropped")
    assert triage.issue(7) is None and triage.rt.model.due() == []
    assert triage.rt.model.tracked() == 0


def test_locks_and_reopenings_are_timed(make_triage, clock) -> None:
    triage = make_triage()
    triage.deliver("issues", fixture("issues_locked.json"))
    assert triage.issue(7).locked_at == seconds(T0)
    reopened = clock.advance(days=1)
    triage.deliver("issues", fixture("issues_locked.json", action="reopened"))
    assert (triage.issue(7).locked_at, triage.issue(7).reopened_at) == (seconds(T0),
                                                                         seconds(reopened))


def test_pull_requests_and_other_repositories_are_not_modelled(make_triage) -> None:
    triage = make_triage()
    assert triage.deliver("issue_comment", fixture("issue_comment_pull_request.json")).body \
        .startswith("a pull request")
    payload = fixture("issues_opened.json")
    payload["repository"] = payload["repository"] | {"full_name": "acme/other"}
    assert triage.deliver("issues", payload).body.startswith("not acme/rocket")
    assert triage.rt.model.tracked() == 0


def test_only_relevant_labels_are_kept(make_triage) -> None:
    triage = make_triage()
    payload = fixture("issues_labeled.json")
    payload["issue"]["labels"] += [{"name": "c: crash"}, {"name": "design doc"},
                                   {"name": "fyi-tool"}, {"name": "will need additional triage"}]
    triage.deliver("issues", payload)
    assert triage.issue(7).labels == ["team-engine", "P2", "triaged-engine", "design doc",
                                      "fyi-tool", "will need additional triage"]


def test_refused_deliveries_change_nothing(make_triage) -> None:
    triage = make_triage()
    opened = fixture("issues_opened.json")
    assert triage.deliver("issues", opened, {"X-Hub-Signature-256": None}).status == 401
    assert triage.deliver("issues", opened, {"X-GitHub-Delivery": None}).status == 400
    assert triage.deliver("issues", opened, {"X-GitHub-Event": "issues, issues"}).status == 400
    assert triage.deliver("issues", opened, {"X-GitHub-Delivery": "a, b"}).status == 400
    assert triage.deliver("issues", b"[1, 2]").status == 400
    assert triage.deliver("issues", b"not json").status == 400
    assert triage.deliver("issues", {"action": "opened", "issue": {"number": "x"},
                                     "repository": {"full_name": "acme/rocket"}}).status == 400
    assert triage.rt.model.tracked() == 0
    assert triage.rt.counts.get("triage_deliveries", outcome="refused") == 7
    assert triage.deliver("ping", {"zen": "Keep it logically awesome."}).body == "pong\n"
