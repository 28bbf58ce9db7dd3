"""The incident pages, asked with a real HTTP client of the http plugin on 127.0.0.1:
sign-in (token, trusted proxy header), privacy, filters, escaping, unknown ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from bs4 import BeautifulSoup

from tests.plugins.incidents.helpers import Clock, ask, created_id, store_of
from tests.plugins.incidents.week import write_store
from tests.plugins.test_http import HTTP_LOG, served_port
from univac import SettingsError
from univac.plugins.incidents import digest
from univac.plugins.incidents.digest import Week
from univac.plugins.incidents.settings import Settings
from univac.testing import Harness

TOKEN = "page-token-5f2c9a17e4"
HOOK_TOKEN = "the-http-plugins-own-token"
ROLES = {"sre": {"*": ["test:alice", "http:alice"]}, "oncall": {"*": ["test:bob", "http:bob"]},
         "seers": {"*": ["http:carol"]}}
PROXY = {"page_user_header": "X-Forwarded-User", "page_proxies": ["127.0.0.1"]}


class Pages:
    """A bot with the incidents and http plugins; GETs of its pages."""

    def __init__(self, bot: Harness, port: int | None) -> None:
        assert port, f"the http plugin did not start: {bot.errors}"
        self.bot = bot
        self.base = f"http://127.0.0.1:{port}/hooks"

    def get(self, path: str, user: str = "", token: str = "", **headers: str
            ) -> requests.Response:
        sent = dict(headers)
        if user:
            sent["X-Forwarded-User"] = user
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return requests.get(self.base + path, headers=sent, timeout=10)

    def page(self, path: str, **options: Any) -> BeautifulSoup:
        answer = self.get(path, **options)
        assert answer.status_code == 200, (answer.status_code, answer.text)
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        return BeautifulSoup(answer.text, "html.parser")

    def create(self, line: str) -> str:
        return created_id(ask(self.bot, f"!inc create {line}"))


@pytest.fixture
def pages(univac_bot: Callable[..., Harness], tmp_path: Path, clock: Clock,
          caplog: pytest.LogCaptureFixture) -> Callable[..., Pages]:
    def make(**settings: Any) -> Pages:
        table = {"writers": "sre", "readers": "oncall", "folder": str(tmp_path / "inc")}
        http = {"port": 0, "webhook_token": HOOK_TOKEN, "idle_timeout_s": 5}
        with caplog.at_level(logging.INFO, logger=HTTP_LOG):
            bot = univac_bot("incidents", "http", roles=ROLES, clock=clock,
                             settings={"incidents": table | settings, "http": http})
        return Pages(bot, served_port(caplog))

    return make


def rows(soup: BeautifulSoup, table: str) -> list[list[str]]:
    """The cells' texts of each body row of the table with this id (none: no rows)."""
    found = soup.find("table", id=table)
    if found is None:
        return []
    return [[td.get_text(" ", strip=True) for td in tr.find_all("td")]
            for tr in found.find("tbody").find_all("tr")]


def test_without_a_token_or_a_proxy_the_pages_do_not_exist(pages) -> None:
    served = pages()
    served.create("Gateway down")
    for path in ("/incidents", "/incidents/1", "/incidents/x/document.md"):
        for options in ({}, {"user": "alice"}, {"token": TOKEN}, {"token": HOOK_TOKEN}):
            answer = served.get(path, **options)
            assert (answer.status_code, answer.text) == (404, "no webhook here\n"), path


def test_the_token_opens_the_pages_with_its_role_and_nothing_else_does(pages) -> None:
    served = pages(page_token=TOKEN, page_token_role="oncall")
    found = served.create("--sev P1 --service gateway Gateway 5xx")
    missing = served.get("/incidents")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="incidents"'
    assert "Sign in to see incidents." in missing.text
    for wrong in ("nope", TOKEN + "x", HOOK_TOKEN):
        answer = served.get(f"/incidents/{found}", token=wrong)
        assert answer.status_code == 401 and "Gateway" not in answer.text, wrong
    soup = served.page("/incidents", token=TOKEN)
    assert rows(soup, "open")[0][:3] == ["1", f"Gateway 5xx {found}", "P1"]
    assert "signed in as token" in soup.get_text(" ", strip=True)
    answer = served.get("/incidents", token=TOKEN)
    assert "script-src" not in answer.headers["content-security-policy"]
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["cache-control"] == "no-store"
    metrics = requests.get(served.base.removesuffix("/hooks") + "/metrics", timeout=10).text
    assert 'incident_page_refusals_total{reason="token"} 3.0' in metrics
    assert 'incident_page_refusals_total{reason="missing"} 1.0' in metrics


