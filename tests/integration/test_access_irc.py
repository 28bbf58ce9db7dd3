"""Access control end to end on a real IRC server with services (InspIRCd + Anope):
the ops role follows the services account, never the nick."""

from __future__ import annotations

import json
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


class OpsBot:
    """``univac`` with the privileged ``restart`` command, ``ops`` = account alice, in
    ``channel``; ``lookout`` (the channel's op) was there first and saw the bot join."""

    def __init__(self, tmp_path: Path, port: int, nick: str, channel: str) -> None:
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
port = {port}
tls = false
nick = "{nick}"
channels = ["{channel}"]
""")
        self.nick, self.dir, self.users = nick, tmp_path, []
        self.lookout = self.user(port, "lookout")
        self.lookout.join(channel)
        self.process = subprocess.Popen([str(UNIVAC), "--config", str(config)], cwd=tmp_path,
                                        stdout=subprocess.DEVNULL,
                                        stderr=(tmp_path / "log").open("w"))  # fmt: skip
        self.lookout.wait(lambda line: line.startswith(f":{nick}!") and " JOIN " in line, 30)

    def user(self, port: int, nick: str, **options) -> IrcUser:
        user = IrcUser(port, nick, **options)
        self.users.append(user)
        return user

    def ask(self, user: IrcUser, text: str) -> str:
        """Send the bot a private command; its private answer."""
        user.say(self.nick, text)
        return user.wait(lambda line: f"PRIVMSG {user.nick} :" in line, 15).split(" :", 1)[1]

    def stop(self) -> list[dict]:
        """Hang up every user, stop the bot; its audit records."""
        for user in self.users:
            user.close()
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(15) == 0, (self.dir / "log").read_text()
        audit = (self.dir / "state" / "audit.jsonl").read_text()
        return [json.loads(line) for line in audit.splitlines()]


def test_the_ops_role_follows_the_account_not_the_nick(inspircd, tmp_path):
    bot = OpsBot(tmp_path, inspircd.port, "opsbot", "#ops")
    try:
        impostor = bot.user(inspircd.port, "alice")
        impostor.join("#ops")
        impostor.say("#ops", "!restart web")
        assert REFUSED in impostor.wait(lambda line: "PRIVMSG #ops :" in line, 15)
        impostor.close()
        alice = bot.user(inspircd.port, "alice2", caps=("account-tag", "extended-join"),
                         sasl=("alice", "alicepw"))  # fmt: skip
        alice.join("#ops")
        alice.say("#ops", "!restart db")
        assert "restarted db" in alice.wait(lambda line: "PRIVMSG #ops :" in line, 15)
        assert bot.ask(alice, "restart cache") == "restarted cache"
    finally:
        records = bot.stop()
    done = [(r["identity"], r["arguments"]) for r in records if r["outcome"] == "done"]
    assert done == [("account:alice", "db"), ("account:alice", "cache")]
    assert [r["identity"] for r in records if r["outcome"] == "refused"] == [
        "mask:alice!alice@127.0.0.1"
    ]


# A stale account never vouches for the next holder of a nick ---------------------------
#
# alice (SASL account ``alice``, role ``ops``) is seen by the bot, then leaves its sight
# (part, kick, or a nick change after parting); an impostor takes the nick ``alice``
# without an account and asks the bot in private for a command that needs ``ops``. On a
# server with ``account-tag`` (the tag alone decides) and on one without it (the bot may
# only trust what it learnt while it shares a channel with the nick).


@pytest.fixture(params=["account-tag", "no-account-tag"])
def services(request: pytest.FixtureRequest):
    """InspIRCd + Anope, with and without ``account-tag``."""
    name = "inspircd" if request.param == "account-tag" else "inspircd_without_account_tag"
    return request.getfixturevalue(name)


def quit_and_wait(user: IrcUser) -> None:
    """QUIT and wait for the server's ERROR: the nick is free afterwards."""
    user.raw("QUIT :gone")
    user.wait(lambda line: line.startswith("ERROR"))


def impostor_is_refused(bot: OpsBot, port: int) -> None:
    impostor = bot.user(port, "alice")
    assert bot.ask(impostor, "restart everything") == REFUSED


def only_alice_ran_commands(records: list[dict]) -> None:
    done = [(r["identity"], r["arguments"]) for r in records if r["outcome"] == "done"]
    assert done == [("account:alice", "db")]
    refused = [r["identity"] for r in records if r["outcome"] == "refused"]
    assert refused and all(identity.startswith("mask:alice!") for identity in refused)


def part_then_quit(bot: OpsBot, alice: IrcUser) -> None:
    """The sequence from the probe: part, then quit out of the bot's sight."""
    alice.raw("PART #ops")
    alice.wait(lambda line: " PART " in line)
    quit_and_wait(alice)


def kicked_then_quit(bot: OpsBot, alice: IrcUser) -> None:
    bot.lookout.raw("KICK #ops alice :out")
    alice.wait(lambda line: " KICK #ops alice " in line)
    quit_and_wait(alice)


def part_then_unseen_nick_change(bot: OpsBot, alice: IrcUser) -> None:
    """alice stays online under another nick: no QUIT at all frees ``alice``."""
    alice.raw("PART #ops")
    alice.wait(lambda line: " PART " in line)
    alice.raw("NICK alice_away")
    alice.wait(lambda line: " NICK " in line and "alice_away" in line)


@pytest.mark.parametrize("leave", [part_then_quit, kicked_then_quit,
                                   part_then_unseen_nick_change])  # fmt: skip
def test_a_stale_account_vouches_for_nobody(services, tmp_path, leave):
    """alice joins after the bot (it sees her account), leaves its sight; the impostor's
    private command is refused and audited under the impostor's mask."""
    bot = OpsBot(tmp_path, services.port, "gatebot", "#ops")
    try:
        alice = bot.user(services.port, "alice", sasl=("alice", "alicepw"))
        alice.join("#ops")
        assert bot.ask(alice, "restart db") == "restarted db"
        leave(bot, alice)
        impostor_is_refused(bot, services.port)
    finally:
        records = bot.stop()
    only_alice_ran_commands(records)
