"""The XMPP transport against a real Prosody when things go wrong: drops, restarts, kicks,
lost rooms, nick conflicts, join errors, a frozen or killed server; and against scripted
servers that accept a connection and then stall."""

from __future__ import annotations

import gc
import logging
import re
import signal

import pytest

from tests.integration.xmpp_servers import (
    MUC,
    PLAIN_FEATURES,
    PROCEED,
    STARTTLS_FEATURES,
    STREAM_HEADER,
    USERS,
    Peer,
    RunningBot,
    ScriptedServer,
)
from tests.waiting import wait_for
from univac.transports import xmpp

pytestmark = pytest.mark.integration
ROOM = f"room@{MUC}"
LUA_ROOM = f'prosody.hosts["{MUC}"].modules.muc.get_room_from_jid("{ROOM}")'


def _bot_presences(peer, nick: str = "univac") -> list[tuple[str, set[int]]]:
    seen = []
    while not peer.presences.empty():
        pr = peer.presences.get()
        if pr["from"].resource == nick:
            seen.append((pr["type"], pr["muc"]["status_codes"]))
    return seen


def test_reconnects_and_rejoins_after_server_restart(prosody, xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,))
    assert bot.wait_joined(ROOM).reconnects == 0
    prosody.restart()
    bot.wait_status(lambda s: s.state != "connected" or not s.targets)
    assert bot.wait_joined(ROOM, timeout=15).reconnects == 1
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    alice.say(ROOM, "!echo back")
    assert alice.expect(lambda r: r.sender == "univac").text == "back"
    alice.dm("bot@localhost", "!echo dm back")
    assert alice.expect(lambda r: r.kind == "chat").text == "dm back"


def test_reconnect_backs_off_while_the_server_is_down(prosody, xmpp_bot):
    bot = xmpp_bot(rooms=(ROOM,), reconnect_min_s=0.2, reconnect_max_s=0.8)
    bot.wait_joined(ROOM)
    prosody.stop()
    status = bot.wait_status(lambda s: "reconnect in" in s.detail and "failed" in s.detail)
    assert status.state == "disconnected" and status.targets == ()
    delay = float(status.detail.rsplit("reconnect in ", 1)[1].rstrip("s"))
    assert 0.1 <= delay <= 0.8
    prosody.start()
    bot.wait_joined(ROOM, timeout=15)


def test_dropped_link_resumes_stream_and_keeps_rooms(tcp_proxy, xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,), port=tcp_proxy.port)
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    _bot_presences(alice)
    tcp_proxy.cut()
    status = bot.wait_status(lambda s: s.detail.startswith("stream resumed"), timeout=15)
    assert tcp_proxy.accepted == 2 and status.reconnects == 1
    alice.say(ROOM, "!echo still here")
    assert alice.expect(lambda r: r.sender == "univac").text == "still here"
    assert _bot_presences(alice) == []  # no leave, no rejoin: the session was resumed


def test_nick_conflict_joins_with_alternate_nick(xmpp_bot, xmpp_peer):
    alice = xmpp_peer("alice")
    alice.join(ROOM, "univac")
    bot = xmpp_bot(rooms=(ROOM,))
    bot.wait_joined(ROOM)
    alice.say(ROOM, "!echo who")
    message = bot.next_message()
    assert message.bot_nick == "univac_"
    assert alice.expect(lambda r: r.text == "who").sender == "univac_"
    alice.say(ROOM, "marker")  # the bot's own "who" came back from the room: not delivered
    assert bot.next_message().text == "marker"


def test_join_error_is_shown_and_retried(xmpp_bot, xmpp_peer):
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")  # owner
    alice.call(lambda: alice.client.plugin["xep_0045"].set_affiliation(
        ROOM, "outcast", jid="bot@localhost"))
    bot = xmpp_bot(rooms=(ROOM,), reconnect_min_s=0.2, reconnect_max_s=0.5)
    status = bot.wait_status(lambda s: f"{ROOM}: forbidden" in s.detail)
    assert "retry in" in status.detail and ROOM not in status.targets
    alice.call(lambda: alice.client.plugin["xep_0045"].set_affiliation(
        ROOM, "none", jid="bot@localhost"))
    status = bot.wait_joined(ROOM)
    assert ROOM not in status.detail


