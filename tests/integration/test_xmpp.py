"""The XMPP transport against a real Prosody: login, rooms, DMs, what it ignores, shutdown."""

from __future__ import annotations

import threading

import pytest

from tests.integration.xmpp_servers import ANON_MUC, MUC, USERS, Peer
from tests.waiting import wait_for
from univac.transports.xmpp import rooms as xmpp_rooms

pytestmark = pytest.mark.integration
ROOM = f"room@{MUC}"


def test_starttls_login_answers_in_room_and_dm(xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,), tls="starttls")
    status = bot.wait_joined(ROOM)
    assert status.state == "connected" and status.last_inbound is not None
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")

    alice.say(ROOM, "!echo hi")
    message = bot.next_message()
    assert (message.transport, message.target, message.sender, message.text) == (
        "xmpp", ROOM, "alice", "!echo hi")
    assert (message.private, message.identity, message.bot_nick) == (
        False, "jid:alice@localhost", "univac")
    reply = alice.expect(lambda r: r.text == "hi")
    assert (reply.kind, reply.sender) == ("groupchat", "univac")

    alice.dm("bot@localhost", "!echo hi there")
    message = bot.next_message()
    assert (message.target, message.sender, message.private) == (
        "alice@localhost", "alice@localhost", True)
    assert (message.identity, message.bot_nick) == ("jid:alice@localhost", "bot")
    reply = alice.expect(lambda r: r.text == "hi there")
    assert (reply.kind, reply.sender) == ("chat", "bot@localhost")


def test_direct_tls_login(prosody, xmpp_bot, xmpp_peer):
    bot = xmpp_bot(tls="direct", port=prosody.tls_port, resource="direct")
    bot.wait_status(lambda s: s.state == "connected")
    alice = xmpp_peer("alice")
    alice.dm("bot@localhost/direct", "!echo over direct tls")
    assert alice.expect(lambda r: r.kind == "chat").text == "over direct tls"


def test_plaintext_login_on_loopback(xmpp_bot, xmpp_peer):
    bot = xmpp_bot(tls="plaintext", tls_ca_file="")
    bot.wait_status(lambda s: s.state == "connected")
    alice = xmpp_peer("alice")
    alice.dm("bot@localhost", "!echo plain")
    assert alice.expect(lambda r: r.kind == "chat").text == "plain"


def test_untrusted_certificate_is_refused(xmpp_bot):
    bot = xmpp_bot(tls_ca_file="")
    status = bot.wait_status(lambda s: "certificate" in s.detail.lower()
                             or "CERTIFICATE_VERIFY_FAILED" in s.detail)
    assert status.state in ("connecting", "disconnected")
    assert bot.transport.status().targets == ()


def test_wrong_password_is_reported(xmpp_bot):
    bot = xmpp_bot(password="wrong")
    status = bot.wait_status(lambda s: "authentication failed" in s.detail)
    assert status.state != "connected"


def test_history_replayed_on_rejoin_is_ignored(xmpp_bot, xmpp_peer, monkeypatch):
    # Ask for history on join, as a server that ignores maxstanzas=0 would send it.
    monkeypatch.setattr(xmpp_rooms, "JOIN_HISTORY_STANZAS", 20)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    alice.say(ROOM, "!echo before the bot came")
    first = xmpp_bot(rooms=(ROOM,))
    first.wait_joined(ROOM)
    alice.say(ROOM, "!echo one")
    assert first.next_message().text == "!echo one"
    first.stop()

    bob = xmpp_peer("bob")
    bob.join(ROOM, "bob", history=20)
    assert bob.history.get(timeout=5).text == "!echo before the bot came"  # server replays

    second = xmpp_bot(rooms=(ROOM,))
    second.wait_joined(ROOM)
    alice.say(ROOM, "!echo two")
    assert second.next_message().text == "!echo two"
    assert second.delivered.empty()


