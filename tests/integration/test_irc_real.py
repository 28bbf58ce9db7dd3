"""The IRC transport against REAL servers: ngircd (plain RFC) and InspIRCd + Anope."""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time

import pytest

from tests.integration.irc_servers import IrcUser
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def joined(bot, channel: str, timeout: float = 10.0) -> None:
    wait_for(lambda: channel in bot.transport.status().targets, timeout, f"bot in {channel}")


def test_ngircd_join_and_answer_a_command(ngircd, irc_bot):
    server = ngircd()
    bot = irc_bot(server.port, channels=("#test",), echo=True, flood_rate=0)
    joined(bot, "#test")
    user = IrcUser(server.port, "alice")
    user.join("#test")
    user.say("#test", "!echo hi there")
    line = user.wait(lambda line: "PRIVMSG #test :hi there" in line)
    assert line.startswith(":univac!")
    message = bot.message()
    assert message.identity.startswith("mask:alice!") and message.sender == "alice"
    user.say("univac", "!echo private")
    user.wait(lambda line: "PRIVMSG alice :private" in line)
    user.close()


def test_ngircd_tls_pinned_self_signed(ngircd, irc_bot, irc_tls):
    server = ngircd()
    with open(irc_tls.cert) as handle:
        pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()
    bot = irc_bot(server.tls_port, tls=True, tls_fingerprint=pin, channels=("#tls",))
    joined(bot, "#tls")
    assert bot.transport.status().state == "connected"


def test_ngircd_killed_and_restarted_bot_rejoins(ngircd, irc_bot):
    server = ngircd()
    bot = irc_bot(server.port, channels=("#a", "#b key"), echo=True)
    joined(bot, "#b")
    assert bot.transport.status().reconnects == 0
    server.kill()
    wait_for(lambda: bot.transport.status().state != "connected", 5, "drop noticed")
    server.start()
    wait_for(lambda: bot.transport.status().targets == ("#a", "#b"), 10, "rejoined")
    assert bot.transport.status().reconnects == 1
    user = IrcUser(server.port, "bob")
    user.join("#a")
    user.say("#a", "!echo back")
    user.wait(lambda line: "PRIVMSG #a :back" in line)
    user.close()


def test_ngircd_nick_collision_and_regain(ngircd, irc_bot):
    server = ngircd()
    holder = IrcUser(server.port, "univac")
    bot = irc_bot(server.port, nick_regain_s=0.5)
    wait_for(lambda: bot.transport.status().state == "connected", 5, "connected")
    assert bot.transport.status().nick != "univac"
    holder.close()
    wait_for(lambda: bot.transport.status().nick == "univac", 5, "nick regained")


def test_inspircd_sasl_account_tag_seen(inspircd, irc_bot):
    bot = irc_bot(inspircd.port, nick="univacbot", channels=("#v3",), echo_message=True,
                  sasl_mechanism="PLAIN", sasl_password="botpw")  # fmt: skip
    box: list[IrcUser] = []
    threading.Thread(
        target=lambda: box.append(IrcUser(inspircd.port, "alice", sasl=("alice", "alicepw")))
    ).start()  # InspIRCd registers clients once a second: connect both in parallel
    joined(bot, "#v3", timeout=15)
    user = wait_for(lambda: box and box[0], 15, "alice registered")
    user.join("#v3")
    user.say("#v3", "hello with an account")
    message = bot.message(timeout=10)
    assert message.text == "hello with an account"
    assert message.identity == "account:alice"
    bot.transport.send("#v3", "!echo my own words come back by echo-message")
    user.wait(lambda line: "my own words" in line and line.startswith(("@", ":univacbot!")))
    bot.no_message(0.5)  # the echoed line is never delivered
    user.close()


def connect_users(port: int, nicks: list[str]) -> list[IrcUser]:
    users: dict[str, IrcUser] = {}
    threads = [threading.Thread(target=lambda n=n: users.__setitem__(n, IrcUser(port, n)))
               for n in nicks]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return [users[n] for n in nicks]


