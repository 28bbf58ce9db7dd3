"""Access control: roles from identities, rules, approvals, confirmations, the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.sample_plugins import ops
from tests.waiting import wait_for
from univac.message import Message

OPS = str(Path(ops.__file__))
ROLES = {
    "ops": {"test": ["account:alice", "mask:*!*@trusted.example"]},
    "approvers": {"*": ["account:carol", "account:dave", "account:erin"]},
}


@pytest.fixture
def bot(univac_bot, tmp_path: Path):
    return univac_bot("help", "approvals", OPS, roles=ROLES, state_dir=tmp_path)


def audit(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def start(bot, text: str, identity: str, sender: str = "carol") -> None:
    """Deliver without waiting: the handler blocks until people answer."""
    bot.bot.dispatcher.deliver(Message("test", "#test", sender, text, identity=identity))


class Chat:
    """Everything the bot said in the test channel, including replies that ask() took."""

    def __init__(self, bot) -> None:
        self.bot = bot
        self.seen: list[str] = []

    def ask(self, text: str, identity: str, sender: str) -> list[str]:
        replies = self.bot.ask(text, sender=sender, identity=identity)
        self.seen.extend(replies)
        return replies

    def wait_for(self, fragment: str) -> str:
        def arrived() -> bool:
            self.seen.extend(text for _, text in self.bot.fakes["test"].take())
            return any(fragment in text for text in self.seen)

        wait_for(arrived, what=f"the bot to say {fragment!r}")
        return next(text for text in self.seen if fragment in text)


def said(bot, fragment: str) -> str:
    """Wait until the bot has said something containing ``fragment``; return that line."""
    return Chat(bot).wait_for(fragment)


def test_a_role_comes_from_the_identity_not_the_nick(bot, tmp_path: Path) -> None:
    assert bot.ask("!restart web", identity="account:alice") == ["restarted web"]
    assert bot.ask("!restart web", sender="alice", identity="mask:alice!x@evil.example") == [
        "You need the 'ops' role for restart."]
    assert bot.ask("!restart db", identity="mask:bob!b@trusted.example") == ["restarted db"]
    records = audit(tmp_path)
    assert [(r["outcome"], r["identity"]) for r in records] == [
        ("done", "account:alice"),
        ("refused", "mask:alice!x@evil.example"),
        ("done", "mask:bob!b@trusted.example"),
    ]
    assert records[0]["command"] == "ops.restart" and records[0]["arguments"] == "web"


def test_help_lists_only_what_the_asker_may_run(bot) -> None:
    (everyone,) = bot.ask("!help", identity="account:bob")
    (alice,) = bot.ask("!help", identity="account:alice")
    assert "restart" not in everyone
    assert "restart" in alice


def test_rules_from_the_config_limit_channels_private_and_roles(univac_bot) -> None:
    rules = {"restart": {"channels": ["#ops"]}, "wipe": {"private_only": True},
             "status-check": {"requires": "ops"}}
    bot = univac_bot(OPS, roles=ROLES, access=rules)
    alice = {"identity": "account:alice"}
    assert bot.ask("!restart x", **alice) == ["restart only works in #ops."]
    assert bot.ask("!restart x", target="#ops", **alice) == ["restarted x"]
    assert bot.ask("restart x", private=True, **alice) == ["restarted x"]
    assert bot.ask("!wipe", **alice) == ["wipe only works in a private message."]
    assert bot.ask("!status-check", identity="account:bob") == [
        "You need the 'ops' role for status-check."]


def test_two_approvals_from_others_complete_a_request(bot, tmp_path: Path) -> None:
    start(bot, "!deploy 10 v2 to prod", "account:carol")
    request = said(bot, "Approval needed")
    assert "(2 from role 'approvers'): deploy v2 to prod. Requested by carol" in request
    assert bot.ask("!approve 1", sender="carol", identity="account:carol") == [
        "You cannot answer your own request 1."]
    assert bot.ask("!approve 1", sender="bob", identity="account:bob") == [
        "You need the 'approvers' role to answer request 1."]
    assert bot.ask("!approve 1", sender="dave", identity="account:dave") == [
        "Approval 1 of 2 recorded for request 1."]
    assert bot.ask("!approve 1", sender="dave", identity="account:dave") == [
        "Approval 1 of 2 recorded for request 1."]
    chat = Chat(bot)
    assert "Request 1 approved: deploy v2 to prod" in chat.ask(
        "!approve 1", "account:erin", "erin")
    assert chat.wait_for("deploy v2 to prod: approved") == (
        "deploy v2 to prod: approved (request 1; approvers [account:dave, account:erin], "
        "denied by [])")
    outcomes = [r["outcome"] for r in audit(tmp_path) if r["action"] == "approval"]
    assert outcomes == ["requested", "refused", "refused", "approved", "approved", "approved"]


def test_a_denial_ends_a_request(bot) -> None:
    chat = Chat(bot)
    start(bot, "!deploy 10 v3", "account:carol")
    chat.wait_for("Approval needed")
    assert chat.ask("!approve 1", "account:erin", "erin") == [
        "Approval 1 of 2 recorded for request 1."]
    assert "Request 1 denied by dave." in chat.ask("!deny 1", "account:dave", "dave")
    assert chat.wait_for("deploy v3: denied") == (
        "deploy v3: denied (request 1; approvers [account:erin], denied by [account:dave])")
    assert chat.ask("!approve 1", "account:erin", "erin") == ["There is no pending request 1."]


def test_an_unanswered_request_expires(bot, tmp_path: Path) -> None:
    start(bot, "!deploy 0.2 v4", "account:carol")
    assert said(bot, "deploy v4: expired") == (
        "deploy v4: expired (request 1; approvers [], denied by [])")
    assert [r["outcome"] for r in audit(tmp_path)][-1] == "expired"


def test_self_approval_when_the_action_allows_it(bot) -> None:
    chat = Chat(bot)
    start(bot, "!hotfix typo", "account:carol")
    chat.wait_for("Approval needed")
    assert "Request 1 approved: typo" in chat.ask("!approve 1", "account:carol", "carol")
    assert chat.wait_for("hotfix typo: approved")


def test_a_confirmation_takes_the_requesters_yes_only(bot, tmp_path: Path) -> None:
    start(bot, "!wipe", "account:bob", sender="bob")
    assert said(bot, "bob: Really wipe the cache? (yes/no)")
    assert bot.ask("yes", sender="mallory", identity="account:mallory") == []
    start(bot, "yes", "account:bob", sender="bob")
    assert said(bot, "wiped")
    assert [r["outcome"] for r in audit(tmp_path) if r["action"] == "confirmation"] == [
        "confirmed"]


def test_plugins_write_their_own_audit_records(bot, tmp_path: Path) -> None:
    assert bot.ask("!status-check", identity="account:bob") == ["ok"]
    record = audit(tmp_path)[-1]
    assert (record["action"], record["plugin"], record["detail"]) == (
        "status_check", "ops", "manual")


def tell(bot, message: Message) -> list[tuple[str, str]]:
    """Deliver a message as its transport made it; everything sent back, with targets."""
    with bot.bot.pool.batch() as batch:
        bot.bot.dispatcher.deliver(message)
    assert batch.wait(10), "handlers still busy"
    return bot.fakes[message.transport].take()


def in_thread(text: str, channel: str, thread: str, sender: str = "tester") -> Message:
    return Message("test", f"{channel}/{thread}", sender, text, identity=f"account:{sender}",
                   thread=thread)


def test_a_thread_is_in_its_channel_for_access_rules(univac_bot) -> None:
    bot = univac_bot(OPS, roles=ROLES, access={"restart": {"channels": ["#ops"]}})
    message = in_thread("!restart x", "#ops", "$root", "alice")
    assert (message.channel, message.target) == ("#ops", "#ops/$root")
    assert tell(bot, message) == [("#ops/$root", "restarted x")]  # the reply: in the thread
    assert tell(bot, in_thread("!restart x", "#dev", "$root", "alice")) == [
        ("#dev/$root", "restart only works in #ops.")]
    lookalike = Message("test", "#ops/$root", "alice", "!restart x",  # no thread: a name
                        identity="account:alice")
    assert tell(bot, lookalike) == [("#ops/$root", "restart only works in #ops.")]


def test_threads_share_their_channel_s_rate_limit(univac_bot) -> None:
    bot = univac_bot("echo", bot={"channel_rate": 0.001, "channel_burst": 2})
    assert tell(bot, in_thread("!echo 1", "#test", "t1", "a")) == [("#test/t1", "1")]
    assert tell(bot, in_thread("!echo 2", "#test", "t2", "b")) == [("#test/t2", "2")]
    # a third newcomer borrows the channel's reserve (burst 2: one token), a fourth waits
    assert tell(bot, in_thread("!echo 3", "#test", "t3", "c")) == [("#test/t3", "3")]
    assert bot.ask("!echo 4", sender="d") == []
    assert tell(bot, in_thread("!echo 5", "#other", "t1", "c")) == [("#other/t1", "5")]


def test_per_channel_rate_limit_is_quiet(univac_bot) -> None:
    bot = univac_bot("echo", bot={"channel_rate": 0.001, "channel_burst": 2})
    assert bot.ask("!echo 1", sender="a") == ["1"]
    assert bot.ask("!echo 2", sender="b") == ["2"]
    assert bot.ask("!echo 3", sender="c") == ["3"]  # a newcomer borrows the reserve
    assert bot.ask("!echo 3", sender="d") == []  # nothing is left to lend
    assert bot.ask("!echo 3", sender="a") == []
    assert bot.ask("!echo 4", target="#other") == ["4"]
    assert bot.ask("echo 5", sender="c", private=True) == ["5"]


def test_waiting_handlers_never_starve_the_approve_command(univac_bot) -> None:
    bot = univac_bot("approvals", OPS, roles=ROLES, bot={"max_reactive": 1})
    chat = Chat(bot)
    for version in ("a", "b", "c"):
        start(bot, f"!hotfix {version}", "account:carol")
    chat.wait_for("Answer with approve 3 or deny 3")
    for number in (1, 2, 3):
        chat.ask(f"!approve {number}", "account:carol", "carol")
    for version in ("a", "b", "c"):
        assert chat.wait_for(f"hotfix {version}: approved")
    assert wait_for(lambda: bot.bot.pool.load()[0] <= 1, timeout=40)


def test_a_plugin_asks_whether_the_sender_holds_a_role(bot) -> None:
    assert bot.ask("!whoami", identity="account:alice") == ["ops"]
    assert bot.ask("!whoami", identity="account:mallory") == ["not ops"]
    assert bot.ask("!whoami", identity="") == ["not ops"]
