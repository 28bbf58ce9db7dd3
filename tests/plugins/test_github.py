"""The github plugin against a local server replaying recorded GitHub REST responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.servers import HttpServer, Reply, recorded

LIST = "/repos/acme/rocket/issues?state=all&sort=created&direction=desc&per_page=3"
PAGE = "/repositories/1296269/issues?state=all&sort=created&direction=desc&per_page=3&page="
T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
STEP = timedelta(seconds=61)
BOTH = ("test", "irc")


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


def settings(server: HttpServer, **extra: object) -> dict[str, dict[str, object]]:
    table = {
        "api_url": server.base, "repos": ["acme/rocket"], "per_page": 3,
        "targets": ["irc:#ops", "test:#dev"], "interval_s": 60, "token": "ghp_SECRET",
        "timeout_s": 2.0,
    }
    return {"github": table | extra}


def test_first_run_is_silent_then_only_new_items_are_announced(univac_bot, server):
    server.record("github", LIST, "issues_initial.http", "issues_new.http")
    bot = univac_bot("github", settings=settings(server), transports=BOTH)
    assert bot.tick("github", now=T0) == []
    said = bot.tick("github", now=T0 + STEP)
    assert sorted(said) == [
        ("irc:#ops", "[acme/rocket] new issue #4: Fuel gauge reads in furlongs (by hubot) "
                     "https://github.com/acme/rocket/issues/4"),
        ("irc:#ops", "[acme/rocket] new pull request #5: Docs: explain abort sequence "
                     "(by margaret) https://github.com/acme/rocket/pull/5"),
        ("test:#dev", "[acme/rocket] new issue #4: Fuel gauge reads in furlongs (by hubot) "
                      "https://github.com/acme/rocket/issues/4"),
        ("test:#dev", "[acme/rocket] new pull request #5: Docs: explain abort sequence "
                      "(by margaret) https://github.com/acme/rocket/pull/5"),
    ]
    assert server.requests(PAGE) == []  # page 1 already reached a seen item


def test_unchanged_list_is_a_conditional_request_answered_304(univac_bot, server):
    server.record("github", LIST, "issues_initial.http")
    bot = univac_bot("github", settings=settings(server), transports=BOTH)
    bot.tick("github", now=T0)
    assert bot.tick("github", now=T0 + STEP) == []
    first, second = server.requests(LIST)
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == 'W/"a1"'
    assert first.headers["user-agent"].startswith("Univac/")
    assert first.headers["authorization"] == "Bearer ghp_SECRET"


def test_a_list_with_last_modified_only_is_asked_if_modified_since(univac_bot, server):
    initial = recorded("github", "issues_initial.http", server.base)
    headers = {k: v for k, v in initial.headers.items() if k != "ETag"}
    headers["Last-Modified"] = "Sun, 22 Nov 2026 19:55:00 GMT"
    server.route(LIST, Reply(200, headers, initial.body))
    bot = univac_bot("github", settings=settings(server), transports=BOTH)
    bot.tick("github", now=T0)
    assert bot.tick("github", now=T0 + STEP) == []
    first, second = server.requests(LIST)
    assert "if-modified-since" not in first.headers and "if-none-match" not in second.headers
    assert second.headers["if-modified-since"] == "Sun, 22 Nov 2026 19:55:00 GMT"


def test_interval_is_respected_between_ticks(univac_bot, server):
    server.record("github", LIST, "issues_initial.http")
    bot = univac_bot("github", settings=settings(server, interval_s=300), transports=BOTH)
    bot.tick("github", now=T0)
    bot.tick("github", now=T0 + STEP)
    assert len(server.requests(LIST)) == 1
    bot.tick("github", now=datetime(2026, 11, 22, 21, 0, 1, tzinfo=UTC))
    assert len(server.requests(LIST)) == 2
    bot.tick("github", now=T0 + timedelta(seconds=301))
    assert len(server.requests(LIST)) == 2


def test_restart_announces_what_was_missed_across_pages_up_to_a_limit(univac_bot, server, tmp_path):
    state = tmp_path / "state"
    server.record("github", LIST, "issues_initial.http")
    with_settings = settings(server, max_announce=4)
    first = univac_bot("github", settings=with_settings, state_dir=state, transports=BOTH)
    first.tick("github", now=T0)
    first.close()
    server.record("github", LIST, "issues_burst_p1.http")
    server.record("github", PAGE + "2", "issues_burst_p2.http")
    server.record("github", PAGE + "3", "issues_burst_p3.http")
    again = univac_bot("github", settings=with_settings, state_dir=state, transports=BOTH)
    lines = [text for target, text in again.tick("github", now=T0 + STEP) if target == "test:#dev"]
    assert [line.split(":")[0] for line in lines[:4]] == [
        "[acme/rocket] new issue #4", "[acme/rocket] new pull request #5",
        "[acme/rocket] new issue #6", "[acme/rocket] new pull request #7",
    ]
    assert lines[4:] == ["[acme/rocket] ... and 2 more new issues and pull requests"]
    assert "PRIVMSG" in lines[2] and "\r" not in lines[2] and "\n" not in lines[2]
    assert len(server.requests(PAGE)) == 2
    assert again.tick("github", now=T0 + 2 * STEP) == []


def test_exhausted_quota_pauses_until_the_reset(univac_bot, server):
    server.record("github", LIST, "issues_initial.http", "rate_limited.http", "issues_new.http")
    bot = univac_bot("github", "status", settings=settings(server), transports=BOTH)
    bot.tick("github", now=T0)
    with pytest.raises(AssertionError, match="FetchError"):
        bot.tick("github", now=T0 + STEP)
    asked = len(server.requests(LIST))
    with pytest.raises(AssertionError, match="RateLimited"):
        bot.tick("github", now=T0 + 10 * STEP)  # 20:10, the quota resets at 21:00
    assert len(server.requests(LIST)) == asked
    status = bot.ask("!status")
    assert any("poller github.poll" in line and "RateLimited" in line for line in status)
    said = bot.tick("github", now=datetime(2026, 11, 22, 21, 0, 1, tzinfo=UTC))
    assert [text.split(":")[0] for to, text in said if to == "test:#dev"] == [
        "[acme/rocket] new issue #4", "[acme/rocket] new pull request #5",
    ]


def test_retry_after_on_429_is_respected(univac_bot, server):
    server.record("github", LIST, "issues_initial.http", "secondary_limit.http", "issues_new.http")
    bot = univac_bot("github", settings=settings(server), transports=BOTH)
    bot.tick("github", now=T0)
    with pytest.raises(AssertionError):
        bot.tick("github", now=T0 + STEP)
    with pytest.raises(AssertionError, match="RateLimited"):
        bot.tick("github", now=T0 + STEP + timedelta(seconds=119))
    assert len(server.requests(LIST)) == 2
    assert len(bot.tick("github", now=T0 + STEP + timedelta(seconds=121))) == 4


def test_low_remaining_quota_slows_down_before_the_limit(univac_bot, server):
    server.record("github", LIST, "issues_low_quota.http")
    bot = univac_bot("github", settings=settings(server, reserve=10), transports=BOTH)
    bot.tick("github", now=T0)
    bot.tick("github", now=T0 + STEP)
    assert len(server.requests(LIST)) == 1
    bot.tick("github", now=datetime(2026, 11, 22, 21, 0, 1, tzinfo=UTC))
    assert len(server.requests(LIST)) == 2


def test_gh_shows_one_pull_request(univac_bot, server):
    server.record("github", "/repos/acme/rocket/issues/3", "issue_3.http")
    bot = univac_bot("github", settings=settings(server), transports=BOTH)
    assert bot.ask("!gh acme/rocket#3") == [
        "acme/rocket#3 (pull request, open): Add telemetry for stage two - by octocat - "
        "https://github.com/acme/rocket/pull/3"
    ]


def test_gh_errors_are_short_and_leak_nothing(univac_bot, server):
    server.record("github", "/repos/acme/rocket/issues/99", "not_found.http")
    server.record("github", "/repos/acme/rocket/issues/98", "rate_limited.http")
    bot = univac_bot("github", settings=settings(server), transports=BOTH)
    assert bot.ask("!gh acme/rocket#99") == ["acme/rocket#99 was not found."]
    assert bot.ask("!gh acme/rocket#98") == ["GitHub asks me to slow down; try again later."]
    usage = bot.ask("!gh rocket")
    assert usage[0].startswith("ref: expected owner/repo#number")
    server.close()
    down = bot.ask("!gh acme/rocket#3")
    assert down == ["GitHub did not answer; try again later."]
    assert not any(server.base in line or "SECRET" in line for line in usage + down)


def test_bad_settings_disable_the_plugin_with_a_reason(univac_bot, server):
    bot = univac_bot("github", settings=settings(server, targets=["#ops"]))
    assert "transport:target" in bot.errors["plugins.github"]


@pytest.mark.parametrize("source", ["file", "env"])
def test_token_comes_from_a_file_or_the_environment(univac_bot, server, tmp_path, monkeypatch,
                                                     source):
    server.record("github", "/repos/acme/rocket/issues/3", "issue_3.http")
    table = settings(server)["github"]
    del table["token"]
    if source == "file":
        (tmp_path / "gh.token").write_text("ghp_FROMFILE\n")
        table["token_file"] = str(tmp_path / "gh.token")
    else:
        monkeypatch.setenv("UNIVAC_TEST_GH_TOKEN", "ghp_FROMFILE")
        table["token_env"] = "UNIVAC_TEST_GH_TOKEN"
    bot = univac_bot("github", settings={"github": table}, transports=BOTH)
    assert bot.ask("!gh acme/rocket#3")[0].startswith("acme/rocket#3 (pull request, open)")
    (request,) = server.requests("/repos/acme/rocket/issues/3")
    assert request.headers["authorization"] == "Bearer ghp_FROMFILE"


def test_the_token_follows_redirects_only_within_the_api_origin(univac_bot, server):
    with HttpServer("127.0.0.2") as elsewhere:
        elsewhere.record("github", "/repos/acme/rocket/issues/3", "issue_3.http")
        server.record("github", "/repos/acme/rocket/issues/3", "issue_3.http")
        server.route("/repos/acme/old/issues/3", Reply(301, {
            "Location": f"{server.base}/repos/acme/rocket/issues/3"}))
        server.route("/repos/acme/away/issues/3", Reply(301, {
            "Location": f"{elsewhere.base}/repos/acme/rocket/issues/3"}))
        bot = univac_bot("github", settings=settings(server), transports=BOTH)
        assert bot.ask("!gh acme/old#3")[0].startswith("acme/old#3 (pull request, open)")
        assert bot.ask("!gh acme/away#3")[0].startswith("acme/away#3 (pull request, open)")
        (same,) = server.requests("/repos/acme/rocket/")
        (other,) = elsewhere.requests()
        assert same.headers["authorization"] == "Bearer ghp_SECRET"
        assert "authorization" not in other.headers