def test_inspircd_default_flood_limits_500_command_burst(inspircd, irc_bot):
    """The bot stays on a server with default flood limits under a 500-command burst,
    answers it in order without losing a line, and a second user's command is not stuck
    behind the flood. Control: the same server disconnects an unpaced client that writes
    500 lines at once.

    All 500 answers are waited for in the slow test below. InspIRCd's default connect
    class (``strict_port`` sets no limits: threshold 10, commandrate 1000 = one line per
    second, fakelag) lets any client send 10 lines at once and then one per second, so
    500 replies take at least ~490 s (measured: 498 s, every reply, no disconnect).
    The bot keeps its defaults, ``flood_burst = 8`` (2 below the threshold: registration,
    PONG and keepalive lines skip the bucket, and the server may count them) and
    ``flood_rate = 1.0`` (the server's rate; with fakelag a line that comes early waits
    in the server's recvq, it is not fatal); ``max_queued_lines`` is raised because the
    default 200 would drop about 300 of the 500 replies."""
    paced = irc_bot(inspircd.strict_port, nick="pacedbot", channels=("#flood",), echo=True,
                    max_queued_lines=1000)  # default flood_burst/flood_rate  # fmt: skip
    reckless = irc_bot(inspircd.strict_port, nick="recklessbot", channels=("#flood",),
                       flood_rate=0, max_queued_lines=1000)  # fmt: skip
    # the users' port has no flood limits: the flooder is not thrown out for its burst
    flooder, other = connect_users(inspircd.port, ["flooder", "other"])
    joined(paced, "#flood", 15)
    joined(reckless, "#flood", 15)
    flooder.join("#flood")
    flooder.sock.sendall(b"".join(f"PRIVMSG #flood :!echo c{i}\r\n".encode() for i in range(500)))
    flooder.wait(lambda line: line.startswith(":pacedbot!") and ":c2" in line, 10)
    other.say("pacedbot", "!echo me too")
    other.wait(lambda line: "PRIVMSG other :me too" in line, 2.5)
    reckless.transport.send("#flood", "\n".join(f"unpaced line {i:03d}" for i in range(500)))
    quit_line = flooder.wait(lambda line: line.startswith(":recklessbot!") and " QUIT " in line)
    assert "recvq" in quit_line.lower() or "flood" in quit_line.lower(), quit_line
    flooder.wait(lambda line: line.startswith(":pacedbot!") and line.endswith(" :c9"), 10)
    replies = [line.split(" :", 1)[1] for line in flooder.lines
               if line.startswith(":pacedbot!") and " PRIVMSG #flood :" in line]  # fmt: skip
    assert replies == [f"c{i}" for i in range(10)]  # in order, none lost or repeated
    assert not any(line.startswith(":pacedbot!") and " QUIT " in line for line in flooder.lines)
    assert paced.transport.status().state == "connected"
    assert paced.transport.status().reconnects == 0
    flooder.close()
    other.close()


@pytest.mark.slow
def test_inspircd_default_flood_limits_all_500_commands_answered(inspircd, irc_bot):
    """Every one of 500 commands sent at once is answered, once, under InspIRCd's default
    flood limits, and the bot is never disconnected. At one line per second this takes
    about 8 minutes; ``make test`` runs the slow tests alongside the others."""
    bot = irc_bot(inspircd.strict_port, nick="pacedbot", channels=("#flood",), echo=True,
                  max_queued_lines=1000)  # default flood_burst/flood_rate  # fmt: skip
    flooder = IrcUser(inspircd.port, "flooder")
    joined(bot, "#flood", 15)
    flooder.join("#flood")
    flooder.sock.sendall(b"".join(f"PRIVMSG #flood :!echo {i}\r\n".encode() for i in range(500)))
    replies: list[str] = []

    def answered_or_gone(line: str) -> bool:
        if line.startswith(":pacedbot!") and " PRIVMSG #flood :" in line:
            replies.append(line.split(" :", 1)[1])
        return len(replies) == 500 or (line.startswith(":pacedbot!") and " QUIT " in line)

    flooder.wait(answered_or_gone, 700)
    assert sorted(replies, key=int) == [str(i) for i in range(500)]  # all, none repeated
    status = bot.transport.status()
    assert (status.state, status.reconnects) == ("connected", 0)
    flooder.close()


def test_inspircd_sasl_external_with_client_certificate(inspircd, irc_bot, irc_tls):
    bot = irc_bot(inspircd.tls_port, nick="certbot", channels=("#cert",), tls=True,
                  tls_ca_file=irc_tls.cert, tls_cert_file=irc_tls.client_cert,
                  tls_key_file=irc_tls.client_key, sasl_mechanism="EXTERNAL")  # fmt: skip
    stranger = irc_bot(inspircd.tls_port, nick="stranger", tls=True, tls_ca_file=irc_tls.cert,
                       tls_cert_file=irc_tls.cert, tls_key_file=irc_tls.key,
                       sasl_mechanism="EXTERNAL", auth_failure_backoff_s=60)  # fmt: skip
    joined(bot, "#cert", timeout=15)
    assert bot.transport.status().detail == ""
    wait_for(lambda: "SASL" in stranger.transport.status().detail, 10, "unknown cert refused")
    assert bot.transport._session.link.account == "certbot"  # 900 from services


def test_inspircd_sts_upgrade_and_policy_kept(inspircd_sts, irc_bot, irc_tls, tmp_path):
    sts_file = tmp_path / "sts.json"
    bot = irc_bot(inspircd_sts.port, host="localhost", tls=False, tls_ca_file=irc_tls.cert,
                  channels=("#sts",), sts_file=str(sts_file))  # fmt: skip
    joined(bot, "#sts", timeout=15)
    policy = json.loads(sts_file.read_text())["localhost"]
    assert policy["port"] == inspircd_sts.tls_port
    assert policy["expires"] > time.time() + 200
