"""Who sent a message: the account only from what the bot can keep true.

With ``account-tag`` the tag alone decides. Without it, an account learnt from
extended-join, account-notify or WHOX holds only while the bot shares a channel with the
nick; the unit tests at the end pin each rule of ``accounts.Accounts``.
"""

from __future__ import annotations

from univac.transports.irc.accounts import Accounts
from univac.transports.irc.lines import parse
from univac.transports.irc.state import Link

NOTIFY = b"account-notify extended-join"


def joined(irc_fake, irc_bot, offer: bytes, channels: tuple[str, ...] = ("#c",), **options):
    """A bot that negotiated ``offer`` (all of it) and is in ``channels``."""
    server = irc_fake()
    bot = irc_bot(server.port, channels=channels, **options)
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS :" + offer + b"\r\n")
    request = client.expect_prefix(b"CAP REQ :")
    client.send(b":irc.test CAP * ACK :" + request[len(b"CAP REQ :") : -2] + b"\r\n")
    client.expect(b"CAP END\r\n")
    client.send(b":irc.test 001 univac :Welcome\r\n:irc.test 376 univac :End\r\n")
    client.expect(b"JOIN " + ",".join(channels).encode() + b"\r\n")  # one line for all
    for channel in channels:
        client.send(b":univac!u@h JOIN " + channel.encode() + b" * :Univac bot\r\n")
    return bot, client


def identity_of(bot, client, line: bytes) -> str:
    client.send(line + b"\r\n")
    return bot.message().identity


def test_an_account_learnt_in_a_channel_is_forgotten_when_its_nick_parts(irc_fake, irc_bot):
    """The stale-cache escalation: alice's JOIN told the bot her account; she parts and
    the bot sees nothing more of her. Whoever sends as ``alice`` next has no account."""
    bot, client = joined(irc_fake, irc_bot, NOTIFY)
    client.send(b":alice!a@home JOIN #c alice :Alice\r\n")
    assert identity_of(bot, client, b":alice!a@home PRIVMSG univac :restart db") == "account:alice"
    client.send(b":alice!a@home PART #c :bye\r\n")
    impostor = b":alice!evil@elsewhere PRIVMSG univac :restart everything"
    assert identity_of(bot, client, impostor) == "mask:alice!evil@elsewhere"


def test_kick_quit_and_nick_change_drop_or_carry_the_account(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, NOTIFY, channels=("#c", "#d"))
    client.send(b":bob!b@h JOIN #c bob :Bob\r\n:bob!b@h JOIN #d bob :Bob\r\n")
    client.send(b":op!o@h KICK #c bob :out\r\n")
    assert identity_of(bot, client, b":bob!b@h PRIVMSG univac :x") == "account:bob"  # in #d
    client.send(b":op!o@h KICK #d bob :out\r\n")
    assert identity_of(bot, client, b":bob!b@h PRIVMSG univac :x") == "mask:bob!b@h"

    client.send(b":carol!c@h JOIN #c carol :Carol\r\n:carol!c@h NICK carol_\r\n")
    assert identity_of(bot, client, b":carol_!c@h PRIVMSG #c :x") == "account:carol"
    assert identity_of(bot, client, b":carol!z@h PRIVMSG univac :x") == "mask:carol!z@h"
    client.send(b":carol_!c@h QUIT :gone\r\n")
    assert identity_of(bot, client, b":carol_!z@h PRIVMSG univac :x") == "mask:carol_!z@h"

    client.send(b":dave!d@h JOIN #c dave :Dave\r\n:dave!d@h ACCOUNT *\r\n")
    assert identity_of(bot, client, b":dave!d@h PRIVMSG #c :x") == "mask:dave!d@h"
    client.send(b":dave!d@h ACCOUNT dave2\r\n")
    assert identity_of(bot, client, b":dave!d@h PRIVMSG #c :x") == "account:dave2"


