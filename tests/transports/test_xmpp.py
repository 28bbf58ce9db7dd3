"""Unit tests of the XMPP transport: settings (and their reference in docs/xmpp.md), the
inbound filter, rooms, reply text, the reconnect backoff, the failure log.

Stanzas are built from XML as a server would send them and handed to the same functions
the slixmpp event handlers call; nothing connects here (tests/integration does).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from pathlib import Path

import pytest
from slixmpp import JID, ClientXMPP
from slixmpp.stanza import Message as MessageStanza
from slixmpp.stanza import Presence
from slixmpp.xmlstream import ET

from tests.transports.settings_docs import docs_table, expected_rows
from tests.waiting import wait_for
from univac import FailureLog, Transport, TransportError, exitcodes
from univac.cli import main
from univac.transports import xmpp
from univac.transports.xmpp.inbound import RoomView, to_message
from univac.transports.xmpp.rooms import RoomOptions, Rooms
from univac.transports.xmpp.session import Session
from univac.transports.xmpp.support import RoomSpec, parse_rooms, reply_text

ROOM = "room@conference.example.org"
OWN = JID("bot@example.org/univac")


@pytest.fixture
def client():
    loop = asyncio.new_event_loop()
    client = ClientXMPP(str(OWN), "pw", loop=loop)
    for plugin in ("xep_0030", "xep_0045", "xep_0199", "xep_0410"):
        client.register_plugin(plugin)
    client.sent = []
    client.send = lambda stanza, use_filters=True: client.sent.append(stanza)
    yield client
    loop.close()


def stanza(client_or_none, xml: str, kind=MessageStanza):
    xml = xml.replace("<message ", "<message xmlns='jabber:client' ")
    xml = xml.replace("<presence ", "<presence xmlns='jabber:client' ")
    return kind(client_or_none, ET.fromstring(xml))


def presence_error(client, kind: str, condition: str) -> Presence:
    return stanza(client, f"<presence from='{ROOM}/univac' type='error'><error type='{kind}'>"
                          f"<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                          "</error></presence>", Presence)


def groupchat(body: str, nick: str = "alice", extra: str = "") -> MessageStanza:
    return stanza(None, f"<message type='groupchat' from='{ROOM}/{nick}' to='{OWN}'>"
                        f"<body>{body}</body>{extra}</message>")


def chat(body: str, sender: str = "alice@example.org/phone", extra: str = "",
         kind: str = "chat") -> MessageStanza:
    return stanza(None, f"<message type='{kind}' from='{sender}' to='{OWN}'>"
                        f"<body>{body}</body>{extra}</message>")


def joined_room(**occupants: str) -> RoomView:
    return RoomView(ROOM, "univac", joined=True, occupants=dict(occupants))


def deliverable(msg: MessageStanza, room: RoomView | None = None):
    return to_message(msg, "xmpp", OWN, lambda jid: room if room and jid == room.jid else None)


# -- settings -------------------------------------------------------------------


def test_settings_need_only_a_jid_and_create_returns_a_transport():
    transport = xmpp.create("chat", xmpp.Settings(jid="bot@example.org"))
    assert isinstance(transport, Transport)
    assert transport.name == "chat"
    assert transport.status().state == "starting"


@pytest.mark.parametrize("settings, error", [
    ({"jid": "example.org"}, "bare JID"),
    ({"jid": "bot@example.org/res"}, "bare JID"),
    ({"jid": "bot@example.org", "tls": "plaintext"}, "loopback only"),
    ({"jid": "bot@localhost", "tls": "plaintext", "host": "10.0.0.1"}, "loopback only"),
    ({"jid": "bot@example.org", "rooms": ("not a room",)}, "rooms:"),
    ({"jid": "bot@example.org", "rooms": (ROOM,), "room_passwords": ("x@y=z",)}, "no such room"),
    ({"jid": "bot@example.org", "room_passwords": ("nopassword",)}, "room_passwords"),
    ({"jid": "bot@example.org", "max_lines_per_reply": -1}, "max_lines_per_reply"),
    ({"jid": "bot@example.org", "ping_timeout_s": -1}, "ping_timeout_s: must be 0 or more"),
])
def test_bad_settings_are_refused_with_the_setting_named(settings, error):
    with pytest.raises(ValueError, match=error):
        xmpp.Settings(**settings)


def test_the_defaults_find_a_dead_link_and_redial_within_30_s():
    s = xmpp.Settings(jid="bot@example.org")
    # Silence before the ping, the ping's deadline, then the longest first redial delay
    # (the backoff starts again at reconnect_min_s after a session of healthy_after_s,
    # and a link found dead by the ping had been up at least that long).
    assert s.ping_interval_s + s.ping_timeout_s + s.reconnect_min_s <= 30
    assert 0 < s.connect_timeout_s <= 20  # a server that never speaks
    assert s.login_timeout_s > s.connect_timeout_s  # one that talks, but logs in slowly


def test_renamed_settings_name_their_replacement():
    fields = {f.name for f in dataclasses.fields(xmpp.Settings)}
    assert set(xmpp.Settings.RENAMED.values()) <= fields
    assert not set(xmpp.Settings.RENAMED) & fields
    assert "RENAMED" not in fields


def test_the_settings_table_in_the_docs_is_the_settings_dataclass():
    assert docs_table("xmpp.md") == expected_rows(xmpp.Settings)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_plaintext_is_allowed_on_loopback(host):
    assert xmpp.create("x", xmpp.Settings(jid="bot@example.org", tls="plaintext", host=host))


def test_room_specs_carry_nick_and_password():
    specs = parse_rooms((ROOM, "Other@Conf.Example.org/helper"),
                        ("other@conf.example.org=s3cret",), "univac")
    assert specs == (RoomSpec(ROOM, "univac"),
                     RoomSpec("other@conf.example.org", "helper", "s3cret"))


# -- reply text and backoff -----------------------------------------------------


def test_long_replies_are_cut_with_a_note():
    text = "\n".join(f"l{i}" for i in range(10))
    assert reply_text(text, 4) == "l0\nl1\nl2\n[… 7 more lines not shown]"
    assert reply_text(text, 0) == text
    assert reply_text(text, 10) == text


def test_reply_text_is_made_xml_safe():
    assert reply_text("a\x00b\x1bc\r\nd\n\n", 0) == "a\ufffdb\ufffdc\nd"


class Done(Exception):
    """Ends the reconnect loop under test."""


def test_sessions_dropped_at_once_back_off_and_a_healthy_one_starts_again():
    """A server that accepts the login and drops it at once is not redialled every
    reconnect_min_s: only a session that lasted healthy_after_s resets the backoff."""
    settings = xmpp.Settings(jid="bot@localhost", host="127.0.0.1", tls="plaintext",
                             reconnect_min_s=0.001, reconnect_max_s=10.0, healthy_after_s=60.0)
    loop = asyncio.new_event_loop()
    session = Session("x", settings, (), lambda m: None, lambda s: None, loop)
    lasted = iter([0.0] * 7 + [120.0, 0.0])  # how long each session was up before its drop
    delays: list[float] = []

    async def attempt() -> None:
        session.established = True
        session.up_since = time.monotonic() - next(lasted, -1.0)
        if session.up_since > time.monotonic():
            raise Done

    session._one_attempt = attempt
    session.failures.ended = lambda reason, delay, dropped: delays.append(delay)
    try:
        with pytest.raises(Done):
            loop.run_until_complete(session._connect_forever())
    finally:
        loop.close()
    ceilings = [0.001 * 2**n for n in range(7)] + [0.001, 0.002]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling, (delays, ceilings)


def test_an_old_setting_name_is_accepted_by_check_with_a_warning_naming_the_new_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = tmp_path / "univac.toml"
    config.write_text('[[transports]]\ntype = "xmpp"\njid = "bot@example.org"\n'
                      "keepalive_interval_s = 20\nreconnect_min = 2\n", encoding="utf-8")
    assert main(["check", "--config", str(config)]) == exitcodes.OK
    err = capsys.readouterr().err
    assert (f"warning: {config}: transports[0].keepalive_interval_s: renamed to "
            "transports[0].ping_interval_s; the old name still works") in err
    assert "transports[0].reconnect_min: renamed to transports[0].reconnect_min_s" in err


def test_failure_log_repeats_a_failure_once_a_minute_and_counts_the_rest(caplog):
    now = [0.0]
    failures = FailureLog(logging.getLogger("test.xmpp"), "xmpp", every=60.0,
                          clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.xmpp"):
        for _ in range(5):  # refused again and again for 30 s
            failures.ended("connection refused", 1.0, dropped=False)
            now[0] += 6
        failures.ended("authentication failed", 2.0, dropped=False)  # new: logged at once
        failures.ended("authentication failed", 2.0, dropped=False)
        now[0] += 60
        failures.ended("authentication failed", 4.0, dropped=False)
    assert [r.getMessage() for r in caplog.records] == [
        "xmpp: connection refused; reconnecting in 1.0 s",
        "xmpp: authentication failed (4 more since the last report); reconnecting in 2.0 s",
        "xmpp: authentication failed (1 more since the last report); reconnecting in 4.0 s",
    ]
    assert failures.connected() == 8
    assert failures.connected() == 0


def test_failure_log_says_when_a_link_was_lost(caplog):
    failures = FailureLog(logging.getLogger("test.xmpp"), "chat")
    with caplog.at_level(logging.WARNING, logger="test.xmpp"):
        failures.ended("no answer to a ping within 10 s", 0.7, dropped=True)
    assert caplog.records[0].getMessage() == (
        "chat: link lost: no answer to a ping within 10 s; reconnecting in 0.7 s")
    assert failures.connected() == 0  # a lost link is not a failed attempt


# -- inbound filter -------------------------------------------------------------


def test_room_message_identity_is_the_real_jid_when_the_room_shows_it():
    message = deliverable(groupchat("!echo hi"), joined_room(alice="alice@example.org"))
    assert (message.target, message.sender, message.text, message.private) == (
        ROOM, "alice", "!echo hi", False)
    assert (message.identity, message.bot_nick) == ("jid:alice@example.org", "univac")


def test_room_message_identity_is_the_occupant_jid_otherwise():
    message = deliverable(groupchat("hi"), joined_room(alice=""))
    assert message.identity == f"occupant:{ROOM}/alice"


@pytest.mark.parametrize("msg", [
    groupchat("old", extra="<delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/>"),
    groupchat("old", extra="<x xmlns='jabber:x:delay' stamp='20200101T00:00:00'/>"),
    groupchat("!echo b", extra="<replace xmlns='urn:xmpp:message-correct:0' id='1'/>"),
    groupchat("my own words", nick="univac"),
    groupchat(""),
    chat("!echo b", extra="<replace xmlns='urn:xmpp:message-correct:0' id='1'/>"),
    chat("from my other session", sender="bot@example.org/laptop"),
    chat("server notice", sender="example.org"),
    chat("news", kind="headline"),
    chat("oops", kind="error"),
], ids=["delay", "legacy-delay", "correction", "reflection", "no-body", "dm-correction",
        "own-dm", "server", "headline", "error"])
def test_never_acted_on(msg):
    assert deliverable(msg, joined_room(alice="")) is None


def test_room_messages_before_the_join_completed_are_ignored():
    room = RoomView(ROOM, "univac", joined=False)
    assert deliverable(groupchat("!echo early"), room) is None
    assert deliverable(groupchat("!echo unknown room"), None) is None


def test_direct_message_targets_the_bare_jid():
    message = deliverable(chat("!help", kind="normal"))
    assert (message.target, message.sender, message.private) == (
        "alice@example.org", "alice@example.org", True)
    assert (message.identity, message.bot_nick) == ("jid:alice@example.org", "bot")


def test_private_message_from_a_room_occupant_goes_back_to_the_occupant():
    message = deliverable(chat("psst", sender=f"{ROOM}/alice"), joined_room(alice=""))
    assert (message.target, message.private, message.identity) == (
        f"{ROOM}/alice", True, f"occupant:{ROOM}/alice")


# -- rooms ----------------------------------------------------------------------


def presence(client, nick: str, codes=(), kind: str = "", extra: str = "") -> Presence:
    status = "".join(f"<status code='{c}'/>" for c in codes)
    type_attr = f" type='{kind}'" if kind else ""
    return stanza(client, f"<presence from='{ROOM}/{nick}' to='{OWN}'{type_attr}>"
                          f"<x xmlns='http://jabber.org/protocol/muc#user'>"
                          f"<item affiliation='none' role='participant'/>{status}</x>{extra}"
                          "</presence>", Presence)


def make_rooms(client, joined: list) -> Rooms:
    options = RoomOptions(self_ping_interval_s=0, retry_min_s=5, retry_max_s=10)
    return Rooms(client, (RoomSpec(ROOM, "univac"),), options, joined.append, lambda: None)


def joins_sent(client) -> list[str]:
    return [str(s["to"]) for s in client.sent
            if s.name == "presence" and s.get_plugin("muc_join", check=True) is not None]


def test_join_is_done_at_self_presence_even_without_a_subject(client):
    joined = []
    rooms = make_rooms(client, joined)
    rooms.join_all()
    assert joins_sent(client) == [f"{ROOM}/univac"]
    assert rooms.joined() == ()
    rooms.on_presence(presence(client, "univac", codes=(110,)))
    assert rooms.joined() == (ROOM,) and joined == [ROOM]


def test_nick_conflict_retries_with_the_alternate_nick(client):
    rooms = make_rooms(client, [])
    rooms.join_all()
    rooms.on_presence_error(presence_error(client, "cancel", "conflict"))
    assert joins_sent(client) == [f"{ROOM}/univac", f"{ROOM}/univac_"]


def test_join_error_is_reported_and_retried_later(client):
    rooms = make_rooms(client, [])
    rooms.join_all()
    rooms.on_presence_error(presence_error(client, "auth", "not-authorized"))
    assert rooms.errors().startswith(f"{ROOM}: not-authorized, retry in ")
    assert rooms.rooms[ROOM].timer is not None and len(joins_sent(client)) == 1


def test_technical_removal_333_rejoins_at_once(client):
    rooms = make_rooms(client, [])
    rooms.join_all()
    rooms.on_presence(presence(client, "univac", codes=(110,)))
    rooms.on_presence(presence(client, "univac", codes=(110, 333), kind="unavailable"))
    assert rooms.joined() == ()
    client.loop.run_until_complete(asyncio.sleep(0.01))
    assert joins_sent(client) == [f"{ROOM}/univac", f"{ROOM}/univac"]


def test_a_kick_rejoins_after_a_backoff(client):
    rooms = make_rooms(client, [])
    rooms.join_all()
    rooms.on_presence(presence(client, "univac", codes=(110,)))
    rooms.on_presence(presence(client, "univac", codes=(110, 307), kind="unavailable"))
    assert "kicked" in rooms.errors() and rooms.joined() == ()
    assert rooms.rooms[ROOM].timer is not None and len(joins_sent(client)) == 1


def test_a_room_that_removes_the_bot_at_once_is_retried_ever_later(client):
    rooms = make_rooms(client, [])
    rooms.join_all()
    for _ in range(3):
        rooms.on_presence(presence(client, "univac", codes=(110,)))
        rooms.on_presence(presence(client, "univac", codes=(110, 307), kind="unavailable"))
    assert rooms.rooms[ROOM].backoff.failures == 3  # not reset by the joins between


def test_a_removal_after_a_healthy_stay_retries_from_the_start(client):
    options = RoomOptions(self_ping_interval_s=0, retry_min_s=5, retry_max_s=10,
                          healthy_after_s=0)
    rooms = Rooms(client, (RoomSpec(ROOM, "univac"),), options, lambda jid: None, lambda: None)
    rooms.join_all()
    for _ in range(3):
        rooms.on_presence(presence(client, "univac", codes=(110,)))
        rooms.on_presence(presence(client, "univac", codes=(110, 307), kind="unavailable"))
    assert rooms.rooms[ROOM].backoff.failures == 1


def test_occupants_are_tracked_for_identity(client):
    rooms = make_rooms(client, [])
    rooms.join_all()
    rooms.on_presence(presence(client, "univac", codes=(110,)))
    rooms.on_presence(presence(client, "alice", extra=""))
    real = presence(client, "carol")
    real["muc"]["jid"] = "carol@example.org/phone"
    rooms.on_presence(real)
    view = rooms.view(ROOM)
    assert view.identity("alice") == f"occupant:{ROOM}/alice"
    assert view.identity("carol") == "jid:carol@example.org"
    rooms.on_presence(presence(client, "carol", kind="unavailable"))
    assert "carol" not in view.occupants


# -- thread-facing side -----------------------------------------------------------


def test_stop_before_run_makes_run_return_at_once():
    transport = xmpp.create("x", xmpp.Settings(jid="bot@localhost", host="127.0.0.1", port=1,
                                               tls="plaintext"))
    transport.stop("bye")
    thread = threading.Thread(target=transport.run, args=(lambda m: None,))
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert transport.status().state == "stopped"


def test_an_unreadable_tls_ca_file_makes_run_raise_a_transport_error(tmp_path):
    transport = xmpp.create("x", xmpp.Settings(jid="bot@localhost",
                                               tls_ca_file=str(tmp_path / "missing.pem")))
    with pytest.raises(TransportError, match=r"missing\.pem"):
        transport.run(lambda m: None)
    assert transport.status().state == "stopped"


def test_stop_while_the_server_is_unreachable_ends_run():
    transport = xmpp.create("x", xmpp.Settings(jid="bot@localhost", host="127.0.0.1", port=1,
                                               tls="plaintext", reconnect_min_s=0.05))
    thread = threading.Thread(target=transport.run, args=(lambda m: None,))
    thread.start()
    deadline = threading.Event()
    for _ in range(500):
        if "reconnect in" in transport.status().detail:
            break
        deadline.wait(0.01)
    assert transport.status().state in ("connecting", "disconnected")
    transport.send("alice@localhost", "never sent")
    transport.stop()
    thread.join(5)
    assert not thread.is_alive() and transport.status().state == "stopped"


@pytest.mark.parametrize("host", ["nosuch.invalid", ""])
def test_a_failed_dns_lookup_names_the_address_and_is_logged(host, caplog):
    transport = xmpp.create("x", xmpp.Settings(jid="bot@nowhere.invalid", host=host,
                                               reconnect_min_s=5))
    thread = threading.Thread(target=transport.run, args=(lambda m: None,))
    thread.start()
    try:
        expected = f"connection failed: DNS lookup failed for {host or 'nowhere.invalid'}"
        wait_for(lambda: "reconnect in" in transport.status().detail, 30, "a failed lookup")
        assert transport.status().detail.startswith(expected)
        assert f"x: {expected}; reconnecting in" in caplog.text
    finally:
        transport.stop()
        thread.join(5)
