"""The dns plugin against a DNS responder on 127.0.0.1 (UDP, and TCP for big answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.servers import DnsServer

ZONE = {
    ("example.test.", "A"): ["192.0.2.10", "192.0.2.11"],
    ("example.test.", "AAAA"): ["2001:db8::10"],
    ("example.test.", "MX"): ["20 backup.example.test.", "10 mail.example.test."],
    ("example.test.", "TXT"): ['"v=spf1 -all"'],
    ("example.test.", "NS"): ["ns1.example.test.", "ns2.example.test."],
    ("example.test.", "SOA"): [
        "ns1.example.test. admin.example.test. 2026112201 7200 900 1209600 300"
    ],
    ("example.test.", "CAA"): ['0 issue "letsencrypt.org"'],
    ("www.example.test.", "CNAME"): ["example.test."],
    ("_sip._tcp.example.test.", "SRV"): ["10 60 5060 sip.example.test."],
    ("10.2.0.192.in-addr.arpa.", "PTR"): ["example.test."],
    ("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "PTR"): [
        "v6.example.test."
    ],
    ("big.example.test.", "TXT"): [f'"record number {n:02d} {"x" * 40}"' for n in range(30)],
}


@pytest.fixture
def dns_bot(univac_bot) -> Iterator:
    with DnsServer(ZONE) as server:
        table = {"nameservers": ["127.0.0.1"], "port": server.port, "timeout_s": 1.0}
        yield univac_bot("dns", settings={"dns": table})


@pytest.mark.parametrize(("question", "answer"), [
    ("!dns example.test", "example.test A: 192.0.2.10, 192.0.2.11"),
    ("!dns example.test aaaa", "example.test AAAA: 2001:db8::10"),
    ("!dns example.test MX",
     "example.test MX: 10 mail.example.test., 20 backup.example.test."),
    ("!dns example.test TXT", 'example.test TXT: "v=spf1 -all"'),
    ("!dns www.example.test CNAME", "www.example.test CNAME: example.test."),
    ("!dns example.test NS", "example.test NS: ns1.example.test., ns2.example.test."),
    ("!dns example.test SOA", "example.test SOA: ns1.example.test. admin.example.test. "
                              "2026112201 7200 900 1209600 300"),
    ("!dns _sip._tcp.example.test SRV", "_sip._tcp.example.test SRV: 10 60 5060 sip.example.test."),
    ("!dns example.test CAA", 'example.test CAA: 0 issue "letsencrypt.org"'),
    ("!dns 192.0.2.10 PTR", "192.0.2.10 PTR: example.test."),
    ("!rdns 192.0.2.10", "192.0.2.10 PTR: example.test."),
    ("!rdns 2001:db8::10", "2001:db8::10 PTR: v6.example.test."),
])
def test_record_types(dns_bot, question, answer):
    assert dns_bot.ask(question) == [answer]


@pytest.mark.parametrize(("question", "answer"), [
    ("!dns missing.test", "missing.test: no such domain (NXDOMAIN)."),
    ("!dns example.test SRV", "example.test has no SRV records."),
    ("!dns host.servfail.test", "No DNS server could answer for host.servfail.test "
                                "(SERVFAIL or refused)."),
    ("!dns bad/name", "'bad/name' is not a domain name."),
    ("!dns " + "a" * 64 + ".test", "'" + "a" * 59 + "…' is not a domain name."),
    ("!rdns example.test", "'example.test' is not an IPv4 or IPv6 address."),
])
def test_clear_replies_for_failures_and_bad_input(dns_bot, question, answer):
    assert dns_bot.ask(question) == [answer]


def test_a_bad_type_gets_the_usage(dns_bot):
    reply = dns_bot.ask("!dns example.test BOGUS")
    assert reply[0].startswith("rtype: expected one of A, AAAA, MX")
    assert "Usage: !dns <name> [rtype]" in reply[0]


def test_timeout_is_a_short_reply(dns_bot):
    assert dns_bot.ask("!dns never.silent.test") == [
        "The DNS lookup for never.silent.test timed out."
    ]


def test_long_answers_are_capped(dns_bot):
    (reply,) = dns_bot.ask("!dns big.example.test TXT")
    assert reply.startswith('big.example.test TXT: "record number 00')
    assert len(reply) <= 400
    assert reply.endswith("…") or "(+22 more)" in reply


def test_answers_come_over_tcp_when_udp_is_truncated():
    with DnsServer(ZONE) as server:
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.port = server.port
        resolver.nameservers = ["127.0.0.1"]
        assert len(resolver.resolve("big.example.test", "TXT")) == 30


def test_bad_nameserver_setting_disables_the_plugin(univac_bot):
    bot = univac_bot("dns", settings={"dns": {"nameservers": ["dns.example"]}})
    assert "plugins.dns" in bot.errors
