"""IRC and XMPP in one ``univac`` process, against real ngircd and Prosody: the same
plugin answers on both networks, and one poller announces to a target on each."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.irc_servers import IrcUser
from tests.integration.xmpp_servers import MUC

pytestmark = pytest.mark.integration
ROOM = f"room@{MUC}"
UNIVAC = Path(sys.executable).parent / "univac"

ANNOUNCER = '''"""Test poller: an announcement to a target on each network, every second."""
from univac import Context, every


@every(1)
def announce(ctx: Context) -> None:
    ctx.say("irc:#test", "news for irc")
    ctx.say("xmpp:ROOM", "news for xmpp")
'''


def test_one_process_serves_irc_and_xmpp(tmp_path, ngircd, prosody, xmpp_peer):
    irc_server = ngircd()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "announcer.py").write_text(ANNOUNCER.replace("ROOM", ROOM))
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["echo"]
plugin_dirs = ["plugins"]
state_dir = "{tmp_path / 'state'}"

[[transports]]
type = "irc"
host = "127.0.0.1"
port = {irc_server.port}
tls = false
channels = ["#test"]
flood_rate = 0

[[transports]]
type = "xmpp"
jid = "bot@localhost"
password = "botpw"
host = "127.0.0.1"
port = {prosody.port}
tls_ca_file = "{prosody.cafile}"
rooms = ["{ROOM}"]
""")
    irc_user = IrcUser(irc_server.port, "alice")
    irc_user.join("#test")
    xmpp_user = xmpp_peer("alice")
    xmpp_user.join(ROOM, "alice")
    bot = subprocess.Popen([str(UNIVAC), "run", "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    try:
        irc_user.wait(lambda line: "PRIVMSG #test :news for irc" in line, timeout=15)
        xmpp_user.expect(lambda r: r.sender == "univac" and r.text == "news for xmpp",
                         timeout=15)

        irc_user.say("#test", "!echo over irc")
        line = irc_user.wait(lambda line: "PRIVMSG #test :over irc" in line)
        assert line.startswith(":univac!")
        xmpp_user.say(ROOM, "!echo over xmpp")
        xmpp_user.expect(lambda r: r.sender == "univac" and r.text == "over xmpp")

        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, (tmp_path / "log").read_text()
        irc_user.wait(lambda line: line.startswith(":univac!") and " QUIT " in line)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        irc_user.close()
    # Each answer went to its own network only.
    assert not [line for line in irc_user.lines if "over xmpp" in line]
    rest = [xmpp_user.inbox.get().text for _ in range(xmpp_user.inbox.qsize())]
    assert "over irc" not in rest
