"""Scripted IRCv3 tests: CAP LS 302 variants, SASL, playback and edits (identity:
test_irc_identity.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta

from tests.waiting import wait_for
from univac.transports.irc.sasl import ChallengeReader, chunks


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def start_caps(irc_fake, irc_bot, offer: bytes, **options):
    server = irc_fake()
    bot = irc_bot(server.port, **options)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS :" + offer + b"\r\n")
    return server, bot, client


def finish(client, nick: bytes = b"univac") -> None:
    client.send(b":irc.test 001 " + nick + b" :Welcome\r\n:irc.test 376 " + nick + b" :End\r\n")
    client.send(b"PING :sync\r\n")
    client.expect(b"PONG :sync\r\n")


def test_cap_ls_multiline_and_sasl_plain(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, sasl_mechanism="PLAIN", sasl_username="alice", sasl_password="pw")
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS * :multi-prefix sasl=PLAIN,EXTERNAL\r\n")
    client.send(b":irc.test CAP * LS :account-tag server-time echo-message\r\n")
    assert client.line() == b"CAP REQ :account-tag multi-prefix server-time sasl\r\n"
    client.send(b":irc.test CAP * ACK :account-tag multi-prefix server-time sasl\r\n")
    assert client.line() == b"AUTHENTICATE PLAIN\r\n"
    client.send(b"@time=2024-01-01T00:00:00.000Z AUTHENTICATE :+\r\n")
    assert client.line() == b"AUTHENTICATE " + b64(b"alice\0alice\0pw") + b"\r\n"
    client.send(b":irc.test 900 univac univac!u@h alice :You are now logged in as alice\r\n")
    client.send(b":irc.test 903 univac :SASL authentication successful\r\n")
    assert client.line() == b"CAP END\r\n"
    finish(client)
    client.send(b"@account=bob :bob!b@h PRIVMSG #c :hi\r\n:carol!c@h PRIVMSG #c :yo\r\n")
    assert bot.message().identity == "account:bob"
    assert bot.message().identity == "mask:carol!c@h"


def test_sasl_external_and_chunked_plain_response(irc_fake, irc_bot):
    password = "p" * (300 - len("alice\0alice\0"))  # 300 bytes -> 400 base64 chars
    _s, _bot, client = start_caps(irc_fake, irc_bot, b"sasl=PLAIN",
                                  sasl_mechanism="PLAIN", sasl_username="alice",
                                  sasl_password=password)  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE PLAIN\r\n")
    client.send(b"AUTHENTICATE +\r\n")
    first = client.line()
    assert len(first) == len(b"AUTHENTICATE ") + 400 + 2
    assert client.line() == b"AUTHENTICATE +\r\n"
    assert chunks(b"") == ["+"]
    assert [len(c) for c in chunks(b"x" * 301)] == [400, 4]
    assert [len(c) for c in chunks(b"x" * 600)] == [400, 400, 1]
    reader = ChallengeReader()
    assert reader.feed("A" * 400) is None and reader.feed("+") == base64.b64decode("A" * 400)


def test_sasl_external(irc_fake, irc_bot):
    _s, _bot, client = start_caps(irc_fake, irc_bot, b"sasl=EXTERNAL", sasl_mechanism="EXTERNAL",
                                  tls_cert_file="not-loaded-without-tls.pem")  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE EXTERNAL\r\n")
    client.send(b"AUTHENTICATE +\r\n")
    assert client.line() == b"AUTHENTICATE +\r\n"
    client.send(b":irc.test 900 univac u!u@h cert :Logged in\r\n:irc.test 903 univac :ok\r\n")
    assert client.line() == b"CAP END\r\n"


def scram_server(client, password: str, tamper: bool = False) -> None:
    client.send(b"AUTHENTICATE +\r\n")
    first = base64.b64decode(client.line()[len(b"AUTHENTICATE ") : -2]).decode()
    assert first.startswith("n,,n=alice,r=")
    bare = first[3:]
    nonce = bare.split("r=", 1)[1] + "SERVERNONCE"
    salt, rounds = b"saltsalt", 4096
    server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={rounds}"
    client.send(b"AUTHENTICATE " + b64(server_first.encode()) + b"\r\n")
    final = base64.b64decode(client.line()[len(b"AUTHENTICATE ") : -2]).decode()
    without_proof, proof = final.rsplit(",p=", 1)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    auth = f"{bare},{server_first},{without_proof}".encode()
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth, "sha256").digest()
    expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    assert base64.b64decode(proof) == expected
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    verifier = hmac.new(server_key, auth, "sha256").digest()
    if tamper:
        verifier = bytes(32)
    client.send(b"AUTHENTICATE " + b64(b"v=" + base64.b64encode(verifier)) + b"\r\n")


def test_sasl_scram_sha256_verifies_server(irc_fake, irc_bot):
    _s, _bot, client = start_caps(irc_fake, irc_bot, b"sasl=SCRAM-SHA-256",
                                  sasl_mechanism="SCRAM-SHA-256", sasl_username="alice",
                                  sasl_password="s3cret")  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE SCRAM-SHA-256\r\n")
    scram_server(client, "s3cret")
    assert client.line() == b"AUTHENTICATE +\r\n"
    client.send(b":irc.test 900 univac u!u@h alice :in\r\n:irc.test 903 univac :ok\r\n")
    assert client.line() == b"CAP END\r\n"


def test_sasl_scram_bad_server_signature_aborts(irc_fake, irc_bot):
    _s, bot, client = start_caps(irc_fake, irc_bot, b"sasl=SCRAM-SHA-256",
                                 sasl_mechanism="SCRAM-SHA-256", sasl_username="alice",
                                 sasl_password="s3cret", auth_failure_backoff_s=60)  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE SCRAM-SHA-256\r\n")
    scram_server(client, "s3cret", tamper=True)
    assert client.line() == b"AUTHENTICATE *\r\n"
    client.send(b":irc.test 906 univac :SASL authentication aborted\r\n")
    assert client.line() == b"QUIT :SASL: the server's answer did not verify\r\n"
    assert client.closed()
    wait_for(lambda: "did not verify" in bot.transport.status().detail, what="status")


NOT_OFFERED = b"SASL PLAIN not offered (server offers EXTERNAL)"


def quits_for_good(server, bot, client, reason: bytes) -> None:
    """The bot's next line is ``QUIT :<reason>``, it hangs up, reports the reason and
    waits ``auth_failure_backoff_s`` (the test sets 60 s) instead of redialling."""
    assert client.line() == b"QUIT :" + reason + b"\r\n"
    assert client.closed()
    wait_for(lambda: bot.transport.status().detail == reason.decode(), what="status")
    assert bot.transport.status().state == "disconnected"
    assert server.accepted.empty()


def test_sasl_mechanism_not_in_cap_ls_requests_sasl_then_quits(irc_fake, irc_bot):
    """irctest testPlainNotAvailable, SASL 3.2: ``sasl=EXTERNAL`` offered, PLAIN set."""
    server, bot, client = start_caps(irc_fake, irc_bot, b"sasl=EXTERNAL",
                                     sasl_mechanism="PLAIN", sasl_password="pw",
                                     auth_failure_backoff_s=60)  # fmt: skip
    assert client.line() == b"CAP REQ :sasl\r\n"
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    quits_for_good(server, bot, client, NOT_OFFERED)
    assert not any(line.startswith(b"AUTHENTICATE") for line in client.seen)


def test_sasl_mechanism_refused_with_908_quits(irc_fake, irc_bot):
    """irctest testPlainNotAvailable, SASL 3.1: plain ``sasl``, then 908 lists EXTERNAL."""
    server, bot, client = start_caps(irc_fake, irc_bot, b"sasl", sasl_mechanism="PLAIN",
                                     sasl_password="pw", auth_failure_backoff_s=60)  # fmt: skip
    assert client.line() == b"CAP REQ :sasl\r\n"
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    assert client.line() == b"AUTHENTICATE PLAIN\r\n"
    client.send(b":irc.test 908 univac EXTERNAL :are available SASL mechanisms\r\n")
    client.send(b":irc.test 904 univac :SASL authentication failed\r\n")
    quits_for_good(server, bot, client, NOT_OFFERED)


def test_optional_sasl_not_offered_ends_cap_and_registers(irc_fake, irc_bot, caplog):
    """With ``sasl_required = false`` both variants carry on without an account (and
    say so once in the log)."""
    optional = {"sasl_mechanism": "PLAIN", "sasl_password": "pw", "sasl_required": False}
    _s, bot, client = start_caps(irc_fake, irc_bot, b"sasl=EXTERNAL multi-prefix", **optional)
    assert client.line() == b"CAP REQ :multi-prefix sasl\r\n"
    client.send(b":irc.test CAP * ACK :multi-prefix sasl\r\n")
    assert client.line() == b"CAP END\r\n"
    finish(client)
    wait_for(lambda: bot.transport.status().state == "connected", what="registered")

    _s, second, client = start_caps(irc_fake, irc_bot, b"sasl", **optional)
    assert client.line() == b"CAP REQ :sasl\r\n"
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    assert client.line() == b"AUTHENTICATE PLAIN\r\n"
    client.send(b":irc.test 908 univac EXTERNAL :are available SASL mechanisms\r\n")
    client.send(b":irc.test 904 univac :SASL authentication failed\r\n")
    assert client.line() == b"CAP END\r\n"
    finish(client)
    wait_for(lambda: second.transport.status().state == "connected", what="registered")
    assert not any(line.startswith(b"QUIT") for line in client.seen)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    alone = f"irc: {NOT_OFFERED.decode()}; going on without an account (sasl_required = false)"
    assert warnings.count(alone) == 2, warnings


def test_required_sasl_without_sasl_on_the_server_quits(irc_fake, irc_bot):
    server, bot, client = start_caps(irc_fake, irc_bot, b"multi-prefix", sasl_mechanism="PLAIN",
                                     sasl_password="pw", auth_failure_backoff_s=60)  # fmt: skip
    quits_for_good(server, bot, client, b"the server offers no SASL")


def test_required_sasl_and_a_server_that_ignores_cap_quits_at_001(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, sasl_mechanism="PLAIN", sasl_password="pw",
                  auth_failure_backoff_s=60)  # fmt: skip
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 001 univac :Welcome\r\n")
    quits_for_good(server, bot, client, b"registered without a SASL login")


def test_sasl_failure_904(irc_fake, irc_bot):
    server, bot, client = start_caps(irc_fake, irc_bot, b"sasl", sasl_mechanism="PLAIN",
                                     sasl_password="bad", auth_failure_backoff_s=60)  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE PLAIN\r\n")
    client.send(b"AUTHENTICATE +\r\n")
    client.line()
    client.send(b":irc.test 904 univac :SASL authentication failed\r\n")
    quits_for_good(server, bot, client, b"SASL login failed (904: SASL authentication failed)")


def test_server_rejects_cap_with_421(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 421 * CAP :Unknown command\r\n")
    finish(client)
    client.send(b":a!a@h PRIVMSG #c :works\r\n")
    assert bot.message().text == "works"


def test_welcome_before_cap_end(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#c",))
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 001 univac :Welcome\r\n:irc.test 376 univac :End\r\n")
    client.expect(b"JOIN #c\r\n")
    client.send(b":irc.test CAP univac LS :multi-prefix\r\n")
    client.expect(b"CAP REQ :multi-prefix\r\n")
    client.send(b":irc.test CAP univac ACK :multi-prefix\r\n")
    client.send(b"PING :x\r\n")
    client.expect(b"PONG :x\r\n")
    assert b"CAP END\r\n" not in client.seen
    assert bot.transport.status().state == "connected"


def test_playback_and_edits_are_never_delivered(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    old = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z").encode()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z").encode()
    client.send(
        b":***!znc@znc.in PRIVMSG #c :Buffer Playback...\r\n",
        b":a!a@h PRIVMSG #c :[12:00:00] !reboot\r\n",
        b":***!znc@znc.in PRIVMSG #c :Playback Complete.\r\n",
        b":irc.test BATCH +p1 chathistory #c\r\n",
        b"@batch=p1 :a!a@h PRIVMSG #c :!reboot from batch\r\n",
        b":irc.test BATCH -p1\r\n",
        b":irc.test BATCH +p2 znc.in/playback\r\n",
        b"@batch=p2 :a!a@h PRIVMSG #c :!reboot from znc batch\r\n",
        b":irc.test BATCH -p2\r\n",
        b"@time=" + old + b" :a!a@h PRIVMSG #c :!reboot from the past\r\n",
        b":bridge!b@h PRIVMSG #c :[edit] !reboot\r\n",
        b":bridge!b@h PRIVMSG #c :* !reboot\r\n",
        b":a!a@h PRIVMSG #c :\x01ACTION !reboot\x01\r\n",
        b"@time=" + now + b" :a!a@h PRIVMSG #c :live\r\n",
    )
    assert bot.message().text == "live"
    bot.no_message()


def test_ctcp_version_answered_by_notice(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b":a!a@h PRIVMSG univac :\x01VERSION\x01\r\n")
    assert client.line() == b"NOTICE a :\x01VERSION Univac IRC bot\x01\r\n"
    client.send(b":a!a@h PRIVMSG univac :\x01PING 123\x01\r\n")
    assert client.line() == b"NOTICE a :\x01PING 123\x01\r\n"
    bot.no_message()


def test_sasl_ecdsa_nist256p_challenge(irc_fake, irc_bot, tmp_path):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "bot-ecdsa.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    _s, _bot, client = start_caps(irc_fake, irc_bot, b"sasl=ECDSA-NIST256P-CHALLENGE",
                                  sasl_mechanism="ECDSA-NIST256P-CHALLENGE",
                                  sasl_username="alice", sasl_key_file=str(key_file))  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE ECDSA-NIST256P-CHALLENGE\r\n")
    client.send(b"AUTHENTICATE +\r\n")
    assert client.line() == b"AUTHENTICATE " + b64(b"alice") + b"\r\n"
    challenge = bytes(range(32))
    client.send(b"AUTHENTICATE " + b64(challenge) + b"\r\n")
    signature = base64.b64decode(client.line()[len(b"AUTHENTICATE ") : -2])
    key.public_key().verify(signature, challenge, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    client.send(b":irc.test 900 univac u!u@h alice :in\r\n:irc.test 903 univac :ok\r\n")
    assert client.line() == b"CAP END\r\n"


def test_jaraco_pattern_copy_matches_library():
    import irc.client

    from univac.transports.irc.lines import _rfc_1459_command_regexp

    assert _rfc_1459_command_regexp.pattern == irc.client._cmd_pat


def test_sasl_908_names_the_offered_mechanisms(irc_fake, irc_bot):
    _s, bot, client = start_caps(irc_fake, irc_bot, b"sasl", sasl_mechanism="SCRAM-SHA-256",
                                 sasl_password="pw", auth_failure_backoff_s=60)  # fmt: skip
    client.expect(b"CAP REQ :sasl\r\n")
    client.send(b":irc.test CAP * ACK :sasl\r\n")
    client.expect(b"AUTHENTICATE SCRAM-SHA-256\r\n")
    client.send(b":irc.test 908 univac PLAIN,EXTERNAL :are available SASL mechanisms\r\n")
    client.send(b":irc.test 904 univac :SASL authentication failed\r\n")
    detail = b"SASL SCRAM-SHA-256 not offered (server offers PLAIN, EXTERNAL)"
    quits_for_good(_s, bot, client, detail)
