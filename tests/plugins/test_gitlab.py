"""The gitlab plugin against a local server replaying recorded GitLab REST v4 responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.servers import HttpServer

PROJECT = "/api/v4/projects/acme%2Frocket"
QUERY = "?order_by=created_at&sort=desc&per_page=3"
ISSUES = f"{PROJECT}/issues{QUERY}"
MRS = f"{PROJECT}/merge_requests{QUERY}"
PAGE = "?id=acme%2Frocket&order_by=created_at&page=2&per_page=3&sort=desc"
MRS_PAGE_2 = f"{PROJECT}/merge_requests{PAGE}"
T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
STEP = timedelta(seconds=61)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


def settings(server: HttpServer, **extra: object) -> dict[str, dict[str, object]]:
    table = {
        "api_url": f"{server.base}/api/v4", "projects": ["acme/rocket"], "per_page": 3,
        "targets": ["irc:#ci"], "interval_s": 60, "token": "glpat-SECRET", "timeout_s": 2.0,
    }
    return {"gitlab": table | extra}


def test_new_issues_and_merge_requests_are_announced_once(univac_bot, server):
    server.record("gitlab", ISSUES, "issues_initial.http", "issues_new.http")
    server.record("gitlab", MRS, "mrs_initial.http", "mrs_new_p1.http")
    server.record("gitlab", MRS_PAGE_2, "mrs_new_p2.http")
    bot = univac_bot("gitlab", settings=settings(server), transports=("irc",))
    assert bot.tick("gitlab", now=T0) == []
    said = [text for _, text in bot.tick("gitlab", now=T0 + STEP)]
    assert said == [
        "[acme/rocket] new issue #3: Nightly build times out (by dmitriy) "
        "https://gitlab.example.com/acme/rocket/-/issues/3",
        "[acme/rocket] new issue #4: Add arm64 runners (by kate) "
        "https://gitlab.example.com/acme/rocket/-/issues/4",
        "[acme/rocket] new merge request !6: Badge: refresh on push (by dmitriy) "
        "https://gitlab.example.com/acme/rocket/-/merge_requests/6",
        "[acme/rocket] new merge request !7: Bump Go to 1.23 (by kate) "
        "https://gitlab.example.com/acme/rocket/-/merge_requests/7",
        "[acme/rocket] new merge request !8: Docs: runner tags (by ravi) "
        "https://gitlab.example.com/acme/rocket/-/merge_requests/8",
        "[acme/rocket] new merge request !9: CI: split lint job (by dmitriy) "
        "https://gitlab.example.com/acme/rocket/-/merge_requests/9",
    ]
    assert bot.tick("gitlab", now=T0 + 2 * STEP) == []
    last = server.requests(MRS)[-1]
    assert last.headers["if-none-match"] == 'W/"m2"'
    assert last.headers["private-token"] == "glpat-SECRET"
    assert len(server.requests(MRS_PAGE_2)) == 1


def test_429_with_retry_after_pauses_the_poller(univac_bot, server):
    server.record("gitlab", ISSUES, "issues_initial.http", "throttled.http", "issues_new.http")
    server.record("gitlab", MRS, "mrs_initial.http")
    bot = univac_bot("gitlab", "status", settings=settings(server), transports=("irc",))
    bot.tick("gitlab", now=T0)
    with pytest.raises(AssertionError, match="FetchError"):
        bot.tick("gitlab", now=T0 + STEP)
    with pytest.raises(AssertionError, match="RateLimited"):
        bot.tick("gitlab", now=T0 + STEP + timedelta(seconds=59))
    assert len(server.requests(ISSUES)) == 2
    assert len(server.requests(MRS)) == 1  # the pause stopped the rest of that run
    assert any("RateLimited" in line for line in bot.ask("!status", transport="irc"))
    said = bot.tick("gitlab", now=T0 + STEP + timedelta(seconds=61))
    assert [text.split(":")[0] for _, text in said] == [
        "[acme/rocket] new issue #3", "[acme/rocket] new issue #4",
    ]


def test_gl_shows_a_merge_request_and_an_issue(univac_bot, server):
    server.record("gitlab", f"{PROJECT}/merge_requests/7", "mr_7.http")
    server.record("gitlab", f"{PROJECT}/issues/3", "issue_3.http")
    bot = univac_bot("gitlab", settings=settings(server), transports=("test", "irc"))
    assert bot.ask("!gl acme/rocket!7") == [
        "acme/rocket!7 (merge request, merged): Bump Go to 1.23 - by kate - "
        "https://gitlab.example.com/acme/rocket/-/merge_requests/7"
    ]
    assert bot.ask("!gl acme/rocket#3") == [
        "acme/rocket#3 (issue, opened): Nightly build times out - by dmitriy - "
        "https://gitlab.example.com/acme/rocket/-/issues/3"
    ]


def test_gl_errors_are_short_and_leak_nothing(univac_bot, server):
    server.record("gitlab", f"{PROJECT}/merge_requests/70", "not_found.http")
    bot = univac_bot("gitlab", settings=settings(server), transports=("test", "irc"))
    assert bot.ask("!gl acme/rocket!70") == ["acme/rocket!70 was not found."]
    assert bot.ask("!gl rocket!1")[0].startswith("ref: expected group/project!number")
    server.close()
    down = bot.ask("!gl acme/rocket!7")
    assert down == ["GitLab did not answer; try again later."]
