"""Scripted TLS and STS tests: verification, CA file, pinning, client certs, STS policy."""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from pathlib import Path

from tests.waiting import wait_for


def fingerprint_of(cert_file: str) -> str:
    with open(cert_file) as handle:
        der = ssl.PEM_cert_to_DER_cert(handle.read())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def test_tls_verified_with_ca_file(irc_fake, irc_bot, irc_tls):
    server = irc_fake(irc_tls.server_context())
    bot = irc_bot(server.port, tls=True, tls_ca_file=irc_tls.cert, host="localhost")
    client = server.accept()
    client.register()
    client.send(b":a!a@h PRIVMSG #c :over tls\r\n")
    assert bot.message().text == "over tls"


def test_tls_unverifiable_certificate_fails(irc_fake, irc_bot, irc_tls):
    server = irc_fake(irc_tls.server_context())
    bot = irc_bot(server.port, tls=True)
    wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in bot.transport.status().detail, what="fail")
    assert server.accepted.empty()


def test_tls_fingerprint_pin(irc_fake, irc_bot, irc_tls):
    server = irc_fake(irc_tls.server_context())
    bot = irc_bot(server.port, tls=True, tls_fingerprint=fingerprint_of(irc_tls.cert))
    server.accept().register()
    wait_for(lambda: bot.transport.status().state == "connected", what="connected")
    wrong = irc_bot(server.port, tls=True, tls_fingerprint="00" * 32)
    wait_for(lambda: "does not match" in wrong.transport.status().detail, what="pin failure")


def test_tls_client_certificate(irc_fake, irc_bot, irc_tls):
    server = irc_fake(irc_tls.server_context(require_client=True))
    irc_bot(server.port, tls=True, tls_ca_file=irc_tls.cert, tls_cert_file=irc_tls.client_cert,
            tls_key_file=irc_tls.client_key, sasl_mechanism="EXTERNAL")  # fmt: skip
    client = server.accept()
    assert client.sock.getpeercert()["subject"] == ((("commonName", "univac-bot"),),)
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS :sasl=EXTERNAL\r\n")
    client.expect(b"CAP REQ :sasl\r\n")


def test_sts_upgrade_persist_and_refuse_plaintext(irc_fake, irc_bot, irc_tls, tmp_path):
    sts_file = tmp_path / "sts.json"
    secure = irc_fake(irc_tls.server_context())
    plain = irc_fake()
    offer = f"sts=port={secure.port},duration=300".encode()
    bot = irc_bot(plain.port, tls_ca_file=irc_tls.cert, sts_file=str(sts_file))
    client = plain.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS :multi-prefix " + offer + b"\r\n")
    assert client.closed()
    upgraded = secure.accept()
    upgraded.expect_prefix(b"USER ")
    upgraded.send(b":irc.test CAP * LS :sts=duration=300\r\n")
    upgraded.expect(b"CAP END\r\n")
    policy = wait_for(lambda: sts_file.exists() and json.loads(sts_file.read_text()), what="sts")
    assert policy["127.0.0.1"]["port"] == secure.port
    bot.stop()
    again = irc_bot(plain.port, tls_ca_file=irc_tls.cert, sts_file=str(sts_file))
    secure.accept().expect(b"CAP LS 302\r\n")
    again.stop()
    untrusting = irc_bot(plain.port, tls_verify=False, sts_file=str(sts_file))
    wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in untrusting.transport.status().detail,
             what="verification enforced under STS")  # fmt: skip
    assert plain.accepted.empty()


def test_sts_expiry_is_rescheduled_when_the_link_closes(irc_fake, irc_bot, irc_tls, tmp_path):
    """IRCv3 STS: the policy's expiry is the close time plus the last advertised
    duration, not the time the policy was received plus the duration."""
    sts_file = tmp_path / "sts.json"
    secure = irc_fake(irc_tls.server_context())
    irc_bot(secure.port, tls=True, tls_ca_file=irc_tls.cert, sts_file=str(sts_file))
    client = secure.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS :sts=duration=300\r\n")
    client.expect(b"CAP END\r\n")
    received = wait_for(lambda: sts_file.exists() and json.loads(sts_file.read_text()),
                        what="the stored policy")["127.0.0.1"]  # fmt: skip
    assert received == {"port": secure.port, "duration": 300, "expires": received["expires"]}
    client.send(b":irc.test 001 univac :hi\r\nPING :later\r\n")
    client.expect(b"PONG :later\r\n")
    closing = time.time()
    assert closing + 300 > received["expires"]
    client.sock.close()
    secure.accept()  # redialled: the first link is closed and done with
    policy = json.loads(sts_file.read_text())["127.0.0.1"]
    assert closing + 300 <= policy["expires"] <= time.time() + 300
    assert policy["port"] == secure.port and policy["duration"] == 300


def test_sts_store_reschedule_rules(tmp_path):
    from univac.transports.irc import net

    path = str(tmp_path / "state" / "sts.json")
    net.reschedule_sts(path, "irc.example.org", 5000.0)  # nothing stored: nothing written
    assert not (tmp_path / "state").exists()
    net.save_sts(path, "IRC.example.org", 6697, 300, 1000.0)
    assert net.load_sts(path, "irc.example.org", 1299.0) == 6697
    assert net.load_sts(path, "irc.example.org", 1300.0) is None
    net.reschedule_sts(path, "irc.example.org", 5000.0)
    assert net.load_sts(path, "irc.example.org", 5299.0) == 6697
    Path(path).write_text(json.dumps({"old.example.org": {"port": 6697, "expires": 10.0}}))
    net.reschedule_sts(path, "old.example.org", 5000.0)  # stored without its duration
    assert json.loads(Path(path).read_text())["old.example.org"]["expires"] == 10.0
    net.save_sts(path, "old.example.org", 6697, 0, 5000.0)  # duration 0 removes it
    assert json.loads(Path(path).read_text()) == {}
