"""End to end: ``univac run`` with an XMPP transport, against a real Prosody and a real
second client: a command in a room and in a DM gets its answer, a poller announces to the
room, and SIGTERM leaves the room with the goodbye and exits 0; a killed server is
logged (the drop, the failed attempts, the way back) without tracebacks or asyncio
noise."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.xmpp_servers import MUC
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
ROOM = f"room@{MUC}"
UNIVAC = Path(sys.executable).parent / "univac"

ANNOUNCER = '''"""Test poller: announce to the XMPP room."""
from univac import Context, every


@every(0.5)
def announce(ctx: Context) -> None:
    ctx.say("xmpp:ROOM", "announcement")
'''


def write_config(tmp_path: Path, prosody, bot: str = "", xmpp: str = "") -> Path:
    """A config for ``univac run`` with the echo plugin and the XMPP transport logged in
    as bot@localhost to ``prosody``, plus the ``bot`` and ``xmpp`` lines given."""
    (tmp_path / "bot-password").write_text("botpw\n")
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["echo"]
state_dir = "{tmp_path / 'state'}"
{bot}

[[transports]]
type = "xmpp"
jid = "bot@localhost"
password_file = "bot-password"
host = "127.0.0.1"
port = {prosody.port}
tls_ca_file = "{prosody.cafile}"
rooms = ["{ROOM}"]
{xmpp}
""")
    return config


def test_univac_answers_on_xmpp_and_a_poller_announces(tmp_path, prosody, xmpp_peer):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "announcer.py").write_text(ANNOUNCER.replace("ROOM", ROOM))
    config = write_config(tmp_path, prosody, bot='plugin_dirs = ["plugins"]\n'
                                                 'goodbye = "off I go"')
    check = subprocess.run([str(UNIVAC), "check", "--config", str(config)],
                           capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    alice = xmpp_peer("alice")
    alice.join(ROOM, "alice")
    bot = subprocess.Popen([str(UNIVAC), "run", "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    try:
        assert alice.expect(lambda r: r.sender == "univac").text == "announcement"
        alice.say(ROOM, "!echo hi")
        assert alice.expect(lambda r: r.sender == "univac" and r.text != "announcement",
                            ).text == "hi"
        alice.dm("bot@localhost", "!echo hi in private")
        reply = alice.expect(lambda r: r.kind == "chat")
        assert (reply.sender, reply.text) == ("bot@localhost", "hi in private")
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, (tmp_path / "log").read_text()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()

    def left_with_goodbye() -> bool:
        while not alice.presences.empty():
            pr = alice.presences.get()
            if pr["from"].resource == "univac" and pr["type"] == "unavailable":
                return pr["status"] == "off I go"
        return False
    wait_for(left_with_goodbye, 5, "the bot leaving with its goodbye")


def test_univac_logs_a_killed_server_and_its_return_without_noise(tmp_path, prosody):
    config = write_config(tmp_path, prosody, xmpp="self_ping_interval_s = 0.1\n"
                                                  "reconnect_min_s = 0.1\n"
                                                  "reconnect_max_s = 0.2")
    log = tmp_path / "log"
    bot = subprocess.Popen([str(UNIVAC), "run", "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_for(lambda: "joined as univac" in log.read_text(), 15, "the bot in the room")
        prosody.stop(graceful=False)
        wait_for(lambda: "Connect call failed" in log.read_text(), 15, "a refused attempt")
        prosody.start()
        wait_for(lambda: "failed attempt" in log.read_text(), 15, "the bot back")
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, log.read_text()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    text = log.read_text()
    assert "WARNING [transport:xmpp] univac.transports.xmpp: xmpp: link lost: " in text, text
    for noise in ("Traceback", " ERROR ", "Task was destroyed", "connection_lost"):
        assert noise not in text, text
