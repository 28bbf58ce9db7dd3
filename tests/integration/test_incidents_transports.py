"""The incidents plugin in the real ``univac`` process on the console and on XMPP (a real
Prosody and a second real client): the same commands, roles and privacy as on IRC."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.botprocess import BotProcess
from tests.integration.xmpp_servers import MUC

pytestmark = pytest.mark.integration
ROOM = f"room@{MUC}"
UNIVAC = Path(sys.executable).parent / "univac"
INCIDENTS = """
[plugins.incidents]
writers = "sre"
folder = "incidents"
"""


def test_incidents_on_the_console(tmp_path: Path) -> None:
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["incidents"]
state_dir = "state"

[roles.sre]
console = ["console:operator"]
{INCIDENTS}
[[transports]]
type = "console"
user = "operator"
""")
    bot = BotProcess("--config", str(config), cwd=tmp_path)
    bot.send("!inc create --sev P1 --service db Replica lag on db2")
    (created,) = bot.expect()
    assert created.startswith("Created inc_") and ": P1 db (prod). Document: " in created
    incident = created.split()[1]
    bot.send("#ops !inc list")
    assert bot.expect() == ["[#ops] 1 open incident(s); for details ask me in a private "
                            "message."]
    bot.send("inc log 1 promoted db3")
    assert bot.expect() == [f"Logged on {incident}."]
    bot.send("!inc list")
    (listed,) = bot.expect()
    assert listed.startswith(f"#1 {incident} P1 db open, no coordinator, ")
    assert bot.finish() == 0
    assert incident in (tmp_path / "incidents" / "incidents.jsonl").read_text()


def bot_joined(peer, timeout: float = 30.0) -> None:
    """Wait until ``peer`` sees the bot's presence in the room."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            presence = peer.presences.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the bot did not join {ROOM} in {timeout} s") from None
        if presence["muc"]["nick"] == "univac":
            return


def test_incidents_on_xmpp(tmp_path: Path, prosody, xmpp_peer) -> None:
    (tmp_path / "bot-password").write_text("botpw\n")
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["incidents"]
state_dir = "state"

[roles.sre]
xmpp = ["jid:alice@localhost", "occupant:{ROOM}/alice"]
{INCIDENTS}
[[transports]]
type = "xmpp"
jid = "bot@localhost"
password_file = "bot-password"
host = "127.0.0.1"
port = {prosody.port}
tls_ca_file = "{prosody.cafile}"
rooms = ["{ROOM}"]
""")
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    bob = xmpp_peer("bob")
    bot = subprocess.Popen([str(UNIVAC), "run", "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    try:
        bot_joined(alice)
        alice.dm("bot@localhost", "!inc create --service mail Outbound mail queued")
        created = alice.expect(lambda r: r.kind == "chat", timeout=30).text
        assert created.startswith("Created inc_") and "mail (prod)" in created
        incident = created.split()[1]
        alice.say(ROOM, "!inc list")
        said = alice.expect(lambda r: r.kind == "groupchat" and r.sender == "univac", 15).text
        assert said == "1 open incident(s); for details ask me in a private message."
        alice.dm("bot@localhost", "!inc show 1")
        shown = alice.expect(lambda r: r.kind == "chat", 15).text
        assert shown.split("\n")[0].startswith(f"#1 {incident} P2 mail open")
        bob.dm("bot@localhost", "!inc list")
        assert bob.expect(lambda r: r.kind == "chat", 15).text == \
            "You need the 'sre' role to list incidents."
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, (tmp_path / "log").read_text()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait(15)
