"""The hooks plugin: GitHub events and Alertmanager alerts into chat lines.

The routes are called as the http plugin calls them (``ctx.bot.webhooks()``); the HTTP
side itself is tested in test_http.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from univac import WebhookRequest
from univac.plugins.hooks import check_template

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"
BOTH = ("test", "irc")


def bot_with(univac_bot, **settings):
    table = {"targets": ["test:#dev"], "alert_targets": ["irc:#ops"]} | settings
    bot = univac_bot("hooks", settings={"hooks": table}, transports=BOTH)
    routes = {route.path: route for route in bot.bot.webhooks()}
    return bot, routes


def request(path: str, fixture: str, event: str = "") -> WebhookRequest:
    headers = {"X-GitHub-Event": event} if event else {}
    return WebhookRequest("POST", path, headers, (FIXTURES / fixture).read_bytes())


def test_push_issue_and_merged_pull_request_lines(univac_bot) -> None:
    bot, routes = bot_with(univac_bot)
    for event in ("push", "issues", "pull_request"):
        reply = routes["/github"].call(request("/github", f"{event}.json", event))
        assert reply.status == 200, reply.body
    assert bot.said() == [
        ("test:#dev", "[acme/rocket] margaret pushed 2 commit(s) to main: Abort sequence: "
                      "document the big red button "
                      "https://github.com/acme/rocket/compare/6113728f27ae...0d1a26e67d8f"),
        ("test:#dev", "[acme/rocket] hubot opened issue #4: Fuel gauge reads in furlongs "
                      "https://github.com/acme/rocket/issues/4"),
        ("test:#dev", "[acme/rocket] octocat merged pull request #5: Docs: explain abort "
                      "sequence https://github.com/acme/rocket/pull/5"),
    ]


def test_templates_and_repository_routes_are_configurable(univac_bot) -> None:
    bot, routes = bot_with(
        univac_bot, repo_targets={"acme/rocket": ["irc:#rocket", "test:#rocket"]},
        pull_request_template="PR {number} {base}<-{head} {state} by {sender}",
    )
    routes["/github"].call(request("/github", "pull_request.json", "pull_request"))
    assert bot.said() == [
        ("test:#rocket", "PR 5 main<-abort-docs closed by octocat"),
        ("irc:#rocket", "PR 5 main<-abort-docs closed by octocat"),
    ]


def test_ignored_events_actions_and_ping_post_nothing(univac_bot) -> None:
    bot, routes = bot_with(univac_bot, actions=["opened"], events=["issues", "pull_request"])
    github = routes["/github"]
    assert github.call(request("/github", "push.json", "push")).status == 202
    merged = github.call(request("/github", "pull_request.json", "pull_request"))
    assert merged.status == 202 and "merged" in str(merged.body)
    assert github.call(request("/github", "push.json", "ping")).body == "pong"
    assert github.call(request("/github", "push.json", "")).status == 202
    assert bot.said() == []


def test_a_body_that_is_not_an_object_is_a_400(univac_bot) -> None:
    bot, routes = bot_with(univac_bot)
    listed = WebhookRequest("POST", "/github", {"X-GitHub-Event": "push"}, b"[1, 2]")
    assert routes["/github"].call(listed).status == 400
    no_alerts = WebhookRequest("POST", "/alertmanager", {}, b'{"alerts": "none"}')
    reply = routes["/alertmanager"].call(no_alerts)
    assert reply.status == 400 and "list of alerts" in str(reply.body)
    assert bot.said() == []


def test_alerts_are_posted_one_line_each_to_the_alert_targets(univac_bot) -> None:
    bot, routes = bot_with(univac_bot)
    reply = routes["/alertmanager"].call(request("/alertmanager", "alertmanager.json"))
    assert reply.status == 200
    assert bot.said() == [
        ("irc:#ops", "[FIRING] UnivacDown (critical) bot1:9464: The bot does not answer scrapes"),
        ("irc:#ops", "[RESOLVED] UnivacTransportDown (warning) bot2:9464: "
                     "Transport irc is not connected"),
    ]


def test_a_flood_of_alerts_is_cut_to_max_alerts(univac_bot) -> None:
    bot, routes = bot_with(univac_bot, max_alerts=2, alert_template="{alertname}")
    alerts = [{"status": "firing", "labels": {"alertname": f"A{i}"}} for i in range(7)]
    body = json.dumps({"receiver": "chat", "alerts": alerts}).encode()
    routes["/alertmanager"].call(WebhookRequest("POST", "/alertmanager", {}, body))
    assert [text for _, text in bot.said()] == ["A0", "A1", "... and 5 more alert(s)"]


def test_payload_text_cannot_break_the_line_or_smuggle_commands(univac_bot) -> None:
    bot, routes = bot_with(univac_bot, issues_template="{title}")
    payload = json.loads((FIXTURES / "issues.json").read_text())
    payload["issue"]["title"] = "ok\r\nPRIVMSG #ops :pwned\x00" + "x" * 500
    body = json.dumps(payload).encode()
    routes["/github"].call(WebhookRequest("POST", "/github", {"X-GitHub-Event": "issues"}, body))
    (_, text), = bot.said()
    assert "\r" not in text and "\n" not in text and "\x00" not in text
    assert text.startswith("ok PRIVMSG #ops :pwned") and len(text) <= 200


@pytest.mark.parametrize("template", [
    "{title.__class__}", "{title[0]}", "{0}", "{}", "{title!r}", "{title:>999999}", "{nope}",
    "{title",
])
def test_unsafe_templates_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="issues_template"):
        check_template("issues_template", template, ("title",))


def test_bad_settings_disable_the_plugin_and_name_the_key(univac_bot) -> None:
    cases = [
        ({"issues_template": "{sender.login}"}, "issues_template: {sender.login} is not allowed"),
        ({"targets": ["#dev"]}, "transport:target"),
        ({"repo_targets": {"a/b": "irc:#x"}}, "'a/b': expected a list, got a string"),
        ({"events": ["release"]}, "events: unknown ['release']"),
        ({}, "nothing would be posted"),
    ]
    for table, reason in cases:
        bot = univac_bot("hooks", settings={"hooks": table})
        assert any(reason in text for key, text in bot.errors.items() if "hooks" in key)
        assert bot.bot.webhooks() == []
