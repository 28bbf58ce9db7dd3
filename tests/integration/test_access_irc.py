"""Access control end to end on a real IRC server with services (InspIRCd + Anope):
the ops role follows the services account, never the nick."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.irc_servers import IrcUser

pytestmark = pytest.mark.integration
UNIVAC = Path(sys.executable).parent / "univac"
REFUSED = "You need the 'ops' role for restart."
PLUGIN = '''"""A privileged command."""
from univac import Context, command


@command(requires="ops")
def restart(ctx: Context, service: str) -> str:
    """Restart a service."""
    return f"restarted {service}"
'''


def test_the_ops_role_follows_the_account_not_the_nick(inspircd, tmp_path):
    (tmp_path / "ops.py").write_text(PLUGIN)
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["ops.py"]
state_dir = "state"

[roles.ops]
irc = ["account:alice"]

[[transports]]
type = "irc"
host = "127.0.0.1"
port = {inspircd.port}
tls = false
nick = "opsbot"
channels = ["#ops"]
""")
    bot = subprocess.Popen([str(UNIVAC), "--config", str(config)], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    users: list[IrcUser] = []
    try:
        impostor = IrcUser(inspircd.port, "alice")
        users.append(impostor)
        impostor.join("#ops")
        if not any(" 353 " in line and "opsbot" in line for line in impostor.lines):
            impostor.wait(lambda line: "JOIN" in line and line.startswith(":opsbot!"), 30)
        impostor.say("#ops", "!restart web")
        assert REFUSED in impostor.wait(lambda line: "PRIVMSG #ops :" in line, 15)
        impostor.close()
        alice = IrcUser(inspircd.port, "alice2", caps=("account-tag", "extended-join"),
                        sasl=("alice", "alicepw"))
        users.append(alice)
        alice.join("#ops")
        alice.say("#ops", "!restart db")
        assert "restarted db" in alice.wait(lambda line: "PRIVMSG #ops :" in line, 15)
        alice.say("opsbot", "restart cache")
        assert "restarted cache" in alice.wait(lambda line: "PRIVMSG alice2 :" in line, 15)
    finally:
        for user in users:
            user.close()
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, (tmp_path / "log").read_text()
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    assert '"identity": "account:alice"' in audit
    assert '"outcome": "refused"' in audit
