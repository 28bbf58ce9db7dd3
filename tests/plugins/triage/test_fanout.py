"""GitHub activity relayed to chat: templates, targets on any transport, bots ignored,
boilerplate cleaned, lines cut; and the settings' checks."""

from __future__ import annotations

import pytest

from tests.plugins.triage.conftest import fixture
from univac.plugins.triage.fanout import clean

EVENTS = [
    ("issues", "issues_opened.json",
     "[acme/rocket] reporter opened issue #7: Fuel gauge reads in furlongs "
     "https://github.com/acme/rocket/issues/7"),
    ("pull_request", "pull_request_closed.json",
     "[acme/rocket] carol merged pull request #8: Docs: litres https://github.com/acme/rocket/pull/8"),
    ("pull_request_review", "pull_request_review_submitted.json",
     "[acme/rocket] carol reviewed pull request #8 (approved): Docs: litres "
     "https://github.com/acme/rocket/pull/8#pullrequestreview-77"),
    ("issue_comment", "issue_comment_created.json",
     "[acme/rocket] dave commented on issue #7 (Fuel gauge reads in furlongs): I see this too. "
     "3.2.1 on the launch pad https://github.com/acme/rocket/issues/7#issuecomment-99001"),
    ("label", "label_created.json", "[acme/rocket] alice created the label team-launchpad"),
    ("star", "star_created.json", "[acme/rocket] stargazer created a star (162 now)"),
    ("membership", "membership_added.json", "acme-admin added dave (team Hackers)"),
    ("gollum", "gollum.json",
     "[acme/rocket] bob edited the wiki: Triage (edited) https://github.com/acme/rocket/wiki/Triage"),
]


@pytest.mark.parametrize(("event", "name", "line"), EVENTS)
def test_each_event_becomes_one_line(make_triage, event, name, line) -> None:
    triage = make_triage()
    assert triage.deliver(event, fixture(name)).status == 200
    assert triage.harness.said() == [("test:#triage", line)]


def test_targets_per_event_on_several_transports(univac_bot, github, clock) -> None:
    from tests.plugins.triage.conftest import Triage

    settings = {"repo": "acme/rocket", "team": "hackers", "api_url": github.base,
                "token": "t", "targets": ["test:#all", "irc:#all"],
                "event_targets": {"star": ["irc:#stars"]},
                "templates": {"star": "{sender} starred {repo}"},
                "line_chars": {"irc": 40}}
    harness = univac_bot("triage", settings={"triage": settings}, transports=("test", "irc"),
                         clock=clock)
    triage = Triage(harness, clock, github)
    triage.deliver("star", fixture("star_created.json"))
    triage.deliver("issues", fixture("issues_opened.json"))
    assert sorted(harness.said()) == [
        ("irc:#all", "[acme/rocket] reporter opened issue #7:…"),  # 40 characters
        ("irc:#stars", "stargazer starred acme/rocket"),
        ("test:#all", "[acme/rocket] reporter opened issue #7: Fuel gauge reads in furlongs "
                      "https://github.com/acme/rocket/issues/7"),
    ]


def test_bots_actions_and_events_not_relayed(make_triage) -> None:
    triage = make_triage(bots=["Carol"], actions={"issues": ["closed"]}, events=["issues",
                                                                                 "pull_request"])
    triage.deliver("pull_request", fixture("pull_request_closed.json"))  # carol is a bot here
    triage.deliver("issues", fixture("issues_opened.json"))  # "opened" is not relayed
    triage.deliver("star", fixture("star_created.json"))  # stars are not relayed
    assert triage.harness.said() == []
    triage.deliver("issues", fixture("issues_closed.json"))
    assert [text for _, text in triage.harness.said()] == [
        "[acme/rocket] bob closed issue #7: Fuel gauge reads in furlongs "
        "https://github.com/acme/rocket/issues/7"]


def test_template_boilerplate_is_cleaned_from_bodies() -> None:
    body = fixture("issues_opened.json")["issue"]["body"]
    assert clean(body, 200) == "1. Open the fuel gauge 2. Read it Litres. Furlongs per " \
                               "fortnight. fuel: 12 fur/ftn"
    assert clean("<!-- unclosed comment", 50) == ""
    assert clean("a\u202eb\x01c " + "x" * 100, 20) == "a b c xxxxxxxxxxxxx…"


def test_settings_errors_name_the_key(univac_bot) -> None:
    bot = univac_bot("triage", settings={"triage": {
        "repo": "rocket", "team": "hackers", "token": "t", "app_id": "x",
        "cleanup_period_s": 0, "templates": {"star": "{stars.real}"},
        "unassigned_priority": "P9", "targets": ["irk:#ops"]}})
    errors = bot.errors["plugins.triage.repo"]
    assert "owner/name" in errors
    for key in ("token", "cleanup_period_s", "templates", "unassigned_priority"):
        assert f"plugins.triage.{key}" in bot.errors, key
    missing = univac_bot("triage", settings={"triage": {"repo": "a/b", "team": "t"}})
    assert "missing: app_id, app_key, installation_id" in missing.errors["plugins.triage.token"]


def test_targets_are_checked_against_the_transports(univac_bot) -> None:
    bot = univac_bot("triage", settings={"triage": {
        "repo": "acme/rocket", "team": "hackers", "token": "t", "targets": ["irk:#ops"]}})
    assert "no transport named 'irk'" in bot.errors["plugins.triage.targets"]


@pytest.mark.parametrize(("event", "payload"), [
    ("issue_comment", {"action": "created", "issue": [1]}),
    ("pull_request", {"action": "closed", "pull_request": "merged"}),
    ("gollum", {"pages": 5}),
])
def test_a_malformed_relayed_payload_is_a_400_naming_the_event(make_triage, event,
                                                                 payload) -> None:
    triage = make_triage()
    reply = triage.deliver(event, payload | {"repository": {"full_name": "acme/rocket"}})
    assert (reply.status, reply.body) == (400, f"a malformed {event} payload")
    assert triage.harness.said() == []
    assert triage.rt.counts.get("triage_deliveries", outcome="refused") == 1