def test_a_proxy_header_counts_only_from_a_trusted_proxy(pages) -> None:
    served = pages(page_user_header="X-Forwarded-User", page_proxies=["10.0.0.0/8", "::1"])
    served.create("Secret store sealed")
    ignored = served.get("/incidents", user="alice")  # 127.0.0.1 is no trusted proxy
    assert ignored.status_code == 401 and "Secret store" not in ignored.text
    assert "www-authenticate" not in ignored.headers  # no token to ask for

    trusted = pages(**PROXY)
    trusted.create("Secret store sealed")
    soup = trusted.page("/incidents", user="alice")
    assert "Secret store sealed" in soup.get_text()
    assert "signed in as alice" in soup.get_text(" ", strip=True)
    assert trusted.get("/incidents").status_code == 401  # no header, no token


def test_a_user_without_a_role_is_refused_and_audited(pages) -> None:
    served = pages(**PROXY)
    served.create("Payments failing")
    answer = served.get("/incidents/1", user="eve")
    assert answer.status_code == 403
    assert "You need the &#39;oncall&#39; or &#39;sre&#39; role to read incidents." in answer.text
    assert "Payments" not in answer.text
    audit = Path(served.bot.bot.audit.path)
    served.bot.bot.audit.close()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    page = [r for r in records if r["action"] == "incident.page"]
    assert [(r["outcome"], r["identity"], r["path"]) for r in page] == \
        [("refused", "http:eve", "/incidents/1")]


def test_a_reader_who_is_no_viewer_sees_that_incidents_exist_and_no_more(pages) -> None:
    served = pages(viewers="seers", **PROXY)
    found = served.create("--service vault Secret store sealed")
    index = served.get("/incidents", user="bob")
    assert index.status_code == 200
    text = " ".join(BeautifulSoup(index.text, "html.parser").get_text(" ").split())
    assert "1 open incident(s), 0 resolved or closed in the last 7 days; details are " \
           "for the 'seers' role." in text
    assert "Secret" not in index.text and "vault" not in index.text
    detail = served.get(f"/incidents/{found}", user="bob")
    assert detail.status_code == 200
    assert f"{found} is an incident; details are for the &#39;seers&#39; role." in detail.text
    assert "Secret" not in detail.text
    assert "Secret" not in served.get(f"/incidents/{found}/document.md", user="bob").text
    assert served.get(f"/incidents/{found}", user="carol").status_code == 403  # no reader
    assert "Secret store sealed" in served.page(f"/incidents/{found}", user="alice").get_text()


def test_the_list_filters_by_service_and_severity_and_keeps_recent_ones(pages, clock) -> None:
    served = pages(**PROXY)
    gateway = served.create("--sev P1 --service gateway Gateway 5xx")
    clock.advance(minutes=1)  # numbered in the order they were made
    slow = served.create("--sev P3 --service gateway Slow gateway")
    clock.advance(minutes=1)
    vault = served.create("--sev P1 --service vault Vault sealed")
    ask(served.bot, f"!inc resolve {vault}")

    def listed(query: str) -> tuple[list[str], list[str]]:
        soup = served.page(f"/incidents{query}", user="bob")
        return ([r[1] for r in rows(soup, "open")], [r[1] for r in rows(soup, "recent")])

    assert listed("") == ([f"Gateway 5xx {gateway}", f"Slow gateway {slow}"],
                          [f"Vault sealed {vault}"])
    assert listed("?service=GATEWAY")[0] == [f"Gateway 5xx {gateway}",
                                             f"Slow gateway {slow}"]
    assert listed("?service=gateway&severity=p1") == ([f"Gateway 5xx {gateway}"], [])
    assert listed("?severity=P1") == ([f"Gateway 5xx {gateway}"], [f"Vault sealed {vault}"])
    assert listed("?service=nosuch") == ([], [])
    bad = served.get("/incidents?severity=P9", user="bob")
    assert bad.status_code == 400 and "&#39;P9&#39; is no severity" in bad.text
    clock.advance(days=8)
    assert listed("") == ([f"Gateway 5xx {gateway}", f"Slow gateway {slow}"], [])


