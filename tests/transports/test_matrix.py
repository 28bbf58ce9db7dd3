"""Unit tests of the Matrix transport: settings (and their reference in docs/matrix.md),
the inbound filter, threads against access rules, reply contents (notices, Markdown,
threads, splitting), the memory in the state store (and the former file's import),
and the thread-facing API. The real homeserver tests are in tests/integration."""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import pytest

from tests.contexts import lend
from tests.core.test_access import tell
from tests.transports.settings_docs import docs_table, expected_rows
from tests.waiting import wait_for
from univac import TransportError
from univac.config import load
from univac.engine.store import Fence
from univac.transports import matrix
from univac.transports.matrix import inbound, memory, outbound
from univac.transports.matrix.inbound import RoomView

BASE = {"homeserver": "https://matrix.example.org", "user_id": "@univac:example.org",
        "password": "pw"}
ME = "@univac:example.org"
ROOM = "!abc:example.org"


def settings(**overrides):
    return matrix.Settings(**{**BASE, **overrides})


def event(body="!help", msgtype="m.text", sender="@alice:example.org", **content):
    return {"type": "m.room.message", "sender": sender, "event_id": "$e1",
            "origin_server_ts": 1, "content": {"msgtype": msgtype, "body": body, **content}}


def deliver(evt, private=False):
    return inbound.to_message(evt, RoomView(ROOM, private), ME, "matrix", "Univac")


# -- settings ---------------------------------------------------------------------

def test_settings_need_a_homeserver_a_user_and_a_secret(tmp_path):
    s = settings(rooms=("#ops:example.org", "!xyz:example.org", "!v12roomidwithoutserver"))
    assert s.markdown and s.max_lines_per_reply == 20 and s.healthy_after_s == 60.0
    lent = lend(tmp_path, "m")
    try:
        assert matrix.create("m", s, lent.context).name == "m"
    finally:
        lent.close()
    assert settings(password="", access_token="syt_token").access_token == "syt_token"


@pytest.mark.parametrize(("overrides", "error"), [
    ({"homeserver": "matrix.example.org"}, "homeserver: 'matrix.example.org' is not a URL"),
    ({"homeserver": "http://matrix.example.org"}, "plain http is allowed on loopback only"),
    ({"user_id": "univac"}, "user_id: 'univac' is not a user id"),
    ({"password": ""}, "password or access_token"),
    ({"rooms": ("ops",)}, "rooms: 'ops' is neither an alias"),
    ({"rooms": ("#ops",)}, "rooms: '#ops' is neither an alias"),
    ({"invite_from": ("alice",)}, "invite_from: 'alice' must match user ids"),
    ({"max_lines_per_reply": -1}, "max_lines_per_reply"),
    ({"reconnect_min_s": -1.0}, "reconnect_min_s: must be 0 or more"),
    ({"sync_timeout_s": 0.0}, "sync_timeout_s"),
])
def test_bad_settings_are_refused_with_the_setting_named(overrides, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        settings(**overrides)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8008", "http://localhost:8008",
                                 "http://[::1]:8008"])
def test_plain_http_is_allowed_on_loopback(url):
    assert settings(homeserver=url).homeserver == url


def test_the_settings_table_in_the_docs_is_the_settings_dataclass():
    assert docs_table("matrix.md") == expected_rows(matrix.Settings)


# -- inbound -------------------------------------------------------------------

def test_a_text_message_becomes_a_message_with_the_mxid_as_identity():
    message = deliver(event("!echo hi"))
    assert message == ("matrix", ROOM, "@alice:example.org", "!echo hi", False,
                       "mxid:@alice:example.org", "Univac", "")
    assert deliver(event("echo hi"), private=True).private is True


@pytest.mark.parametrize("evt", [
    event(msgtype="m.notice"),                              # another bot
    event(msgtype="m.emote"),
    event(msgtype="m.image"),
    event(sender=ME),                                       # the bot itself
    event("* !deploy", **{"m.new_content": {"msgtype": "m.text", "body": "!deploy"},
                          "m.relates_to": {"rel_type": "m.replace", "event_id": "$e0"}}),
    event("   "),
    {**event(), "type": "m.room.encrypted"},
    {**event(), "type": "m.room.member"},
    {**event(), "content": "not a dict"},
    {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "!help"}},
], ids=["notice", "emote", "image", "own", "edit", "blank", "encrypted", "member",
        "bad content", "no sender"])
