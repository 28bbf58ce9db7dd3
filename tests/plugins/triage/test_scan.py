"""The background scan: timelines replayed, the position kept across restarts, the
rate-limit reserve, GitHub unreachable, App authentication, pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.plugins.github_fake import BOT
from tests.plugins.triage.conftest import T0, seconds
from tests.waiting import free_port
from univac.plugins.triage.auth import REFRESH_S, AppAuth
from univac.plugins.triage.model import Issue

DAY = timedelta(days=1)


def scan(triage, times: int) -> None:
    for _ in range(times):
        triage.tick("background_update", T0)


def test_the_scan_goes_down_from_the_highest_number_and_wraps(make_triage, github) -> None:
    github.add(1)
    github.add(2, pull_request=True)
    github.add(3, state="closed")
    github.add(4, labels=["team-engine", "bug"])
    triage = make_triage()
    triage.rt.model.put(3, Issue())  # closed while the bot was away
    scan(triage, 4)
    assert triage.rt.model.numbers() == [1, 4]  # the pull request and the closed one left
    assert triage.issue(4).labels == ["team-engine"]
    assert triage.rt.model.glob("scan") | {"at": 0} == {"highest": 0, "next": 0, "passes": 1,
                                                        "at": 0}
    github.add(5)
    scan(triage, 1)  # a new pass asks for the highest number again
    assert triage.rt.model.glob("scan") | {"at": 0} == {"highest": 5, "next": 4, "passes": 1,
                                                        "at": 0}
    github.add(6)
    triage.deliver("issues", {"action": "opened", "issue": github.issue_json(github.issues[6]),
                              "sender": {"login": "reporter"},
                              "repository": {"full_name": "acme/rocket"}})
    assert triage.rt.model.glob("scan")["highest"] == 6
    assert triage.rt.model.numbers() == [1, 4, 5, 6]


def test_the_timeline_is_replayed(make_triage, github) -> None:
    github.add(7, labels=["team-engine", "triaged-engine", "P2"], assignees=["dave"],
               locked=True, thumbs=12)
    for kind, actor, days, extra in [
        ("labeled", "alice", 40, {"label": {"name": "team-engine"}}),
        ("labeled", "alice", 39, {"label": {"name": "P2"}}),
        ("labeled", "bob", 38, {"label": {"name": "triaged-engine"}}),
        ("assigned", "bob", 37, {"assignee": {"login": "dave"}}),
        ("commented", "dave", 30, {"body": "on it"}),
        ("closed", "dave", 25, {}),
        ("reopened", "carol", 20, {}),
        ("subscribed", "alice", 10, {}),
        ("locked", "stranger", 5, {}),
    ]:
        github.event(7, kind, actor, T0 - days * DAY, **extra)
    github.issues[7].timeline.insert(0, {"event": "committed", "sha": "abc"})  # no time: skipped
    triage = make_triage()
    scan(triage, 1)
    issue = triage.issue(7)
    assert issue.touched == seconds(T0 - 20 * DAY)  # carol; alice's subscription is no touch
    assert issue.assignee_touched == seconds(T0 - 25 * DAY)
    assert issue.triaged_at == seconds(T0 - 38 * DAY) and issue.thumbs_at_triage == 12
    assert issue.reopened_at == seconds(T0 - 20 * DAY)
    assert issue.locked_at == seconds(T0 - 5 * DAY)
    assert issue.assignee == "dave" and not issue.assignee_is_member


def test_a_long_timeline_and_a_big_team_are_read_page_by_page(make_triage, github) -> None:
    github.teams[("acme", "hackers")] = [f"member{i:03}" for i in range(250)]
    github.add(1)
    for minute in range(150):
        github.event(1, "commented", f"member{minute:03}", T0 - timedelta(minutes=150 - minute))
    triage = make_triage()
    scan(triage, 1)
    assert len(triage.rt.model.team()) == 250
    assert triage.issue(1).touched == seconds(T0 - timedelta(minutes=1))
    pages = [c.path for c in github.calls if c.path.endswith("/timeline")]
    assert len(pages) == 2


def test_a_restart_resumes_the_scan_where_it_stopped(make_triage, github, tmp_path) -> None:
    for number in range(1, 7):
        github.add(number)
    first = make_triage(state_dir=tmp_path / "state")
    scan(first, 3)  # 6, 5, 4
    assert first.rt.model.glob("scan")["next"] == 3
    first.harness.close()
    github.calls.clear()
    second = make_triage(state_dir=tmp_path / "state")
    assert second.rt.model.numbers() == [4, 5, 6]
    scan(second, 1)
    scanned = [c.path for c in github.calls if c.path.startswith("/repos/acme/rocket/issues/")]
    assert scanned == ["/repos/acme/rocket/issues/3", "/repos/acme/rocket/issues/3/timeline"]
    assert second.rt.model.glob("scan")["next"] == 2


def test_the_scan_keeps_half_the_rate_limit_for_everything_else(make_triage, github) -> None:
    github.add(1, labels=["P1", "P2"])
    triage = make_triage()
    github.remaining = 2502
    poller = next(p for p in triage.harness.bot.pollers if p.name == "triage.background_update")
    result = poller.run_once(T0)  # the team and the highest number: 2,500 left, 50 %
    assert result.kind == "deferred" and 3000 < result.retry_s <= 3600
    assert github.remaining == 2500 and triage.rt.model.numbers() == []
    assert poller.run_once(T0).kind == "deferred" and github.remaining == 2500  # no call made
    triage.touch(1)
    triage.tick("cleanup_due", T0 + timedelta(hours=1))  # 5 % is enough for the cleanup
    assert github.issues[1].labels == ["P1"]
    report = next(line for line in triage.harness.ask("!triage") if "rate limit" in line)
    assert "rate limit 2498/5000" in report  # a GET and a DELETE


def test_github_unreachable_at_start_is_reported_and_retried(make_triage, github) -> None:
    triage = make_triage(api_url=f"http://127.0.0.1:{free_port()}")
    poller = next(p for p in triage.harness.bot.pollers if p.name == "triage.background_update")
    assert poller.run_once(T0).kind == "failed"
    assert poller.run_once(T0).kind == "failed"
    [report] = [p for p in triage.harness.bot.status().pollers if p.name == poller.name]
    assert (report.failures, report.last_error) == (2, "GitHubError")
    assert any(line.startswith("last error: GitHubError: GET /orgs/acme/teams/hackers/members")
               for line in triage.harness.ask("!triage"))
    assert poller.next_run > T0 and poller.failures == 2  # retried by the core's backoff


def test_github_answering_errors_then_recovering(make_triage, github) -> None:
    github.add(1)
    github.down = True
    triage = make_triage()
    poller = next(p for p in triage.harness.bot.pollers if p.name == "triage.background_update")
    assert poller.run_once(T0).kind == "failed"
    github.down = False
    assert poller.run_once(T0).kind == "polled"
    assert triage.rt.model.numbers() == [1] and poller.failures == 0
    assert triage.rt.last_error == ""


def test_a_broken_issue_is_passed_over_after_three_tries(make_triage, github) -> None:
    github.add(1)
    github.add(2)
    triage = make_triage()
    scan(triage, 0)
    github.failing.add("/repos/acme/rocket/issues/2/timeline")
    poller = next(p for p in triage.harness.bot.pollers if p.name == "triage.background_update")
    kinds = [poller.run_once(T0).kind for _ in range(3)]
    assert kinds == ["failed", "failed", "polled"]
    assert triage.rt.model.glob("scan")["next"] == 1


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def test_a_github_app_takes_an_installation_token_with_a_jwt(
        make_triage, github, app_key, tmp_path) -> None:
    private, public = app_key
    github.use_app("4242", public, "77")
    github.add(1, labels=["P1", "P2"])
    key_file = tmp_path / "github.app.key.pem"
    key_file.write_text(private, encoding="utf-8")
    (tmp_path / "github.app.id").write_text("4242\n", encoding="utf-8")
    triage = make_triage(token=None, app_id_file=str(tmp_path / "github.app.id"),
                         app_key_file=str(key_file), installation_id="77")
    scan(triage, 2)
    assert github.issued == ["ghs_installation_1"]
    used = {c.auth for c in github.calls if "/access_tokens" not in c.path}
    assert used == {"token ghs_installation_1"}
    triage.touch(1)
    triage.tick("cleanup_due", T0 + timedelta(hours=1))
    assert github.issues[1].labels == ["P1"]
    assert github.issues[1].timeline[-1]["actor"] == {"login": BOT}


def test_the_installation_token_is_refreshed_every_45_minutes(github, app_key) -> None:
    private, public = app_key
    github.use_app("4242", public, "77")
    wall = [1_000_000.0]
    github.clock = lambda: wall[0]  # GitHub's clock and ours agree
    auth = AppAuth("4242", private, "77", github.base, requests.post, 5.0, wall=lambda: wall[0])
    first = auth.header()
    wall[0] += REFRESH_S - 1
    assert auth.header() == first
    wall[0] += 1
    assert auth.header() == "token ghs_installation_2" != first
    assert auth.refreshes == 2


def test_a_wrong_app_key_is_a_clear_failure(make_triage, github, app_key, tmp_path) -> None:
    _, public = app_key
    github.use_app("4242", public, "77")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    triage = make_triage(token=None, app_id="4242", app_key=other, installation_id="77")
    poller = next(p for p in triage.harness.bot.pollers if p.name == "triage.background_update")
    assert poller.run_once(T0).kind == "failed"
    assert triage.rt.last_error == "GitHubError: installation token: HTTP 401"
