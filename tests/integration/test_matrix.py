"""The Matrix transport against a real Synapse: login, rooms, threads, what it ignores."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import threading
import time

import pytest

from tests.integration.botprocess import univac_command
from tests.integration.matrix_servers import PASSWORD, MatrixPeer, unique
from tests.waiting import wait_for
from univac.engine.store import StoreEntry, open_store

pytestmark = pytest.mark.integration


def test_joins_by_alias_and_answers_with_a_notice(matrix_bot, matrix_user):
    alice = matrix_user("alice")
    alias = unique("ops")
    room = alice.create_room(alias=alias)
    bot = matrix_bot(rooms=(f"#{alias}:localhost",))
    status = bot.wait_joined(f"#{alias}:localhost", timeout=20)
    assert status.state == "connected" and status.last_inbound is not None

    alice.say(room, "!echo hi")
    message = bot.next_message(timeout=20)
    assert (message.transport, message.target, message.sender, message.text) == (
        "matrix", room, alice.user_id, "!echo hi")
    assert (message.private, message.identity) == (False, f"mxid:{alice.user_id}")
    reply = alice.expect(lambda s: s.sender == bot.user_id)
    assert (reply.room_id, reply.body, reply.content["msgtype"]) == (room, "hi", "m.notice")


def test_joins_by_id_and_answers_in_a_thread(matrix_bot, matrix_user):
    alice = matrix_user("alice")
    room = alice.create_room()
    bot = matrix_bot(rooms=(room,), display_name="Univac Bot")
    assert bot.wait_joined(room, timeout=20).nick == "Univac Bot"
    root = alice.say(room, "a question for the thread")
    message = bot.next_message(timeout=20)
    assert (message.target, message.private, message.bot_nick) == (room, False, "Univac Bot")

    alice.say(room, "!echo in the thread", thread=root)
    message = bot.next_message(timeout=20)
    assert (message.target, message.thread, message.channel) == (f"{room}/{root}", root, room)
    reply = alice.expect(lambda s: s.sender == bot.user_id)
    assert reply.body == "in the thread"
    relation = reply.content["m.relates_to"]
    assert (relation["rel_type"], relation["event_id"]) == ("m.thread", root)


def test_replies_wait_until_the_room_is_joined(matrix_bot, matrix_user):
    alice = matrix_user("alice")
    alias = unique("early")
    room = alice.create_room(alias=alias)
    bot = matrix_bot(rooms=(f"#{alias}:localhost",))
    bot.transport.send(f"#{alias}:localhost", "sent before the join")
    bot.transport.send(room, "and by id")
    replies = [alice.expect(lambda s: s.sender == bot.user_id).body for _ in range(2)]
    assert replies == ["sent before the join", "and by id"]


def test_a_burst_bigger_than_one_sync_is_read_in_full_and_in_order(matrix_bot, matrix_user):
    alice = matrix_user("alice")
    room = alice.create_room()
    delivered: list[str] = []
    resume = threading.Event()

    def deliver(message):  # runs on the transport's loop: blocking it stops the syncs
        delivered.append(message.text)
        if message.text == "hold":
            resume.wait(60)

    async def send_all() -> None:
        await asyncio.gather(*(alice.client.room_send(
            room, "m.room.message", {"msgtype": "m.text", "body": text}) for text in sent))

    bot = matrix_bot(rooms=(room,), deliver=deliver)
    bot.wait_joined(room, timeout=20)
    sent = [f"burst {n}" for n in range(150)]  # Synapse sends 100 at most per sync
    try:
        alice.say(room, "hold")
        wait_for(lambda: delivered == ["hold"], 20, "the first message")
        alice.call(send_all, timeout=60)
    finally:
        resume.set()
    wait_for(lambda: len(delivered) >= 151, 30, "every message of the burst")
    assert sorted(delivered[1:]) == sorted(sent) and len(delivered) == 151


def test_markdown_reply_has_a_formatted_body(matrix_bot, matrix_user):
    alice = matrix_user("alice")
    room = alice.create_room()
    bot = matrix_bot(rooms=(room,))
    bot.wait_joined(room, timeout=20)
    bot.transport.send(room, "**deployed** `v1.2` <now>")
    reply = alice.expect(lambda s: s.sender == bot.user_id)
    assert reply.body == "**deployed** `v1.2` <now>"
    assert reply.content["format"] == "org.matrix.custom.html"
    assert reply.content["formatted_body"] == (
        "<strong>deployed</strong> <code>v1.2</code> &lt;now&gt;")


def test_ignores_history_own_events_edits_and_other_bots(matrix_bot, matrix_user, synapse):
    alice = matrix_user("alice")
    room = alice.create_room()
    alice.say(room, "!echo before the bot came")
    bot = matrix_bot(rooms=(room,))
    bot.wait_joined(room, timeout=20)

    original = alice.say(room, "!echo one")
    assert bot.next_message(timeout=20).text == "!echo one"
    alice.edit(room, original, "!echo two")
    alice.notice(room, "!echo from another bot")
    twin = MatrixPeer(synapse, bot.user_id[1:].partition(":")[0]).start(register=False)
    try:
        twin.say(room, "!echo from the bot's own account")
    finally:
        twin.stop()
    alice.say(room, "marker")
    assert bot.next_message(timeout=20).text == "marker"
    assert bot.delivered.empty()


def test_restart_neither_replays_history_nor_adds_a_device(matrix_bot, matrix_user, synapse):
    alice = matrix_user("alice")
    room = alice.create_room()
    first = matrix_bot(rooms=(room,))
    first.wait_joined(room, timeout=20)
    alice.say(room, "!echo one")
    assert first.next_message(timeout=20).text == "!echo one"
    first.stop()
    saved = first.lent.stored()  # the state store, namespace transport:matrix
    assert saved["next_batch"] and saved["device_id"] and saved["access_token"]
    assert first.lent.masked == [saved["access_token"]]  # masked as soon as it was known
    devices = synapse.devices(first.user_id)  # registration's and the bot's
    assert saved["device_id"] in devices and len(devices) == 2

    alice.say(room, "!echo while the bot was away")
    second = matrix_bot(user=first.user_id[1:].partition(":")[0], rooms=(room,))
    second.wait_joined(room, timeout=20)
    alice.say(room, "!echo two")
    assert second.next_message(timeout=20).text == "!echo two"
    assert second.delivered.empty()
    assert synapse.devices(first.user_id) == devices


def test_an_earlier_version_s_memory_file_is_imported(matrix_bot, matrix_user, synapse,
                                                      tmp_path):
    alice = matrix_user("alice")
    room = alice.create_room()
    first = matrix_bot(rooms=(room,))
    first.wait_joined(room, timeout=20)
    first.stop()
    user = first.user_id[1:].partition(":")[0]
    former = tmp_path / "former.json"  # what the earlier version wrote
    former.write_text(json.dumps({"homeserver": synapse.url, "user_id": first.user_id,
                                  **first.lent.stored()}))
    devices = synapse.devices(first.user_id)

    alice.say(room, "!echo while the bot was away")
    second = matrix_bot(name="upgraded", user=user, rooms=(room,), state_file=str(former))
    second.wait_joined(room, timeout=20)
    alice.say(room, "!echo after the upgrade")
    assert second.next_message(timeout=20).text == "!echo after the upgrade"
    assert second.delivered.empty()
    assert synapse.devices(first.user_id) == devices  # the file's device, not a new one
    assert not former.exists() and list(tmp_path.glob("former.json.imported-*"))
    assert second.lent.stored()["device_id"] == first.lent.stored()["device_id"]


def test_access_token_login(matrix_bot, matrix_user, synapse):
    alice = matrix_user("alice")
    room = alice.create_room()
    user = unique("tokenbot")
    account = synapse.register(user)
    bot = matrix_bot(user=user, rooms=(room,), password="",
                     access_token=account["access_token"])
    bot.wait_joined(room, timeout=20)
    alice.say(room, "!echo with a token")
    assert alice.expect(lambda s: s.sender == bot.user_id).body == "with a token"
    assert synapse.devices(bot.user_id) == [account["device_id"]]  # no login, no new device


def test_wrong_password_is_reported(matrix_bot):
    bot = matrix_bot(password="wrong")
    status = bot.wait_status(lambda s: "login refused" in s.detail, timeout=20)
    assert status.state != "connected" and "M_FORBIDDEN" in status.detail


def test_invites_accepted_from_allowed_users_only(matrix_bot, matrix_user, synapse):
    alice, mallory = matrix_user("alice"), matrix_user("mallory")
    bot = matrix_bot(invite_from=(f"{alice.user_id}",))
    bot.wait_status(lambda s: s.state == "connected", timeout=20)

    direct = alice.create_room(invite=(bot.user_id,), direct=True)
    bot.wait_joined(direct, timeout=20)
    alice.say(direct, "echo no prefix needed here")
    message = bot.next_message(timeout=20)
    assert (message.private, message.target) == (True, direct)

    other = mallory.create_room(invite=(bot.user_id,))
    wait_for(lambda: membership(synapse, mallory, other, bot.user_id) == "leave", 20,
             "the refused invite")
    assert other not in bot.transport.status().targets


def test_encrypted_rooms_are_refused_with_a_log_line(matrix_bot, matrix_user, synapse, caplog):
    alice = matrix_user("alice")
    configured = alice.create_room(encrypted=True)
    with caplog.at_level(logging.INFO, logger="univac.transports.matrix"):
        bot = matrix_bot(rooms=(configured,), invite_from=("@*:localhost",))
        bot.wait_status(lambda s: "encrypted" in s.detail, timeout=20)
        invited = alice.create_room(invite=(bot.user_id,), encrypted=True)
        wait_for(lambda: any(invited in r.getMessage() for r in caplog.records
                             if r.levelno == logging.ERROR), 20, "the refused invite")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert f"matrix: refused to join {configured}: the room is end-to-end encrypted, which " \
        "this transport does not support" in errors
    assert f"matrix: refused the invite of {alice.user_id} into {invited}: the room is " \
        "end-to-end encrypted, which this transport does not support" in errors
    wait_for(lambda: membership(synapse, alice, invited, bot.user_id) == "leave", 20,
             "the rejected invite")
    assert membership(synapse, alice, configured, bot.user_id) == ""  # never joined
    assert bot.transport.status().targets == ()


def test_a_room_that_becomes_encrypted_is_left(matrix_bot, matrix_user, caplog):
    alice = matrix_user("alice")
    room = alice.create_room()
    bot = matrix_bot(rooms=(room,))
    bot.wait_joined(room, timeout=20)
    with caplog.at_level(logging.ERROR, logger="univac.transports.matrix"):
        alice.call(lambda: alice.client.room_put_state(
            room, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}))
        bot.wait_status(lambda s: room not in s.targets, timeout=20)
    wait_for(lambda: bot.user_id not in alice.members(room), 20, "the bot leaving")
    assert any(room in r.getMessage() and "is end-to-end encrypted" in r.getMessage()
               for r in caplog.records)


def test_homeserver_restart_mid_session(matrix_bot, matrix_user, synapse):
    alice = matrix_user("alice")
    room = alice.create_room()
    bot = matrix_bot(rooms=(room,))
    bot.wait_joined(room, timeout=20)
    alice.say(room, "!echo before")
    assert alice.expect(lambda s: s.sender == bot.user_id).body == "before"

    synapse.stop()
    bot.wait_status(lambda s: s.state == "disconnected", timeout=60)
    synapse.start()
    status = bot.wait_status(lambda s: s.state == "connected" and s.reconnects >= 1,
                             timeout=60)
    assert room in status.targets
    alice.say(room, "!echo after")
    assert alice.expect(lambda s: s.sender == bot.user_id, timeout=30).body == "after"


def test_rate_limit_answers_are_waited_out(matrix_bot, matrix_user, synapse, caplog):
    alice = matrix_user("alice")
    room = alice.create_room()
    bot = matrix_bot(rooms=(room,))
    bot.wait_joined(room, timeout=20)
    synapse.limit_messages(bot.user_id, per_second=1, burst=1)
    with caplog.at_level(logging.WARNING, logger="univac.transports.matrix"):
        for n in range(4):
            bot.transport.send(room, f"reply {n}")
        replies = [alice.expect(lambda s: s.sender == bot.user_id, timeout=30).body
                   for _ in range(4)]
    assert replies == [f"reply {n}" for n in range(4)]  # none lost, in order
    assert re.search(r"rate-limited by the homeserver [1-9]\d* times",
                     bot.transport.status().detail)
    warnings = [r.getMessage() for r in caplog.records if "M_LIMIT_EXCEEDED" in r.getMessage()]
    assert len(warnings) == 1  # one line per minute, however often it happens


def membership(synapse, peer, room: str, user_id: str) -> str:
    path = f"/_matrix/client/v3/rooms/{room}/state/m.room.member/{user_id}"
    try:
        return synapse.call("GET", path, token=peer.client.access_token)["membership"]
    except OSError:  # HTTP 404: no membership at all
        return ""


def test_univac_run_keeps_the_access_token_out_of_a_debug_log(tmp_path, matrix_user, synapse):
    alice = matrix_user("alice")
    room = alice.create_room()
    user = unique("bot")
    synapse.register(user)
    (tmp_path / "matrix-password").write_text(PASSWORD + "\n")
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["echo"]
state_dir = "{tmp_path / 'state'}"
log_level = "DEBUG"

[[transports]]
type = "matrix"
homeserver = "{synapse.url}"
user_id = "@{user}:localhost"
password_file = "matrix-password"
rooms = ["{room}"]
state_file = "{tmp_path / 'none.json'}"
""")
    log = tmp_path / "log"
    bot = subprocess.Popen([*univac_command(), "run", "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_for(lambda: "connected to" in log.read_text(), 60, "the bot's login")
        ask_until_answered(alice, room, "!echo over matrix")
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    store = open_store(StoreEntry(), tmp_path / "state")
    try:
        token = json.loads(store.load("transport:matrix")["access_token"])
    finally:
        store.close()
    text = log.read_text()
    assert token and token not in text and PASSWORD not in text
    assert "transports[0].state_file: deprecated" in text
    assert "Traceback" not in text


def ask_until_answered(peer: MatrixPeer, room: str, text: str, timeout: float = 60.0) -> None:
    """Say ``text`` every few seconds until the answer comes (what is said before the bot
    has joined the room is history to it, and never answered)."""
    deadline = time.monotonic() + timeout
    wanted = text.removeprefix("!echo ")
    while True:
        peer.say(room, text)
        try:
            peer.expect(lambda s: s.body == wanted, timeout=3)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