def test_titles_and_texts_are_escaped(pages) -> None:
    served = pages(**PROXY)
    found = served.create('<script>alert("x")</script> & <b>bold</b>')
    ask(served.bot, f'!inc log {found} <img src=x onerror=alert(1)> "quoted"')
    for path in ("/incidents", f"/incidents/{found}"):
        html = served.get(path, user="alice").text
        assert "<script>alert" not in html and "<b>bold" not in html and "<img" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in html
    soup = served.page(f"/incidents/{found}", user="alice")
    assert soup.find("script") is None
    assert rows(soup, "timeline")[-1][1:] == ["alice", "comment",
                                              '<img src=x onerror=alert(1)> "quoted"']


def test_an_incident_page_shows_its_timeline_followups_and_artifacts(pages, clock) -> None:
    served = pages(**PROXY, shift_zone="Europe/Berlin")
    found = served.create("--sev P0 --service db Primary down")
    clock.advance(minutes=5)
    ask(served.bot, f"!inc log {found} failing over to the replica")
    ask(served.bot, f"!inc coordinator {found} carol")
    ask(served.bot, f"!inc followup {found} --owner dave --due 2026-03-03 Add an alert")
    clock.advance(days=2)
    soup = served.page(f"/incidents/{found[-6:]}", user="bob")  # a short id
    assert soup.h1.get_text(" ", strip=True) == "P0 Primary down"
    facts = dict(zip([dt.get_text() for dt in soup.find_all("dt")],
                     [dd.get_text(" ", strip=True) for dd in soup.find_all("dd")], strict=True))
    assert facts["Id"] == f"{found} (#1)" and facts["Coordinator"] == "carol"
    assert facts["Started"] == "2026-03-02 10:00 CET (2d 0h ago)"
    assert rows(soup, "timeline") == [
        ["2026-03-02 10:00 CET", "alice", "created", "Primary down"],
        ["2026-03-02 10:05 CET", "alice", "comment", "failing over to the replica"],
        ["2026-03-02 10:05 CET", "alice", "coordinator", "carol"],
        ["2026-03-02 10:05 CET", "alice", "followup", "Add an alert"],
    ]
    assert rows(soup, "followups") == [["1", "Add an alert", "dave", "P2",
                                        "2026-03-03 (overdue)", "open"]]
    link = soup.find(id="artifacts").find("a")
    assert link.get_text() == "document.md" and link["href"] == f"../incidents/{found}/document.md"
    assert soup.find("header").find("a")["href"] == "../incidents"
    document = served.page(f"/incidents/{found}/document.md", user="bob")
    assert document.find("pre").get_text().startswith("# Primary down\n")
    assert served.page("/incidents", user="bob").find("tbody").find("a")["href"] == \
        f"incidents/{found}"


def test_unknown_ids_and_pages_are_404_pages(pages) -> None:
    served = pages(**PROXY)
    found = served.create("one")
    for path, said in ((f"/incidents/{found}x", "No incident"),
                       ("/incidents/42", "No incident &#39;42&#39;"),
                       (f"/incidents/{found}/nosuch.md", "has no artifact &#39;nosuch.md&#39;"),
                       (f"/incidents/{found}/a/b", "No such page.")):
        answer = served.get(path, user="alice")
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert said in answer.text and "Traceback" not in answer.text, path
    assert served.get("/incidents/", user="alice").status_code == 404
    assert served.get(f"/incidents/{found}", user="nobody").status_code == 403


def test_a_store_that_cannot_be_read_is_a_503_page(pages, monkeypatch) -> None:
    served = pages(**PROXY)
    served.create("one")
    store = store_of(served.bot)
    from univac.plugins.incidents.stores import StoreDown

    def down() -> list:
        raise StoreDown("The incident database cannot be reached right now.")

    monkeypatch.setattr(store, "incidents", down)
    answer = served.get("/incidents", user="alice")
    assert answer.status_code == 503
    assert "The incident database cannot be reached right now." in answer.text

    def broken() -> list:
        raise KeyError("a bug")

    monkeypatch.setattr(store, "incidents", broken)
    answer = served.get("/incidents", user="alice")
    assert answer.status_code == 500 and "details are in the bot" in answer.text
    assert "KeyError" not in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize(("table", "key", "reason"), [
    ({"page_token": "t"}, "page_token_role", "name the role the page token grants"),
    ({"page_token": "t", "page_token_role": "ops"}, "page_token_role",
     "'ops' would open nothing: name one of sre (writers, readers, viewers)"),
    ({"page_user_header": "X-Forwarded-User"}, "page_proxies", "name the reverse proxies"),
    ({"page_user_header": "X User", "page_proxies": ["::1"]}, "page_user_header",
     "a header name"),
    ({"page_user_header": "X-User", "page_proxies": ["10.0.0.300"]}, "page_proxies",
     "'10.0.0.300' is no address or network"),
    ({"page_recent_s": 0}, "page_recent_s", "must be more than 0"),
])
def test_page_settings_are_checked(table, key, reason) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings(writers="sre", **table)
    assert reason in raised.value.problems[key]