def test_the_bots_own_part_or_kick_forgets_everyone_seen_only_there(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, NOTIFY, channels=("#c", "#d"), join_timeout_s=60)
    client.send(b":erin!e@h JOIN #c erin :Erin\r\n:fay!f@h JOIN #d fay :Fay\r\n")
    client.send(b":gus!g@h JOIN #c gus :Gus\r\n:gus!g@h JOIN #d gus :Gus\r\n")
    client.send(b":univac!u@h PART #c\r\n")
    assert identity_of(bot, client, b":erin!e@h PRIVMSG univac :x") == "mask:erin!e@h"
    assert identity_of(bot, client, b":gus!g@h PRIVMSG univac :x") == "account:gus"
    client.send(b":op!o@h KICK #d univac :out\r\n")
    assert identity_of(bot, client, b":fay!f@h PRIVMSG univac :x") == "mask:fay!f@h"
    assert identity_of(bot, client, b":gus!g@h PRIVMSG univac :x") == "mask:gus!g@h"


def test_a_channel_the_bot_is_not_in_proves_nothing(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, NOTIFY)
    client.send(b":hal!h@h JOIN #elsewhere hal :Hal\r\n:hal!h@h ACCOUNT hal\r\n")
    assert identity_of(bot, client, b":hal!h@h PRIVMSG univac :x") == "mask:hal!h@h"


def test_with_account_tag_only_the_tag_counts(irc_fake, irc_bot):
    """Once ``account-tag`` is negotiated, a message without the tag comes from no
    account, whatever extended-join said about the nick a moment ago."""
    bot, client = joined(irc_fake, irc_bot, b"account-tag " + NOTIFY)
    client.send(b":alice!a@h JOIN #c alice :Alice\r\n")
    assert identity_of(bot, client, b"@account=alice :alice!a@h PRIVMSG #c :x") == "account:alice"
    assert identity_of(bot, client, b":alice!a@h PRIVMSG #c :x") == "mask:alice!a@h"
    assert identity_of(bot, client, b"@account=* :alice!a@h PRIVMSG #c :x") == "mask:alice!a@h"


def test_whox_names_channel_and_account(irc_fake, irc_bot):
    server = irc_fake()
    bot = irc_bot(server.port, channels=("#w",))
    client = server.accept()
    client.expect_prefix(b"USER ")
    client.send(b":irc.test CAP * LS :x-unknown\r\n")
    client.expect(b"CAP END\r\n")
    client.send(b":irc.test 001 univac :hi\r\n:irc.test 005 univac WHOX :are supported\r\n")
    client.send(b":irc.test 376 univac :End\r\n")
    client.expect(b"JOIN #w\r\n")
    client.send(b":univac!u@h JOIN #w\r\n")
    client.expect(b"WHO #w %tcna,42\r\n")
    client.send(b":irc.test 354 univac 42 #w erin erin_acct\r\n")
    client.send(b":irc.test 354 univac 42 #w fay 0\r\n")
    client.send(b":irc.test 354 univac 42 #other ivy ivy_acct\r\n")
    assert identity_of(bot, client, b":erin!e@h PRIVMSG #w :a") == "account:erin_acct"
    assert identity_of(bot, client, b":fay!f@h PRIVMSG #w :b") == "mask:fay!f@h"
    assert identity_of(bot, client, b":ivy!i@h PRIVMSG univac :c") == "mask:ivy!i@h"
    client.send(b":erin!e@h PART #w\r\n")
    assert identity_of(bot, client, b":erin!e@h PRIVMSG univac :d") == "mask:erin!e@h"


def test_names_then_account_notify(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, b"account-notify multi-prefix")
    client.send(b":irc.test 353 univac = #c :@+univac @+jo %kim\r\n")
    client.send(b":irc.test 366 univac #c :End\r\n")
    client.send(b":jo!j@h ACCOUNT jo_acct\r\n:kim!k@h ACCOUNT kim_acct\r\n")
    assert identity_of(bot, client, b":jo!j@h PRIVMSG univac :x") == "account:jo_acct"
    assert identity_of(bot, client, b":kim!k@h PRIVMSG univac :x") == "account:kim_acct"


