"""IRC and Matrix in one ``univac`` process, against real ngircd and Synapse: the same
plugin answers on both networks, and one poller announces to a target on each."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.irc_servers import IrcUser
from tests.integration.matrix_servers import PASSWORD, unique

pytestmark = pytest.mark.integration
UNIVAC = Path(sys.executable).parent / "univac"

ANNOUNCER = '''"""Test poller: an announcement to a target on each network, every second."""
from univac import Context, every


@every(1)
def announce(ctx: Context) -> None:
    ctx.say("irc:#test", "news for irc")
    ctx.say("matrix:ROOM", "news for matrix")
'''


def test_one_process_serves_irc_and_matrix(tmp_path, ngircd, synapse, matrix_user):
    irc_server = ngircd()
    alice = matrix_user("alice")
    alias = f"#{unique('news')}:localhost"
    room = alice.create_room(alias=alias[1:].partition(":")[0])
    bot_user = unique("bot")
    synapse.register(bot_user)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "announcer.py").write_text(ANNOUNCER.replace("ROOM", alias))
    (tmp_path / "matrix-password").write_text(PASSWORD + "\n")
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
type = "matrix"
homeserver = "{synapse.url}"
user_id = "@{bot_user}:localhost"
password_file = "matrix-password"
rooms = ["{alias}"]
state_file = "{tmp_path / 'state' / 'matrix.json'}"
""")
    irc_user = IrcUser(irc_server.port, "alice")
    irc_user.join("#test")
    bot = subprocess.Popen([str(UNIVAC), "run", "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    bot_id = f"@{bot_user}:localhost"
    try:
        irc_user.wait(lambda line: "PRIVMSG #test :news for irc" in line, timeout=30)
        news = alice.expect(lambda s: s.sender == bot_id, timeout=30)
        assert (news.room_id, news.body, news.content["msgtype"]) == (
            room, "news for matrix", "m.notice")

        irc_user.say("#test", "!echo over irc")
        line = irc_user.wait(lambda line: "PRIVMSG #test :over irc" in line)
        assert line.startswith(":univac!")
        alice.say(room, "!echo over matrix")
        alice.expect(lambda s: s.sender == bot_id and s.body == "over matrix", timeout=20)

        bot.send_signal(signal.SIGTERM)
        assert bot.wait(20) == 0, (tmp_path / "log").read_text()
        irc_user.wait(lambda line: line.startswith(":univac!") and " QUIT " in line)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        irc_user.close()
    assert not [line for line in irc_user.lines if "over matrix" in line]
    rest = [alice.inbox.get().body for _ in range(alice.inbox.qsize())]
    assert "over irc" not in rest
    log = (tmp_path / "log").read_text()
    assert PASSWORD not in log and "Traceback" not in log
