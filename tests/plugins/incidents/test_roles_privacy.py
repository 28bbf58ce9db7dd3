"""Who may do what (writers, readers, everyone else), where details may be shown, and
the audit trail of every write and refusal."""

from __future__ import annotations

import json
from pathlib import Path

from tests.plugins.incidents.helpers import ask, created_id


def audit(bot) -> list[dict]:
    path = Path(bot.bot.audit.path)
    bot.bot.audit.close()  # writes the pending refusal summaries
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_writers_write_readers_read_everyone_else_is_refused(incidents_bot):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create Payments failing"))
    assert ask(bot, "!inc create mine too", who="bob") == \
        "You need the 'sre' role to create incidents."
    assert ask(bot, f"!inc resolve {found}", who="bob") == \
        "You need the 'sre' role to resolve incidents."
    assert ask(bot, "!inc list", who="bob").startswith(f"#1 {found} P2 general open")
    assert ask(bot, "!inc list", who="eve") == \
        "You need the 'oncall' or 'sre' role to list incidents."
    assert ask(bot, f"!inc show {found}", who="eve") == \
        "You need the 'oncall' or 'sre' role to read incidents."
    assert ask(bot, "!inc help", who="eve").startswith("Incident subcommands:")
    records = [r for r in audit(bot) if r["action"].startswith("incident.")]
    assert [(r["action"], r["outcome"], r["identity"]) for r in records] == [
        ("incident.create", "done", "test:alice"),
        ("incident.create", "refused", "test:bob"),
        ("incident.resolve", "refused", "test:bob"),
        ("incident.list", "refused", "test:eve"),
        ("incident.show", "refused", "test:eve"),
    ]
    assert records[0]["incident"] == found
    assert records[1]["reason"] == "You need the 'sre' role to create incidents."


def test_rejected_and_failed_writes_are_audited_with_their_reason(incidents_bot):
    bot = incidents_bot()
    ask(bot, "!inc create one")
    assert ask(bot, "!inc close 1").endswith("resolve it first.")
    assert ask(bot, "!inc sev 1").startswith("missing severity.")
    outcomes = [(r["action"], r["outcome"], r.get("reason", ""))
                for r in audit(bot) if r["action"].startswith("incident.")]
    assert outcomes[1:] == [
        ("incident.close", "rejected", outcomes[1][2]),
        ("incident.sev", "rejected", "missing severity"),
    ]
    assert outcomes[1][2].endswith("is open: resolve it first.")


def test_writers_read_without_the_readers_role_and_readers_may_be_nobody(incidents_bot):
    bot = incidents_bot(readers="")
    ask(bot, "!inc create one")
    assert ask(bot, "!inc list").startswith("#1 ")
    assert ask(bot, "!inc list", who="bob") == "You need the 'sre' role to list incidents."


def test_details_only_in_private_or_configured_channels(incidents_bot):
    bot = incidents_bot(channels=["test:#sre", "#war-room"])
    found = created_id(ask(bot, "!inc create --service db Replica lag"))
    in_lobby = bot.ask("!inc show 1", sender="bob", target="#lobby")
    assert in_lobby == [f"{found} is an incident; for details ask me in a private message "
                        "(or in test:#sre, #war-room)."]
    assert bot.ask("!inc list", sender="bob", target="#lobby") == [
        "1 open incident(s); for details ask me in a private message (or in test:#sre, "
        "#war-room)."]
    for place in ("#sre", "#war-room"):
        (reply,) = bot.ask("!inc list", sender="bob", target=place)
        assert reply.startswith(f"#1 {found} P2 db open")
    assert ask(bot, "!inc list", who="bob").startswith(f"#1 {found}")  # private


def test_nothing_of_an_incident_leaks_into_other_channels(incidents_bot):
    bot = incidents_bot()
    (created,) = bot.ask("!inc create --sev P0 --service vault Secret store sealed",
                         sender="alice", target="#lobby")
    found = created_id(created)
    assert created == f"Created {found} (#1); for details ask me in a private message."
    bot.ask("!inc coordinator 1 mallory", sender="alice", target="#lobby")
    said = [text for text in (
        *bot.ask("!inc list", sender="alice", target="#lobby"),
        *bot.ask(f"!inc show {found}", sender="alice", target="#lobby"),
        *bot.ask("!inc notes", sender="alice", target="#lobby"),
        *bot.ask("!inc followups", sender="alice", target="#lobby"),
    )]
    assert said and all(word not in " ".join(said)
                        for word in ("Secret", "sealed", "vault", "P0"))


def test_the_viewer_role_decides_who_sees_details(incidents_bot):
    bot = incidents_bot(viewers="sre")
    found = created_id(ask(bot, "!inc create Login broken"))
    assert ask(bot, f"!inc show {found}", who="bob") == \
        f"{found} is an incident; details are for the 'sre' role."
    assert ask(bot, f"!inc show {found}").startswith(f"#1 {found}")
