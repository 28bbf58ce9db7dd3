"""The core side of webhooks: the decorator, the catalog, requests and bound routes."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from univac import PluginError, UserError, WebhookRequest, WebhookResponse, command, webhook
from univac.decorators import WebhookSpec, spec_of
from univac.engine.catalog import Catalog, inspect_plugin
from univac.webhooks import reply_of

HOOKS = '''
"""Webhooks for the core tests."""
from univac import UserError, WebhookResponse, webhook


@webhook("/echo", methods=("post", "PUT"))
def echo(ctx, request):
    ctx.say("test:#hooks", request.body.decode())
    return WebhookResponse(201, "made", "text/plain")


@webhook("/quiet")
def quiet(ctx, request):
    return None


@webhook("/text")
def text(ctx, request):
    return request.header("X-Name")


@webhook("/refuse")
def refuse(ctx, request):
    raise UserError("no thanks")


@webhook("/broken")
def broken(ctx, request):
    raise RuntimeError("secret detail")
'''


def module(name: str, **functions: object) -> types.ModuleType:
    made = types.ModuleType(name)
    for key, func in functions.items():
        func.__module__ = name  # type: ignore[attr-defined]
        setattr(made, key, func)
    return made


def test_decorator_attaches_a_frozen_spec_and_returns_the_function() -> None:
    def handler(ctx, request):
        return "ok"

    assert webhook("/github", methods=["post", "get", "POST"])(handler) is handler
    assert spec_of(handler) == WebhookSpec("/github", ("POST", "GET"))
    assert webhook("/a/b.c")(lambda ctx, request: None).__univac_spec__.methods == ("POST",)
    with pytest.raises(AttributeError):
        spec_of(handler).path = "/other"  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["", "github", "/", "/a b", "/a/", "/x?y", "//x"])
def test_decorator_refuses_bad_paths(path: str) -> None:
    with pytest.raises(ValueError, match="webhook path"):
        webhook(path)


def test_decorator_refuses_no_methods_and_a_second_decorator() -> None:
    with pytest.raises(ValueError):
        webhook("/x", methods=())
    with pytest.raises(ValueError, match="already has"):
        webhook("/x")(command("x")(lambda ctx: None))


def test_a_plugin_with_only_a_webhook_is_valid_and_indexed() -> None:
    def hook(ctx, request):
        return None

    plugin = inspect_plugin("one", module("m1", hook=webhook("/one")(hook)), None)
    catalog = Catalog()
    catalog.add(plugin)
    assert catalog.webhooks["/one"].label == "one.hook"


def test_a_webhook_must_take_ctx_and_request() -> None:
    def lonely(ctx):
        return None

    with pytest.raises(PluginError, match=r"webhook lonely\(\) must take \(ctx, request\)"):
        inspect_plugin("w", module("mw", lonely=webhook("/w")(lonely)), None)


def test_catalog_refuses_a_taken_path_for_the_later_plugin_and_adds_nothing_of_it() -> None:
    def first(ctx, request):
        return None

    def second(ctx, request):
        return None

    def cmd(ctx):
        return "x"

    catalog = Catalog()
    catalog.add(inspect_plugin("a", module("ma", first=webhook("/same")(first)), None))
    later = module("mb", second=webhook("/same")(second), cmd=command("later")(cmd))
    with pytest.raises(PluginError, match=r"clash in 'b': /same is taken by 'a.first'"):
        catalog.add(inspect_plugin("b", later, None))
    assert catalog.webhooks["/same"].plugin == "a"
    assert "b" not in catalog.plugins and catalog.command("later") is None


def test_catalog_refuses_one_plugin_using_a_path_twice() -> None:
    def one(ctx, request):
        return None

    def two(ctx, request):
        return None

    twice = module("mt", one=webhook("/x")(one), two=webhook("/x")(two))
    with pytest.raises(PluginError, match="/x"):
        Catalog().add(inspect_plugin("t", twice, None))


def test_request_headers_are_case_insensitive_and_read_only() -> None:
    request = WebhookRequest("POST", "/x", {"X-GitHub-Event": "push"}, b"{}", "127.0.0.1")
    assert request.header("x-github-event") == request.header("X-GITHUB-EVENT") == "push"
    assert request.headers == {"x-github-event": "push"}
    assert request.header("missing", "none") == "none"
    with pytest.raises(TypeError):
        request.headers["x"] = "y"  # type: ignore[index]


def test_request_json_refuses_a_bad_body_with_a_user_error() -> None:
    assert WebhookRequest("POST", "/x", body=b'{"a": 1}').json() == {"a": 1}
    for body in (b"{not json", b"\xff\xfe"):
        with pytest.raises(UserError, match="not valid JSON"):
            WebhookRequest("POST", "/x", body=body).json()


def test_replies_from_return_values() -> None:
    assert reply_of(None) == WebhookResponse(204)
    assert reply_of("hi") == WebhookResponse(200, "hi")
    made = WebhookResponse(202, b"\x00", "application/octet-stream")
    assert reply_of(made) is made and made.payload() == b"\x00"
    assert WebhookResponse(200, "é").payload() == "é".encode()


@pytest.fixture
def routes(univac_bot, tmp_path: Path):
    path = tmp_path / "hooks_sample.py"
    path.write_text(HOOKS, encoding="utf-8")
    bot = univac_bot(str(path))
    assert bot.errors == {}
    return bot, {route.path: route for route in bot.bot.webhooks()}


def test_bot_lists_bound_routes(routes) -> None:
    _, found = routes
    assert sorted(found) == ["/broken", "/echo", "/quiet", "/refuse", "/text"]
    assert found["/echo"].methods == ("POST", "PUT")
    assert found["/echo"].plugin == "hooks_sample"
    assert found["/echo"].label == "hooks_sample.echo"


def test_route_call_runs_the_handler_with_a_context_that_can_say(routes) -> None:
    bot, found = routes
    reply = found["/echo"].call(WebhookRequest("POST", "/echo", body=b"deployed"))
    assert reply == WebhookResponse(201, "made", "text/plain")
    assert bot.said() == [("test:#hooks", "deployed")]
    assert found["/quiet"].call(WebhookRequest("POST", "/quiet")).status == 204
    text = found["/text"].call(WebhookRequest("POST", "/text", {"x-name": "Ann"}))
    assert text == WebhookResponse(200, "Ann")


def test_route_call_turns_errors_into_400_and_500_without_leaking(routes, caplog) -> None:
    bot, found = routes
    refused = found["/refuse"].call(WebhookRequest("POST", "/refuse"))
    assert refused == WebhookResponse(400, "no thanks")
    broken = found["/broken"].call(WebhookRequest("POST", "/broken"))
    assert broken.status == 500 and "secret detail" not in str(broken.body)
    assert "secret detail" in caplog.text
    metrics = bot.bot.metrics()
    assert metrics.counters["handler_errors"] == 1
    assert metrics.latency[("hooks_sample", "webhook")].count == 2