def test_never_acted_on(evt):
    assert deliver(evt) is None


def test_a_message_in_a_thread_is_answered_in_the_thread():
    relation = {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
                "m.in_reply_to": {"event_id": "$root"}}
    message = deliver(event("!echo x", **{"m.relates_to": relation}))
    assert (message.target, message.text) == (f"{ROOM}/$root", "!echo x")
    assert (message.thread, message.channel) == ("$root", ROOM)
    assert outbound.split_target(message.target) == (ROOM, "$root")


def test_a_thread_is_in_its_room_for_access_rules(univac_bot):
    bot = univac_bot("echo", transports=("matrix",), access={"echo": {"channels": [ROOM]}})
    relation = {"rel_type": "m.thread", "event_id": "$root"}
    in_room = deliver(event("!echo x", **{"m.relates_to": relation}))
    assert tell(bot, in_room) == [(f"{ROOM}/$root", "x")]
    elsewhere = inbound.to_message(event("!echo x", **{"m.relates_to": relation}),
                                   RoomView("!other:example.org"), ME, "matrix", "Univac")
    assert tell(bot, elsewhere) == [("!other:example.org/$root", f"echo only works in {ROOM}.")]


def test_a_reply_loses_its_quoted_fallback():
    body = "> <@bob:example.org> the build broke\n> twice\n\n!status"
    relation = {"m.in_reply_to": {"event_id": "$q"}}
    assert deliver(event(body, **{"m.relates_to": relation})).text == "!status"
    assert deliver(event("> not a reply\n\ntext")).text == "> not a reply\n\ntext"


# -- outbound --------------------------------------------------------------------

def test_replies_are_notices_with_markdown_only_when_it_changes_something():
    assert outbound.contents('it\'s "fine" & <ok>') == [
        {"msgtype": "m.notice", "body": 'it\'s "fine" & <ok>'}]
    assert outbound.contents("two\nlines") == [{"msgtype": "m.notice", "body": "two\nlines"}]
    [rich] = outbound.contents("**done**: `v1` <b>x</b>\n- a\n- b")
    assert rich["format"] == "org.matrix.custom.html"
    assert rich["formatted_body"] == ("<p><strong>done</strong>: <code>v1</code> "
                                      "&lt;b&gt;x&lt;/b&gt;</p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>")
    assert "formatted_body" not in outbound.contents("**done**", markdown=False)[0]
    assert "img" not in outbound.render("![x](https://example.org/a.png)")


def test_a_reply_in_a_thread_relates_to_its_root():
    [content] = outbound.contents("ok", thread_root="$root")
    assert content["m.relates_to"] == {"rel_type": "m.thread", "event_id": "$root",
                                       "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": "$root"}}


def test_long_replies_are_cut_to_max_lines_with_a_note():
    [content] = outbound.contents("\n".join(f"l{n}" for n in range(30)), max_lines=5)
    assert content["body"].split("\n") == ["l0", "l1", "l2", "l3", "[… 26 more lines not shown]"]
    assert outbound.contents(" \n\n") == []


def test_text_too_big_for_one_event_is_split_at_line_ends():
    text = "\n".join(f"line {n} " + "x" * 100 for n in range(2000))
    parts = outbound.contents(text)
    assert len(parts) > 1
    assert all(len(json.dumps(p).encode()) <= outbound.MAX_CONTENT_BYTES + 200 for p in parts)
    assert "\n".join(p["body"] for p in parts) == text
    one_line = outbound.contents("é" * 40_000, markdown=False)
    assert "".join(p["body"] for p in one_line) == "é" * 40_000 and len(one_line) > 1


# -- memory ---------------------------------------------------------------------

@pytest.fixture
def lent(tmp_path):
    lent = lend(tmp_path / "state", "m")
    yield lent
    lent.close()