def test_room_on_a_missing_service_is_an_error_in_status(xmpp_bot):
    bot = xmpp_bot(rooms=("room@nosuch.localhost", ROOM))
    bot.wait_joined(ROOM)
    status = bot.wait_status(lambda s: "room@nosuch.localhost:" in s.detail)
    assert status.targets == (ROOM,)


def test_technical_removal_333_rejoins(prosody, xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,))
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    _bot_presences(alice)
    out = prosody.shell(
        f'local st=require"util.stanza"; return {LUA_ROOM}:handle_kickable(nil, '
        'st.presence({type="error", from="bot@localhost/univac", to="' + ROOM + '/univac"})'
        ':tag("error",{type="cancel"}):tag("remote-server-not-found",'
        '{xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"}):up():up())')
    assert "true" in out, out
    seen: list = []
    wait_for(lambda: seen.extend(_bot_presences(alice)) or ("available", set()) in seen,
               10, "the bot back in the room")
    assert ("unavailable", {333}) in seen
    alice.say(ROOM, "!echo rejoined")
    assert alice.expect(lambda r: r.sender == "univac").text == "rejoined"


def test_self_ping_notices_a_silently_lost_room(prosody, xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,), self_ping_interval_s=0.3, ping_timeout_s=2)
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    _bot_presences(alice)
    # The room forgets the bot without telling it (as after a lost presence or a restart).
    out = prosody.shell(f'local r = {LUA_ROOM}; r._occupants["{ROOM}/univac"] = nil; '
                        'r._jid_nick["bot@localhost/univac"] = nil; return "removed"')
    assert "removed" in out, out
    seen: list = []
    wait_for(lambda: seen.extend(_bot_presences(alice)) or ("available", set()) in seen,
               10, "the bot's join presence after the self-ping failed")
    alice.say(ROOM, "!echo found")
    assert alice.expect(lambda r: r.sender == "univac").text == "found"


def test_resource_conflict_is_reported_and_backs_off(prosody, xmpp_bot):
    bot = xmpp_bot(rooms=(ROOM,), reconnect_min_s=0.5, reconnect_max_s=1.0)
    bot.wait_joined(ROOM)
    twin = Peer("bot@localhost", USERS["bot"], prosody.port, resource="univac")
    twin.start()  # Prosody closes the older session with a <conflict/> stream error
    try:
        status = bot.wait_status(lambda s: "another session logged in" in s.detail
                                 and "reconnect in" in s.detail)
        assert status.state == "disconnected" and status.targets == ()
        bot.wait_joined(ROOM, timeout=15)  # and then takes its resource back
    finally:
        twin.stop()


def test_password_protected_room(prosody, xmpp_bot, xmpp_peer):
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    out = prosody.shell(f'{LUA_ROOM}:set_password("s3cret"); return "set"')
    assert "set" in out, out
    without = xmpp_bot(name="without", rooms=(ROOM,), resource="without", nick="nopass")
    status = without.wait_status(lambda s: f"{ROOM}: not-authorized" in s.detail)
    assert status.targets == ()
    with_password = xmpp_bot(name="with", rooms=(ROOM,), resource="with",
                             room_passwords=(f"{ROOM}=s3cret",))
    with_password.wait_joined(ROOM)


def test_replies_wait_until_the_room_is_joined(xmpp_bot, xmpp_peer):
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    bot = xmpp_bot(rooms=(ROOM,))
    assert ROOM not in bot.transport.status().targets
    for n in range(3):
        bot.transport.send(ROOM, f"early {n}")
    texts = [alice.expect(lambda r: r.sender == "univac").text for _ in range(3)]
    assert texts == ["early 0", "early 1", "early 2"]


# -- dead links and stalled servers ---------------------------------------------------


@pytest.fixture
def scripted_bot():
    """A factory: ``scripted_bot(script, **settings)`` runs the transport against a
    ``ScriptedServer`` playing ``script``; both are stopped at teardown."""
    started: list = []

    def make(script: dict[bytes, bytes], **settings) -> tuple[RunningBot, ScriptedServer]:
        server = ScriptedServer(script)
        values = {"jid": "bot@localhost", "password": "pw", "host": "127.0.0.1",
                  "port": server.port, "tls": "plaintext", "reconnect_min_s": 0.05,
                  "reconnect_max_s": 0.1, **settings}
        bot = RunningBot(xmpp.create("xmpp", xmpp.Settings(**values))).start()
        started.append((bot, server))
        return bot, server

    yield make
    for bot, server in started:
        bot.stop()
        server.close()


