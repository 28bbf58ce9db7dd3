"""The Matrix transport across a failover: two ``univac`` processes with ``[ha]`` on one
real PostgreSQL, logged in to a real Synapse as one account. The leader is killed
(``kill -9``: no clean release, no last save of the sync token); the standby takes
over, logs in as the same device (from the state store, not from a file: each instance
has a home of its own, as on two hosts) and syncs on from the token the dead leader
kept: no new device, nothing answered twice, and a command sent while
no instance was connected is not answered (it is history to the new leader)."""

from __future__ import annotations

import pytest

from tests.integration.ha_cluster import Instance
from tests.integration.matrix_servers import PASSWORD, MatrixPeer, Seen, unique

pytestmark = pytest.mark.integration


def write_config(folder, synapse, dsn: str, user: str, room: str):
    (folder / "dsn").write_text(dsn + "\n")
    (folder / "matrix-password").write_text(PASSWORD + "\n")
    path = folder / "univac.toml"
    path.write_text(f"""
[bot]
plugins = ["echo"]
state_dir = "state"
shutdown_timeout_s = 2

[store]
backend = "postgres"
dsn_file = "dsn"

[ha]
enabled = true
heartbeat_s = 0.2
lease_s = 1.0
step_down_s = 1.0
grace_s = 2.0

[[transports]]
type = "matrix"
homeserver = "{synapse.url}"
user_id = "@{user}:localhost"
password_file = "matrix-password"
rooms = ["{room}"]
reconnect_min_s = 0.2
reconnect_max_s = 2
""")
    return path


def host(folder):
    """Each instance as on a host of its own: its own home and default state folder (an
    earlier version's memory file would be there, and is not shared)."""
    folder.mkdir()
    return {"HOME": str(folder), "XDG_STATE_HOME": str(folder / "state"),
            "STATE_DIRECTORY": str(folder / "state" / "univac")}


class Replies:
    """Every notice the bot sends that a peer sees, and asking until one is answered."""

    def __init__(self, peer: MatrixPeer, bot: str, room: str) -> None:
        self.peer, self.bot, self.room = peer, bot, room
        self.bodies: list[str] = []

    def _seen(self, seen: Seen, wanted: str) -> bool:
        if seen.sender == self.bot:
            self.bodies.append(seen.body)
        return seen.sender == self.bot and seen.body == wanted

    def ask(self, text: str, attempts: int = 20) -> str:
        """``!echo <text> #n`` until one is answered (before the join, commands are
        history to the bot); the text answered."""
        for number in range(attempts):
            wanted = f"{text} #{number}"
            self.peer.say(self.room, f"!echo {wanted}")
            try:
                self.peer.expect(lambda s, w=wanted: self._seen(s, w), timeout=3)
                return wanted
            except AssertionError:
                continue
        raise AssertionError(f"no answer to {text!r} in {attempts} attempts")


def test_a_failover_neither_adds_a_device_nor_replays_history(tmp_path, synapse, postgres,
                                                              matrix_user):
    alice = matrix_user("alice")
    room = alice.create_room()
    user = unique("habot")
    synapse.register(user)
    bot_id = f"@{user}:localhost"
    config = write_config(tmp_path, synapse, postgres, user, room)
    replies = Replies(alice, bot_id, room)
    first = Instance(config, "first", host(tmp_path / "first"))
    second = None
    try:
        first.wait_log("leader: epoch 1")
        first.wait_log("connected to")
        before = replies.ask("before")
        second = Instance(config, "second", host(tmp_path / "second"))
        second.wait_log("standby: another instance leads")
        devices = synapse.devices(bot_id)  # registration's and the bot's
        assert len(devices) == 2

        first.kill()
        alice.say(room, "!echo while nobody is connected")
        second.wait_log("leader: epoch 2", timeout=60)
        kept = second.wait_log("(device ", timeout=60)
        after = replies.ask("after")
        assert kept and second.has_logged(", kept)") and not second.has_logged(", new)")
        assert synapse.devices(bot_id) == devices
        alice.say(room, "!echo marker")
        alice.expect(lambda s: replies._seen(s, "marker"), timeout=30)
        assert replies.bodies.count(before) == 1 and replies.bodies.count(after) == 1
        assert "while nobody is connected" not in replies.bodies
        assert len(replies.bodies) == len(set(replies.bodies))  # nothing answered twice
    finally:
        first.kill()
        if second is not None:
            assert second.terminate() == 0, second.tail()
    assert "Traceback" not in first.tail(200) and "Traceback" not in second.tail(200)