def memory_of(lent, former=None):
    kept = memory.StoreMemory("m", lent.context, former)
    kept.load()
    return kept


def test_memory_is_kept_in_the_state_store_written_off_the_caller_s_thread(lent, tmp_path):
    kept = memory_of(lent)
    assert kept.get("device_id") == ""
    kept.set(device_id="DEV", access_token="syt_secret", next_batch="s1")
    assert kept.get("next_batch") == "s1"  # at once, before the store has it
    assert kept.flush(10)
    assert lent.stored() == {"device_id": "DEV", "access_token": "syt_secret",
                             "next_batch": "s1"}
    kept.set(next_batch="s2")
    assert kept.flush(10) and lent.stored()["next_batch"] == "s2"
    with pytest.raises(KeyError):
        kept.set(password="no")
    again = lend(tmp_path / "state", "m")  # a restart: a new store connection, a new state
    try:
        restarted = memory_of(again)
        assert (restarted.get("device_id"), restarted.get("next_batch")) == ("DEV", "s2")
        assert again.masked == ["syt_secret"]  # a kept token is masked as soon as it is read
    finally:
        again.close()
    assert lent.masked == ["syt_secret"]
    assert not list(tmp_path.glob("**/*.json"))


def test_memory_writes_go_out_one_at_a_time_in_order(lent):
    kept = memory_of(lent)
    for n in range(50):
        kept.set(next_batch=f"s{n}")
    assert kept.flush(10) and lent.stored() == {"next_batch": "s49"}


def test_a_refused_write_is_logged_once_and_made_good_by_the_next(tmp_path, caplog):
    fence = Fence(0)  # an instance that does not lead: every write is refused
    lent = lend(tmp_path / "state", "m", fence)
    try:
        kept = memory_of(lent)
        with caplog.at_level(logging.WARNING, logger="univac.transports.matrix"):
            kept.set(device_id="DEV", access_token="syt_secret")
            kept.flush(10)
            kept.set(next_batch="s1")
            kept.flush(10)
        warnings = [r.getMessage() for r in caplog.records
                    if r.name == "univac.transports.matrix"]
        assert len(warnings) == 1 and "carrying on with them in memory" in warnings[0]
        assert "syt_secret" not in caplog.text and kept.get("device_id") == "DEV"
        fence.epoch = None  # leading (unfenced) again
        kept.set(next_batch="s2")
        assert kept.flush(10)
        assert lent.stored() == {"device_id": "DEV", "access_token": "syt_secret",
                                 "next_batch": "s2"}
    finally:
        lent.close()


def test_an_earlier_version_s_file_is_imported_once_and_kept_renamed(lent, tmp_path, caplog):
    former = tmp_path / "matrix-m.json"
    former.write_text(json.dumps({"device_id": "OLD", "access_token": "syt_old",
                                  "next_batch": "s9", "homeserver": "https://h",
                                  "user_id": "@univac:example.org", "other": "x"}))
    with caplog.at_level(logging.INFO, logger="univac.transports.matrix"):
        kept = memory_of(lent, former)
    assert (kept.get("device_id"), kept.get("next_batch")) == ("OLD", "s9")
    assert lent.stored()["access_token"] == "syt_old" and "other" not in lent.stored()
    assert lent.masked == ["syt_old"]
    [renamed] = tmp_path.glob("matrix-m.json.imported-*")
    assert not former.exists() and json.loads(renamed.read_text())["device_id"] == "OLD"
    assert f"imported the device and sync token from {former}" in caplog.text
    assert "syt_old" not in caplog.text
    renamed.rename(former)  # the store is the truth from now on: the file is not read
    assert memory_of(lent, former).get("device_id") == "OLD" and former.exists()
    former.write_text(json.dumps({"device_id": "NEWER"}))
    assert memory_of(lent, former).get("device_id") == "OLD"