# ``Accounts`` rules, one by one ---------------------------------------------------


def feed(accounts: Accounts, link: Link, *lines: str) -> None:
    for text in lines:
        line = parse(text)
        assert line is not None
        accounts.follow(link, line)


def in_channels(*channels: str) -> tuple[Accounts, Link]:
    link = Link("bot", "bot", False, 0.0)
    link.caps.add("extended-join")
    accounts = Accounts()
    feed(accounts, link, *(f":bot!u@h JOIN {channel} * :Bot" for channel in channels))
    return accounts, link


def test_accounts_only_for_nicks_in_a_shared_channel():
    accounts, link = in_channels("#a")
    feed(accounts, link, ":x!u@h JOIN #b x_acct :X", ":y!u@h ACCOUNT y_acct",
         ":irc 354 bot 42 #b z z_acct", ":irc 354 bot 7 #a w w_acct")  # fmt: skip
    assert [accounts.account(link, n) for n in ("x", "y", "z", "w")] == ["", "", "", ""]
    feed(accounts, link, ":x!u@h JOIN #a x_acct :X")
    assert accounts.account(link, "X") == "x_acct"  # folded by CASEMAPPING
    feed(accounts, link, ":x!u@h JOIN #a 0 :X")
    assert accounts.account(link, "x") == ""


def test_accounts_follow_parts_kicks_quits_and_the_bots_own_exit():
    accounts, link = in_channels("#a", "#b")
    feed(accounts, link, ":p!u@h JOIN #a p :P", ":p!u@h JOIN #b p :P", ":q!u@h JOIN #a q :Q")
    feed(accounts, link, ":p!u@h PART #a")
    assert accounts.account(link, "p") == "p"
    feed(accounts, link, ":op!u@h KICK #b p :out")
    assert accounts.account(link, "p") == ""
    feed(accounts, link, ":p!u@h JOIN #b p :P", ":p!u@h QUIT :bye")
    assert accounts.account(link, "p") == ""
    feed(accounts, link, ":op!u@h KICK #a bot :out")
    assert accounts.account(link, "q") == ""
    assert accounts.members == {"#b": set()} and accounts.channels_of == {}
    assert accounts.known == {}


def test_accounts_across_nick_changes():
    accounts, link = in_channels("#a")
    feed(accounts, link, ":r!u@h JOIN #a r :R", ":s!u@h JOIN #a s :S", ":r!u@h NICK R")
    assert accounts.account(link, "r") == "r"  # a change of case only
    feed(accounts, link, ":r!u@h NICK t")
    assert (accounts.account(link, "r"), accounts.account(link, "t")) == ("", "r")
    feed(accounts, link, ":s!u@h QUIT :bye", ":t!u@h NICK s")  # s's old entry is gone
    assert (accounts.account(link, "t"), accounts.account(link, "s")) == ("", "r")
    feed(accounts, link, ":bot!u@h NICK bot2", ":s!u@h PART #a")
    assert accounts.account(link, "s") == ""


def test_names_with_prefixes_and_userhosts():
    accounts, link = in_channels()
    link.isupport["PREFIX"] = "(Yov)!@+"
    feed(accounts, link, ":irc 353 bot = #n :!@alice +bob!b@h @bot", ":u!u@h ACCOUNT u_acct",
         ":alice!a@h ACCOUNT a", ":bob!b@h ACCOUNT b")  # fmt: skip
    assert accounts.members == {"#n": {"alice", "bob"}}  # joined by a bouncer: no own JOIN
    assert (accounts.account(link, "alice"), accounts.account(link, "bob")) == ("a", "b")
    feed(accounts, link, ":irc 353 bot = #other :carol")
    assert "#other" not in accounts.members
    accounts.reset()
    assert accounts.account(link, "alice") == ""
