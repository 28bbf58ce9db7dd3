"""Scripted protocol tests for the IRC transport: lines in, exact bytes out."""

from __future__ import annotations

import time

from tests.waiting import free_port, wait_for


def test_registration_joins_with_keys_and_delivers(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#plain", "#secret hunter2"), password="gatepw")
    client = server.accept()
    assert client.line() == b"CAP LS 302\r\n"
    assert client.line() == b"PASS :gatepw\r\n"
    assert client.line() == b"NICK univac\r\n"
    assert client.line() == b"USER univac 0 * :Univac bot\r\n"
    client.send(b":irc.test CAP * LS :multi-prefix server-time\r\n")
    assert client.line() == b"CAP REQ :multi-prefix server-time\r\n"
    client.send(b":irc.test CAP univac ACK :multi-prefix server-time\r\n")
    assert client.line() == b"CAP END\r\n"
    client.send(b":irc.test 001 univac :Welcome\r\n:irc.test 376 univac :End\r\n")
    assert client.line() == b"JOIN #secret,#plain hunter2\r\n"  # keyed channels first
    client.send(b":univac!u@h JOIN #plain\r\n:univac!u@h JOIN #secret\r\n")
    client.send(b":alice!al@example.org PRIVMSG #plain :!echo hi\r\n")
    message = bot.message()
    assert (message.target, message.sender, message.text) == ("#plain", "alice", "!echo hi")
    assert message.identity == "mask:alice!al@example.org"
    assert message.bot_nick == "univac" and not message.private
    assert message.transport == "irc-test"
    wait_for(lambda: bot.transport.status().targets == ("#plain", "#secret"), what="targets")
    assert bot.transport.status().state == "connected"


def test_ping_answered_and_send_goes_out(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b"PING :abc123\r\n")
    client.expect(b"PONG :abc123\r\n")
    bot.transport.send("#c", "hello there")
    client.expect(b"PRIVMSG #c :hello there\r\n")
    client.send(b"PING\r\n")
    assert client.line() == b"PONG\r\n"
    client.send(b":irc.test PING\r\n")
    assert client.line() == b"PONG :irc.test\r\n"


def test_stop_sends_goodbye_quit(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b"PING :x\r\n")
    client.expect(b"PONG :x\r\n")
    bot.transport.stop("bye now\r\nJOIN #evil")
    assert client.line() == b"QUIT :bye nowJOIN #evil\r\n"
    bot.thread.join(5)
    assert not bot.thread.is_alive()
    assert bot.transport.status().state == "stopped"


def test_privmsg_private_and_self_ignored(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b":univac!u@h PRIVMSG #c :my own words\r\n")
    client.send(b":bob!b@h PRIVMSG univac :psst\r\n")
    message = bot.message()
    assert (message.target, message.sender, message.private) == ("bob", "bob", True)


def test_nick_collision_alternates_then_regain(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, alt_nicks=("univac_",), nick_regain_s=30)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 433 * univac :Nickname is already in use\r\n")
    assert client.line() == b"NICK univac_\r\n"
    client.send(b":irc.test 433 * univac_ :Nickname is already in use\r\n")
    assert client.line() == b"NICK univac02\r\n"
    client.send(b":irc.test 001 univac02 :Welcome\r\n:irc.test 422 univac02 :No MOTD\r\n")
    wait_for(lambda: bot.transport.status().nick == "univac02", what="nick")
    client.send(b":univac!x@y QUIT :gone\r\n")
    client.expect(b"NICK univac\r\n")
    client.send(b":univac02!u@h NICK :univac\r\n")
    wait_for(lambda: bot.transport.status().nick == "univac", what="regained nick")


def test_no_nick_accepted_quits_after_the_alternates_and_ten_more(irc_fake, irc_bot):
    """A server that refuses every nick gets ten ``<nick>NN`` tries after the alternates,
    then a QUIT, instead of an endless NICK loop until the registration timeout."""
    server = irc_fake()
    bot = irc_bot(server.port, alt_nicks=("univac_",), register_timeout_s=30)
    client = server.accept()
    client.expect_prefix(b"USER ")
    tried = [b"univac"]
    for _ in range(11):
        client.send(b":irc.test 433 * " + tried[-1] + b" :Nickname is already in use\r\n")
        tried.append(client.line()[len(b"NICK ") : -2])
    assert tried[1:] == [b"univac_", *(b"univac%02d" % n for n in range(2, 12))]
    client.send(b":irc.test 432 * univac11 :Erroneous Nickname\r\n")
    reason = "no nick accepted after 12 tries (last: 432 Erroneous Nickname)"
    assert client.line() == f"QUIT :{reason}\r\n".encode()
    assert client.closed()
    wait_for(lambda: bot.transport.status().detail == reason, what="status")
    server.accept(timeout=5).expect(b"CAP LS 302\r\n")


def test_reconnect_after_drop_rejoins(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#a",))
    first = server.accept()
    first.register()
    first.expect(b"JOIN #a\r\n")
    first.send(b":univac!u@h JOIN #a\r\n")
    wait_for(lambda: bot.transport.status().targets == ("#a",), what="joined")
    first.sock.close()
    second = server.accept()
    second.register()
    second.expect(b"JOIN #a\r\n")


def test_error_and_reconnect_command_redial_at_once(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, reconnect_min_s=30, reconnect_max_s=60, healthy_after_s=0)
    first = server.accept()
    first.register()
    first.send(b"RECONNECT\r\n")
    started = time.monotonic()
    assert first.line() == b"QUIT :server asked us to reconnect\r\n"
    second = server.accept(timeout=3)
    assert time.monotonic() - started < 2
    second.register()
    second.send(b"ERROR :Closing Link: server restart\r\n")
    assert second.closed()
    assert not any(line.startswith(b"QUIT") for line in [*second.seen, second.buffer])
    third = server.accept(timeout=3)
    third.expect(b"CAP LS 302\r\n")
    assert bot.transport.status().state in ("connecting", "connected")


def test_silent_link_is_pinged_then_dropped(irc_fake, irc_bot):
    server = irc_fake()
    irc_bot(server.port, ping_interval_s=0.3, ping_timeout_s=0.3)
    client = server.accept()
    client.register()
    ping = client.expect_prefix(b"PING :univac-", timeout=3)
    assert ping.endswith(b"\r\n")
    assert client.closed(timeout=3)
    server.accept(timeout=3).expect(b"CAP LS 302\r\n")


def test_an_answered_keepalive_ping_is_reported_as_last_pong(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, ping_interval_s=0.3, ping_timeout_s=5)
    client = server.accept()
    client.register()
    assert bot.transport.status().last_pong is None
    token = client.expect_prefix(b"PING :univac-", timeout=3)[len(b"PING :"):].strip()
    client.send(b":irc.test PONG irc.test :" + token + b"\r\n")
    wait_for(lambda: bot.transport.status().last_pong is not None, 5, "last_pong")
    assert bot.transport.status().last_inbound >= bot.transport.status().last_pong - 1


def test_registration_timeout_reconnects(irc_fake, irc_bot):
    server = irc_fake()
    irc_bot(server.port, register_timeout_s=0.3)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test NOTICE * :*** Checking ident\r\n")
    assert client.line(timeout=3) == b"QUIT :registration timed out after 0.3 s\r\n"
    assert client.closed(timeout=3)
    server.accept(timeout=3).expect(b"CAP LS 302\r\n")


def test_join_without_answer_is_retried_and_reported(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#slow",), join_timeout_s=0.2)
    client = server.accept()
    client.register()
    client.expect(b"JOIN #slow\r\n")
    client.expect(b"JOIN #slow\r\n", timeout=3)
    wait_for(lambda: "#slow" in bot.transport.status().detail, what="status detail")
    client.send(b":irc.test 474 univac #slow :Cannot join channel (+b)\r\n")
    wait_for(lambda: "474" in bot.transport.status().detail, what="ban reason")
    client.send(b":univac!u@h JOIN #slow\r\n")
    wait_for(lambda: bot.transport.status().targets == ("#slow",), what="joined")


def test_kicked_bot_rejoins(irc_fake, irc_bot):
    server = irc_fake()
    irc_bot(server.port, channels=("#k",), join_timeout_s=0.1)
    client = server.accept()
    client.register()
    client.expect(b"JOIN #k\r\n")
    client.send(b":univac!u@h JOIN #k\r\n:op!o@h KICK #k univac :out\r\n")
    client.expect(b"JOIN #k\r\n", timeout=3)


def test_auth_failures_back_off_long(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, auth_failure_backoff_s=60)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 464 * :Password incorrect\r\n")
    assert client.line() == b"QUIT :server refused login (464: Password incorrect)\r\n"
    assert client.closed()
    wait_for(lambda: "464" in bot.transport.status().detail, what="auth failure")
    assert bot.transport.status().state == "disconnected"
    assert server.accepted.empty()
    bot.stop()


def test_slack_444_is_an_auth_failure(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, auth_failure_backoff_s=60, password="wrong")
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.tinyspeck.com 444 univac :Invalid password\r\n")
    assert client.line() == b"QUIT :server refused login (444: Invalid password)\r\n"
    assert client.closed()
    wait_for(lambda: "444" in bot.transport.status().detail, what="auth failure")
    bot.stop()
    assert server.accepted.empty()


def test_backoff_grows_then_resets_after_healthy_link(irc_fake, irc_bot):
    server = irc_fake()
    irc_bot(server.port, reconnect_min_s=0.2, reconnect_max_s=5, healthy_after_s=0)
    gaps = []
    client = server.accept()
    for _ in range(3):
        client.sock.close()
        closed_at = time.monotonic()
        client = server.accept(timeout=5)
        gaps.append(time.monotonic() - closed_at)
    assert gaps[2] > gaps[0]
    client.register()
    client.send(b"PING :a\r\n")
    client.expect(b"PONG :a\r\n")
    client.sock.close()
    closed_at = time.monotonic()
    server.accept(timeout=5)
    assert time.monotonic() - closed_at < gaps[2]


def test_monitor_offline_triggers_regain(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, alt_nicks=("univac_",), nick_regain_s=30)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 433 * univac :Nickname is already in use\r\n")
    client.expect(b"NICK univac_\r\n")
    client.send(b":irc.test 001 univac_ :Welcome\r\n")
    client.send(b":irc.test 005 univac_ MONITOR=100 :are supported\r\n")
    client.send(b":irc.test 376 univac_ :End\r\n")
    client.expect(b"MONITOR + univac\r\n")
    client.send(b":irc.test 731 univac_ :univac\r\n")
    client.expect(b"NICK univac\r\n")
    client.send(b":univac_!u@h NICK univac\r\n")
    wait_for(lambda: bot.transport.status().nick == "univac", what="regained")


def test_stop_during_backoff_returns_promptly(irc_bot):
    bot = irc_bot(free_port(), reconnect_min_s=60, reconnect_max_s=60)  # refused
    wait_for(lambda: bot.transport.status().state == "disconnected", what="refused")
    started = time.monotonic()
    bot.stop()
    assert time.monotonic() - started < 2
    assert bot.transport.status().state == "stopped"


def test_unusable_tls_settings_raise_transport_error(irc_fake, irc_bot):
    from univac import TransportError

    server = irc_fake()
    bot = irc_bot(server.port, tls=True, tls_cert_file="/nonexistent/cert.pem")
    server.accept()
    bot.thread.join(5)
    assert not bot.thread.is_alive()
    assert isinstance(bot.error[0], TransportError)


def test_bot_mode_set_when_advertised(irc_fake, irc_bot):
    server = irc_fake()
    irc_bot(server.port)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test 001 univac :hi\r\n:irc.test 005 univac BOT=B :are supported\r\n")
    client.send(b":irc.test 376 univac :End\r\n")
    assert client.line() == b"MODE univac +B\r\n"


def test_settings_are_checked():
    import pytest

    from univac.transports.irc import Settings

    with pytest.raises(ValueError, match="needs sasl_password"):
        Settings(host="h", sasl_mechanism="PLAIN")
    with pytest.raises(ValueError, match="needs tls_cert_file"):
        Settings(host="h", sasl_mechanism="EXTERNAL")
    with pytest.raises(ValueError, match="port"):
        Settings(host="h", port=70000)
    with pytest.raises(ValueError, match="max_line_bytes"):
        Settings(host="h", max_line_bytes=100)
    assert Settings(host="h", sasl_mechanism="PLAIN", sasl_password="pw").port == 0