def test_an_unusable_former_file_is_logged_without_its_content(lent, tmp_path, caplog):
    former = tmp_path / "matrix-m.json"
    former.write_text('{"access_token": "syt_secret", ')
    with caplog.at_level(logging.WARNING):
        assert memory_of(lent, former).get("access_token") == ""
    assert "logging in afresh" in caplog.text and "syt_secret" not in caplog.text
    assert not former.exists() and list(tmp_path.glob("matrix-m.json.corrupt-*"))
    assert lent.stored() == {}


def test_the_former_file_was_where_the_core_keeps_its_state(monkeypatch, tmp_path):
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert memory.default_former_file("m") == tmp_path / "a" / "matrix-m.json"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert memory.default_former_file("m") == tmp_path / "xdg" / "univac" / "matrix-m.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert memory.default_former_file("m") == (
        Path.home() / ".local" / "state" / "univac" / "matrix-m.json")
    lent = lend(tmp_path / "state", "m")
    try:
        made = matrix.create("m", settings(state_file=str(tmp_path / "x.json")), lent.context)
        assert made.memory.former == tmp_path / "x.json"
    finally:
        lent.close()


def test_state_file_is_deprecated_with_a_warning(tmp_path):
    path = tmp_path / "univac.toml"
    path.write_text('[[transports]]\ntype = "matrix"\nhomeserver = "https://m.example.org"\n'
                    'user_id = "@univac:example.org"\npassword = "pw"\n'
                    'state_file = "matrix.json"\n')
    config = load(path)
    assert config.transports[0].settings.state_file == "matrix.json"
    [warning] = config.warnings
    assert warning.key == "transports[0].state_file"
    assert "kept in the state store now" in warning.reason


# -- the thread-facing side ----------------------------------------------------------

def test_stop_while_the_homeserver_is_unreachable_ends_run(lent, tmp_path):
    transport = matrix.create("m", settings(homeserver="http://127.0.0.1:9",
                                            state_file=str(tmp_path / "m.json"),
                                            reconnect_min_s=0.05, reconnect_max_s=0.1),
                              lent.context)
    thread = threading.Thread(target=transport.run, args=(lambda m: None,), daemon=True)
    thread.start()
    status = wait_for(lambda: (s := transport.status()) and "cannot reach" in s.detail and s,
                      10, "the failed attempt")
    assert status.state in ("connecting", "disconnected") and "cannot reach" in status.detail
    transport.send(ROOM, "never sent")
    transport.stop("bye")
    thread.join(10)
    assert not thread.is_alive() and transport.status().state == "stopped"
    assert lent.stored() == {}  # nothing learnt, nothing written


def test_reconnect_delays_grow_and_start_again_after_a_healthy_session():
    from univac.transports.matrix.session import reconnect_backoff

    backoff = reconnect_backoff(settings(reconnect_min_s=1.0, reconnect_max_s=8.0))
    delays = [backoff.failed(now=0.0) for _ in range(5)]
    assert delays[0] <= 1.0 and 4.0 <= delays[3] <= 8.0 and 4.0 <= delays[4] <= 8.0
    backoff.started(at=100.0)
    assert backoff.failed(now=159.0) >= 4.0  # up for less than healthy_after_s (60 s)
    backoff.started(at=200.0)
    assert backoff.failed(now=260.0) <= 1.0  # a healthy session: the first delay again
    assert reconnect_backoff(settings(reconnect_min_s=0.0)).failed() > 0  # never busy


def test_an_unexpected_error_ends_run_with_it_for_the_supervisor(lent, monkeypatch):
    from univac.transports.matrix import session

    async def broken(self):
        raise KeyError("a bug")

    monkeypatch.setattr(session.Session, "_connect_forever", broken)
    transport = matrix.create("m", settings(), lent.context)
    with pytest.raises(KeyError, match="a bug"):
        transport.run(lambda m: None)
    assert transport.status().state == "stopped"


def test_an_unreadable_tls_ca_file_makes_run_raise_a_transport_error(lent, tmp_path):
    transport = matrix.create("m", settings(tls_ca_file=str(tmp_path / "missing.pem")),
                              lent.context)
    with pytest.raises(TransportError, match="tls_ca_file"):
        transport.run(lambda m: None)
