"""Scripted tolerance tests: the Slack gateway, malformed lines, framing, decoding."""

from __future__ import annotations

from tests.waiting import wait_for

SLACK_SCRIPT = [
    b":irc.tinyspeck.com 001 user Welcome to Slack IRC Gateway server user!~user@10.0.97.173\r\n",
    b":irc.tinyspeck.com 375 : Message of the day\r\n",
    b":irc.tinyspeck.com 372 : - Slack\r\n",
    b":irc.tinyspeck.com 376 : End of MOTD\r\n",
]

SLACK_AFTER_JOIN = [
    b":user!user@irc.tinyspeck.com JOIN #general\r\n",
    b":irc.tinyspeck.com 332 user #general :\r\n",
    b":irc.tinyspeck.com 333 user #general  0\r\n",
    b":irc.tinyspeck.com 353 user = #general :\r\n",
    b":irc.tinyspeck.com 353 user #general\r\n",
    b":irc.tinyspeck.com 366 user #general :End of NAMES list\r\n",
    b":irc.tinyspeck.com 352 user #general peer localhost irc.tinyspeck.com peer H :0 null\r\n",
    b":irc.tinyspeck.com 315  #general :End of WHO list\r\n",
    b":irc.tinyspeck.com 319 user peer :\r\n",
    b":irc.tinyspeck.com 353 user = #general :" + b"n" * 700 + b"\r\n",
    b":peer!peer@irc.tinyspeck.com PRIVMSG user :[user] hello from my phone\r\n",
    b":first.last!first.last@irc.tinyspeck.com PRIVMSG #general :!echo dotted\r\n",
]


def test_slack_gateway_script(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, nick="user", channels=("#general",), password="team-token")
    client = server.accept()
    client.expect(b"PASS :team-token\r\n")
    client.expect_prefix(b"USER ")
    client.send(*SLACK_SCRIPT)  # the gateway ignores CAP entirely and sends no 005
    client.expect(b"JOIN #general\r\n")
    client.send(*SLACK_AFTER_JOIN)
    message = bot.message()
    assert (message.sender, message.text) == ("first.last", "!echo dotted")
    assert message.target == "#general"
    assert message.identity == "mask:first.last!first.last@irc.tinyspeck.com"
    assert message.bot_nick == "user"
    bot.no_message()
    bot.transport.send("#general", "dotted")
    client.expect(b"PRIVMSG #general :dotted\r\n")
    assert bot.transport.status().targets == ("#general",)


