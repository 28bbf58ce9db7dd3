"""Access control end to end on a real XMPP server: roles follow the JID, never the nick."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.xmpp_servers import MUC
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
ROOM = f"ops@{MUC}"
UNIVAC = Path(sys.executable).parent / "univac"
PLUGIN = '''"""A privileged command."""
from univac import Context, command


@command(requires="ops")
def restart(ctx: Context, service: str) -> str:
    """Restart a service."""
    return f"restarted {service}"
'''


def test_the_ops_role_follows_the_jid_not_the_room_nick(tmp_path, prosody, xmpp_peer):
    (tmp_path / "ops.py").write_text(PLUGIN)
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["ops.py"]
state_dir = "state"

[roles.ops]
xmpp = ["jid:alice@localhost"]

[[transports]]
type = "xmpp"
jid = "bot@localhost"
password = "botpw"
host = "127.0.0.1"
port = {prosody.port}
tls_ca_file = "{prosody.cafile}"
rooms = ["{ROOM}"]
""")
    impostor = xmpp_peer("bob")
    impostor.join(ROOM, "alice")
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice-real")
    bot = subprocess.Popen([str(UNIVAC), "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    try:
        wait_for(lambda: _joined(alice), 20, "the bot joining the room")
        impostor.say(ROOM, "!restart web")
        assert impostor.expect(lambda r: r.sender == "univac").text == (
            "You need the 'ops' role for restart.")
        alice.say(ROOM, "!restart db")
        assert alice.expect(lambda r: r.sender == "univac" and "db" in r.text).text == (
            "restarted db")
        alice.dm("bot@localhost", "restart cache")
        assert alice.expect(lambda r: r.kind == "chat").text == "restarted cache"
        impostor.dm("bot@localhost", "restart cache")
        assert impostor.expect(lambda r: r.kind == "chat").text == (
            "You need the 'ops' role for restart.")
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, (tmp_path / "log").read_text()
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    assert '"identity": "jid:alice@localhost"' in audit
    assert '"outcome": "refused"' in audit


def _joined(peer) -> bool:
    while not peer.presences.empty():
        presence = peer.presences.get()
        if presence["from"].resource == "univac" and presence["type"] != "unavailable":
            return True
    return False