def weekly_pages(pages, tmp_path: Path, **settings: Any) -> Pages:
    """Pages of a bot whose reports folder holds the digest of the known week 2026-W09."""
    served = pages(reports_folder=str(tmp_path / "reports"), **PROXY, **settings)
    made = digest.build(write_store(tmp_path / "log"), Week.parse("2026-W09"))
    digest.write(tmp_path / "reports" / "incidents" / "weekly", made)
    return served


def test_the_weekly_digest_page_shows_the_week_as_written(pages, tmp_path) -> None:
    served = weekly_pages(pages, tmp_path)
    soup = served.page("/incidents/weekly/2026-W09", user="alice")
    counts = {row[0]: row[1] for row in
              ([th.get_text(strip=True), td.get_text(strip=True)]
               for th, td in ((tr.th, tr.td) for tr in soup.find("table", id="counts")("tr")))}
    assert counts == {"New incidents": "4", "Resolved": "2", "Mean time to resolve": "1h 51m",
                      "Open at the end of the week": "3", "Overdue follow-ups": "2",
                      "Recurring services": "1", "Recurring signatures": "1"}
    assert [row[0] for row in rows(soup, "new")] == [
        "API 5xx | spike inc_20260224_0000_aa0000", "Batch late inc_20260225_0000_hh0000",
        "API 5xx again inc_20260226_0000_bb0000", "Slow search inc_20260227_0000_cc0000"]
    assert rows(soup, "open")[1][1:5] == ["P2", "api", "prod", "open"]
    assert [row[:2] for row in rows(soup, "overdue")] == [
        ["inc_20260210_0000_dd0000", "1"], ["inc_20260210_0000_dd0000", "3"]]
    link = soup.find("table", id="new").find("a")["href"]
    assert link == "../../incidents/inc_20260224_0000_aa0000"
    same = served.page("/incidents/weekly/2026-09", user="alice")  # YYYY-WW works too
    assert same.h1.get_text(strip=True) == "Incident digest 2026-W09"
    weeks = served.page("/incidents/weekly", user="alice")
    assert [a.get_text() for a in weeks.find(id="weeks")("a")] == ["2026-W09"]
    assert weeks.find(id="weeks").a["href"] == "../incidents/weekly/2026-W09"


def test_a_reader_who_is_no_viewer_sees_the_weeks_counts_only(pages, tmp_path) -> None:
    served = weekly_pages(pages, tmp_path, viewers="seers")
    answer = served.get("/incidents/weekly/2026-W09", user="bob")
    assert answer.status_code == 200
    assert "Open at the end of the week" in answer.text
    assert "Replica lag" not in answer.text and "inc_20260210" not in answer.text
    assert served.get("/incidents/weekly/2026-W09", user="carol").status_code == 403
    assert served.get("/incidents/weekly/2026-W09").status_code == 401


@pytest.mark.parametrize(("path", "reason"), [
    ("/incidents/weekly/2026-W10", "No digest for 2026-W10: each is written after its week "
                                   "ends (mon 08:00 UTC)."),
    ("/incidents/weekly/2026-W60", "No such page: a week is written like 2026-W09."),
    ("/incidents/weekly/last", "No such page: a week is written like 2026-W09."),
    ("/incidents/weekly/2026-W09/x", "No such page: a week is written like 2026-W09."),
])
def test_weeks_without_a_digest_are_404_pages(pages, tmp_path, path, reason) -> None:
    served = weekly_pages(pages, tmp_path)
    answer = served.get(path, user="alice")
    assert answer.status_code == 404
    assert reason in " ".join(BeautifulSoup(answer.text, "html.parser").get_text(" ").split())