def test_znc_welcome_without_target_keeps_nick(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#z",))
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.znc.in 001 :Welcome to ZNC\r\n")
    client.expect(b"JOIN #z\r\n", timeout=3)  # no MOTD at all: join after the short wait
    assert bot.transport.status().nick == "univac"


def test_bouncer_prejoined_channels_count_as_joined(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#mine",))
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":znc 001 univac :Welcome\r\n:univac!u@h JOIN #mine\r\n")
    client.send(b":univac!u@h JOIN #other\r\n")
    client.send(b":znc 422 univac :MOTD File is missing\r\n")
    wait_for(lambda: bot.transport.status().targets == ("#mine", "#other"), what="joined")
    client.send(b"PING :sync\r\n")
    client.expect(b"PONG :sync\r\n")
    assert b"JOIN #mine\r\n" not in client.seen


MALFORMED = [
    b"\r\n",
    b"   \r\n",
    b" PING :leading-space\r\n",
    b":\r\n",
    b"@\r\n",
    b"@a=b\r\n",
    b":irc.test\r\n",
    b":irc.test 001\r\n",
    b":irc.test 001 :Welcome to ZNC\r\n",
    b":n!u@h QUIT\r\n",
    b":n!u@h KICK #c\r\n",
    b"KICK\r\n",
    b":n!u@h PRIVMSG #c\r\n",
    b":n!u@h PRIVMSG\r\n",
    b":n!u@h PRIVMSG #c :\r\n",
    b":n!u@h NOTICE\r\n",
    b":n!u@h JOIN #untracked\r\n",
    b":n!u@h PART #untracked\r\n",
    b":n!u@h MODE #untracked +o x\r\n",
    b"JOIN\r\n",
    b"NICK\r\n",
    b":irc.test 353 univac #untracked :a b\r\n",
    b":irc.test 353\r\n",
    b":irc.test 005 univac PREFIX=@+ CHANMODES CHANTYPES= TARGMAX=x:y =z -Q :are supported\r\n",
    b":irc.test 005\r\n",
    b":n!u@h PRIVMSG univac :\x01DCC\x01\r\n",
    b":n!u@h PRIVMSG univac :\x01\x01\r\n",
    b":n!u@h PRIVMSG univac :\x01ACTION waves\x01\r\n",
    b":n!u@h PRIVMSG univac :\x01\r\n",
    b":irc.test 999 univac what is this\r\n",
    b"FROBNICATE a b :c\r\n",
    b"@=;;=x;time=garbage :n!u@h PRIVMSG #c :\r\n",
    b"BATCH\r\n",
    b"BATCH +\r\n",
    b"AUTHENTICATE\r\n",
    b"CAP\r\n",
    b"CAP univac\r\n",
    b"CAP univac LS\r\n",
    b"ACCOUNT\r\n",
    b":irc.test 354\r\n",
    b":irc.test 433\r\n",
    b":irc.test 474\r\n",
    b":irc.test 904\r\n",
    b":irc.test 900\r\n",
    b"PONG\r\n",
    b"CHGHOST\r\n",
    b":irc.test 396\r\n",
    b"\x00\x01\x02\xff\xfe\r\n",
    b":n!u@h PRIVMSG #c :\xff\xfe bad utf8\r\n",
]


def test_malformed_lines_are_dropped_and_link_stays_up(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(*MALFORMED)
    client.send(b"PING :still-here\r\n")
    client.expect(b"PONG :still-here\r\n")
    client.send(b":alice!a@h PRIVMSG #c :after the storm\r\n")
    message = bot.message()
    if message.text != "after the storm":  # the cp1252 line above is a fine delivery too
        assert message.text.endswith("bad utf8")
        message = bot.message()
    assert message.text == "after the storm"
    assert bot.transport.status().state == "connected"
    assert bot.transport.status().nick == "univac"
    assert server.accepted.empty()
    assert not bot.error


def test_decoding_fallback_and_split_multibyte(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b":a!a@h PRIVMSG #c :caf\xe9 \x80\r\n:a!a@h PRIVMSG #c :next line kept\r\n")
    assert bot.message().text == "caf\u00e9 \u20ac"
    assert bot.message().text == "next line kept"
    client.send(b":a!a@h PRIVMSG #c :h\xc3")
    client.send(b"\xa9llo \xe2\x82")
    client.send(b"\xac\r\n")
    assert bot.message().text == "h\u00e9llo \u20ac"


def test_framing_cr_lf_crlf(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b":a!a@h PRIVMSG #c :one\r:a!a@h PRIVMSG #c :two\n:a!a@h PRIVMSG #c :three\r\n")
    assert [bot.message().text for _ in range(3)] == ["one", "two", "three"]
    client.send(b"PING :x\r")
    assert client.line() == b"PONG :x\r\n"


def test_overlong_line_dropped_and_endless_line_reconnects(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, max_line_bytes=1000, max_buffer_bytes=4096)
    client = server.accept()
    client.register()
    client.send(b":a!a@h PRIVMSG #c :" + b"x" * 2000 + b"\r\n:a!a@h PRIVMSG #c :short\r\n")
    assert bot.message().text == "short"
    client.send(b":a!a@h PRIVMSG #c :" + b"y" * 10000)
    assert client.closed()
    assert client.buffer == b"QUIT :framing: no line ending in 4096 bytes\r\n"
    server.accept().expect(b"CAP LS 302\r\n")


def test_statusmsg_target_is_the_channel(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port)
    client = server.accept()
    client.register()
    client.send(b":op!o@h PRIVMSG @#ops :!status\r\n")
    message = bot.message()
    assert (message.target, message.private) == ("#ops", False)