def test_a_server_that_never_speaks_is_given_up_on_and_dialled_again(scripted_bot, caplog):
    bot, server = scripted_bot({}, connect_timeout_s=0.3)
    bot.wait_status(lambda s: "no answer from the server within 0.3 s" in s.detail
                    and s.state == "disconnected")
    wait_for(lambda: server.accepted >= 3, 10, "two more attempts")
    assert "xmpp: no answer from the server within 0.3 s; reconnecting in" in caplog.text


@pytest.mark.parametrize("script", [
    {b"<stream:stream": STREAM_HEADER + PLAIN_FEATURES},
    {b"<stream:stream": STREAM_HEADER + STARTTLS_FEATURES, b"<starttls": PROCEED},
], ids=["login-unanswered", "tls-handshake-unanswered"])
def test_a_server_that_talks_but_never_logs_the_bot_in_is_left(scripted_bot, script):
    bot, server = scripted_bot(script, connect_timeout_s=0.3, login_timeout_s=1,
                               tls="starttls" if b"<starttls" in script else "plaintext")
    status = bot.wait_status(lambda s: "not logged in within 1 s" in s.detail)
    assert "no answer from the server" not in status.detail  # it did answer at first
    wait_for(lambda: server.accepted >= 2, 10, "another attempt")


def test_a_frozen_server_is_found_by_the_keepalive_ping(prosody, xmpp_bot, caplog):
    caplog.set_level(logging.INFO)
    bot = xmpp_bot(rooms=(ROOM,), ping_interval_s=0.3, ping_timeout_s=1,
                   connect_timeout_s=1)
    bot.wait_joined(ROOM)
    prosody.proc.send_signal(signal.SIGSTOP)
    try:
        bot.wait_status(lambda s: "no answer to a ping within 1 s" in s.detail)
        # The frozen server's kernel still accepts connections: they are given up on.
        bot.wait_status(lambda s: "no answer from the server within 1 s" in s.detail)
    finally:
        prosody.proc.send_signal(signal.SIGCONT)
    bot.wait_joined(ROOM, timeout=20)
    messages = [(r.levelname, r.getMessage()) for r in caplog.records
                if r.name == "univac.transports.xmpp"]
    assert any(level == "WARNING" and "link lost: no answer to a ping within 1 s" in text
               for level, text in messages), messages
    assert any(level == "INFO" and re.search(r" as bot@localhost/univac after \d+ failed", text)
               for level, text in messages), messages


def test_a_killed_server_is_logged_once_per_kind_and_leaves_no_task_behind(
        prosody, xmpp_bot, caplog):
    caplog.set_level(logging.INFO)
    bot = xmpp_bot(rooms=(ROOM,), self_ping_interval_s=0.05, reconnect_min_s=0.02,
                   reconnect_max_s=0.05)
    joined_at = bot.wait_joined(ROOM).last_inbound or 0.0
    # Self-pings of the silent room went out and came back a few times.
    bot.wait_status(lambda s: (s.last_inbound or 0) > joined_at + 0.3)
    prosody.stop(graceful=False)
    session = bot.transport._host._session
    wait_for(lambda: session.failures.failures >= 5, 10, "five refused attempts")
    gc.collect()  # what nothing references any more goes now, pending or not
    prosody.start()
    bot.wait_joined(ROOM, timeout=15)
    bot.stop()
    gc.collect()
    ours = [r for r in caplog.records if r.name == "univac.transports.xmpp"]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    assert len([m for m in warnings if m.startswith("xmpp: link lost: ")]) == 1, warnings
    refused = [m for m in warnings if "Connect call failed" in m]
    assert len(refused) == 1, warnings  # the same failure again is counted, not logged
    assert any(r.levelno == logging.INFO and "failed attempts" in r.getMessage()
               for r in ours)
    noise = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert noise == []