def test_corrections_are_ignored(xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,))
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    original = alice.say(ROOM, "!echo a")
    assert bot.next_message().text == "!echo a"
    alice.correct(ROOM, original, "!echo b")
    original_dm = alice.dm("bot@localhost", "!echo c")
    assert bot.next_message().text == "!echo c"
    alice.correct("bot@localhost", original_dm, "!echo d", mtype="chat")
    alice.say(ROOM, "marker")
    assert bot.next_message().text == "marker"


def test_own_reflections_and_own_dms_are_ignored(xmpp_bot, xmpp_peer, prosody):
    bot = xmpp_bot(rooms=(ROOM,))
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    bot.transport.send(ROOM, "!echo loop")
    assert alice.expect(lambda r: r.kind == "groupchat").text == "!echo loop"
    twin = Peer("bot@localhost", USERS["bot"], prosody.port)  # the bot's own account
    twin.start()
    try:
        twin.dm("bot@localhost/univac", "!echo from myself")
        twin.dm("alice@localhost", "sync")
        alice.expect(lambda r: r.text == "sync")
    finally:
        twin.stop()
    alice.say(ROOM, "marker")
    assert bot.next_message().text == "marker"


def test_identity_is_occupant_jid_when_room_hides_real_jids(xmpp_bot, xmpp_peer):
    room = f"hidden@{ANON_MUC}"
    alice = xmpp_peer("alice")
    alice.join(room, "alice")  # the first occupant owns the room; the bot is no moderator
    bot = xmpp_bot(rooms=(room,))
    bot.wait_joined(room)
    alice.say(room, "who am i")
    message = bot.next_message()
    assert message.identity == f"occupant:{room}/alice"
    alice.dm("bot@localhost", "and here")
    assert bot.next_message().identity == "jid:alice@localhost"


def test_long_reply_is_cut_with_a_continuation(xmpp_bot, xmpp_peer):
    bot = xmpp_bot(max_lines_per_reply=5)
    bot.wait_status(lambda s: s.state == "connected")
    alice = xmpp_peer("alice")
    bot.transport.send("alice@localhost", "\n".join(f"line {i}" for i in range(50)))
    lines = alice.expect(lambda r: r.kind == "chat").text.split("\n")
    assert lines[:4] == ["line 0", "line 1", "line 2", "line 3"]
    assert lines[4] == "[… 46 more lines not shown]" and len(lines) == 5


def test_clean_shutdown_leaves_rooms_with_goodbye(xmpp_bot, xmpp_peer):
    before = set(threading.enumerate())
    bot = xmpp_bot(rooms=(ROOM,))
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    bot.stop("see you")
    status = bot.transport.status()
    assert (status.state, status.targets) == ("stopped", ())

    def left() -> bool:
        while not alice.presences.empty():
            pr = alice.presences.get()
            if pr["from"].resource == "univac" and pr["type"] == "unavailable":
                return pr["status"] == "see you"
        return False
    wait_for(left, 5, "the bot's unavailable presence")
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("transport")]


def test_replies_from_many_threads_all_arrive_in_order(xmpp_bot, xmpp_peer):
    bot = xmpp_bot(rooms=(ROOM,))
    bot.wait_joined(ROOM)
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    threads, per_thread = 8, 40

    def reply(worker: int) -> None:
        for n in range(per_thread):
            target = ROOM if n % 2 == 0 else "alice@localhost"
            bot.transport.send(target, f"w{worker} n{n}")
    workers = [threading.Thread(target=reply, args=(w,), name=f"react:test.{w}")
               for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seen: dict[tuple[str, str], list[int]] = {}
    for _ in range(threads * per_thread):
        item = alice.expect(lambda r: r.text.startswith("w"))
        worker, n = item.text.split()
        seen.setdefault((item.kind, worker), []).append(int(n[1:]))
    for w in range(threads):
        assert seen[("groupchat", f"w{w}")] == list(range(0, per_thread, 2))
        assert seen[("chat", f"w{w}")] == list(range(1, per_thread, 2))
