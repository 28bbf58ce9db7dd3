"""The ``phabricator`` tracker through the bot, against the stateful fake Conduit: Corto's
lines leave the task as Corto leaves it; failures are one short line, the incident is
saved anyway, and the task catches up with the next change."""

from __future__ import annotations

import logging

import pytest

from tests.plugins.conduit_fake import FakeConduit
from tests.plugins.incidents.helpers import created_id, store_of
from tests.waiting import free_port, wait_for

TOKEN = "api-" + "u" * 28
DOCS = "https://docs.example.org/incidents/{id}"


@pytest.fixture
def phab():
    """Phabricator with the bot's account, Carol, Corto's project and the SRE ACL."""
    fake = FakeConduit()
    fake.bot = fake.add_user("univac-bot", token=TOKEN, bot=True)
    fake.carol = fake.add_user("carol", real_name="Carol")
    fake.incident = fake.add_project("Wikimedia-Incident")
    fake.acl = fake.add_project("acl*sre-team", members=(fake.bot, fake.carol))
    yield fake
    fake.close()


def tracked(phab: FakeConduit, **settings) -> dict:
    return {"tracker": "phabricator", "phabricator_url": phab.base, "phabricator_token": TOKEN,
            "phabricator_user": "univac-bot", "phabricator_timeout_s": 30.0,
            "corto_compat": True, "channels": ["#sre"], "document_url": DOCS} | settings


def say(bot, text: str, who: str = "alice") -> str:
    replies = bot.ask(text, sender=who, target="#sre")
    assert len(replies) == 1, replies
    return replies[0]


def tracker_of(bot):
    return bot.bot.contexts["incidents"].shared.incidents.tracker


def test_cortos_run_leaves_the_task_as_corto_would(incidents_bot, phab):
    bot = incidents_bot(**tracked(phab))
    created = say(bot, "univac: create Elevated 5xx on the API gateway")
    found = created_id(created)
    assert created == (f"Created {found} (#1): P2 general (prod). Document: "
                       f"https://docs.example.org/incidents/{found}")
    assert say(bot, "univac: list").startswith(f"#1 {found} P2 general open")
    assert say(bot, "univac: log T1 rolled back the deploy") == f"Logged on {found}."
    assert say(bot, "univac: set-coordinator T1 carol") == f"carol now coordinates {found}."
    assert say(bot, "univac: resolve T1") == f"Resolved {found}."
    assert say(bot, "univac: list") == "No open incidents."

    (task,) = phab.tasks.values()
    assert (task.id, task.title, task.author) == (1, "Elevated 5xx on the API gateway",
                                                  phab.bot.phid)
    assert task.description == (
        f"Incident {found}: P2, service general (prod), started 2026-03-02T09:00:00.000000Z, "
        "opened in chat by alice.\n\n"
        f"Incident document: https://docs.example.org/incidents/{found}\n\n"
        "This task mirrors the incident log, which stays the record: change the incident "
        "from chat.")
    assert task.projects == [phab.incident.phid]
    assert (task.view, task.edit) == (phab.acl.phid, phab.acl.phid)
    assert task.history("status") == ["progress", "open"]  # In Progress, then Open
    assert task.owner == phab.carol.phid
    assert task.comments == ["alice: rolled back the deploy"]
    assert store_of(bot).incident(found).refs == {"phabricator": "T1"}
    assert [c.method for c in phab.made()] == [
        "project.search", "project.search", "maniphest.edit",  # the project and the ACL
        "maniphest.edit", "user.search", "maniphest.edit", "maniphest.edit"]


def test_the_transactions_follow_the_edit_endpoint_contract(incidents_bot, phab):
    bot = incidents_bot(**tracked(phab))
    found = created_id(say(bot, "!inc create --sev P1 --service gateway Gateway 5xx"))
    say(bot, f"!inc sev {found} P0")
    say(bot, "!inc coordinator T1 @carol")
    say(bot, f"!inc followup {found} --owner carol --due 2026-03-10 Add a canary")
    say(bot, f"!inc resolve {found}")
    say(bot, f"!inc close {found}")
    say(bot, f"!inc reopen {found}")
    create, *edits = [c.params for c in phab.made("maniphest.edit")]
    assert [(x["type"], x["value"]) for x in create["transactions"]][2:] == [
        ("projects.add", [phab.incident.phid]), ("view", phab.acl.phid),
        ("edit", phab.acl.phid), ("status", "progress")]
    assert "objectIdentifier" not in create
    assert [(e["objectIdentifier"], e["transactions"]) for e in edits] == [
        ("T1", [{"type": "comment", "value": "Severity P1 -> P0 (alice)."}]),
        ("T1", [{"type": "owner", "value": phab.carol.phid}]),
        ("T1", [{"type": "comment", "value": "Follow-up: Add a canary (owner carol, P2, due "
                                             "2026-03-10; added by alice)."}]),
        ("T1", [{"type": "status", "value": "open"}]),
        ("T1", [{"type": "status", "value": "resolved"}]),
        ("T1", [{"type": "status", "value": "progress"}]),
    ]
    assert phab.tasks[1].history("status") == ["progress", "open", "resolved", "progress"]
    assert [c.params for c in phab.made("user.search")] == [
        {"constraints": {"usernames": ["carol"]}, "limit": "1"}]


def test_names_are_resolved_once(incidents_bot, phab):
    bot = incidents_bot(**tracked(phab))
    for title in ("one", "two", "three"):
        say(bot, f"!inc create {title}")
    for ref in ("T1", "T2"):
        say(bot, f"!inc coordinator {ref} carol")
    counts = {m: len(phab.made(m)) for m in ("project.search", "user.search", "maniphest.edit")}
    assert counts == {"project.search": 2, "user.search": 1, "maniphest.edit": 5}
    assert len(tracker_of(bot).cache) == 3


def test_a_bad_token_is_refused_in_one_line_and_never_shown(incidents_bot, phab, caplog):
    wrong = "api-" + "w" * 28
    bot = incidents_bot(**tracked(phab, phabricator_token=wrong))
    with caplog.at_level(logging.INFO, logger="univac"):
        reply = say(bot, "univac: create Gateway 5xx")
    found = created_id(reply)
    assert reply.endswith(" (not mirrored to phabricator: Phabricator refused the API token "
                          "of univac-bot)")
    assert store_of(bot).incident(found).refs == {}
    assert 'ERR-INVALID-AUTH: API token "***" is not valid.' in caplog.text
    assert wrong not in caplog.text and "Traceback" not in caplog.text
    assert not phab.tasks


def test_no_such_user_keeps_the_coordinator_here(incidents_bot, phab):
    bot = incidents_bot(**tracked(phab))
    found = created_id(say(bot, "univac: create Gateway 5xx"))
    assert say(bot, "univac: set-coordinator T1 nobody") == (
        f"nobody now coordinates {found}. (not mirrored to phabricator: no such user nobody)")
    assert store_of(bot).incident(found).coordinator == "nobody"
    assert phab.tasks[1].owner is None


def test_a_task_gone_from_phabricator_is_named(incidents_bot, phab, caplog):
    bot = incidents_bot(**tracked(phab))
    found = created_id(say(bot, "univac: create Gateway 5xx"))
    phab.tasks[1].view = phab.bot.phid + "-someone-else"  # hidden from the bot
    with caplog.at_level(logging.WARNING, logger="univac"):
        assert say(bot, "univac: log T1 still failing") == (
            f"Logged on {found}. (not mirrored to phabricator: no such task T1, or the bot may "
            "not see it)")
    assert 'Monogram "T1" does not identify a valid object.' in caplog.text
    assert [e.message for e in store_of(bot).events(found)][-1] == "still failing"


def test_phabricator_down_then_back_the_task_catches_up(incidents_bot, phab):
    bot = incidents_bot(**tracked(phab))
    phab.down = True
    found = created_id(reply := say(bot, "univac: create Gateway 5xx"))
    assert reply.endswith("(not mirrored to phabricator: Phabricator did not answer)")
    assert store_of(bot).incident(found) is not None
    phab.down = False
    assert say(bot, f"univac: log {found} rolled back") == f"Logged on {found}."
    assert store_of(bot).incident(found).refs == {"phabricator": "T1"}
    assert say(bot, "univac: resolve T1") == f"Resolved {found}."
    (task,) = phab.tasks.values()
    assert task.comments == ["alice: rolled back"]
    assert task.history("status") == ["progress", "open"]
    assert [c.method for c in phab.made()] == [  # the first call met the 503
        "project.search", "maniphest.search", "project.search", "maniphest.edit",
        "maniphest.edit"]


def test_nothing_listening_is_phabricator_not_answering(incidents_bot, phab):
    bot = incidents_bot(**tracked(phab, phabricator_url=f"http://127.0.0.1:{free_port()}"))
    assert say(bot, "univac: create Gateway 5xx").endswith(
        "(not mirrored to phabricator: Phabricator did not answer)")


def test_a_stalled_create_is_found_again_not_made_twice(incidents_bot, phab, caplog):
    bot = incidents_bot(**tracked(phab, phabricator_timeout_s=1.0))
    phab.stall("maniphest.edit")
    with caplog.at_level(logging.WARNING, logger="univac"):
        reply = say(bot, "univac: create Gateway 5xx")
    found = created_id(reply)
    assert reply.endswith("(not mirrored to phabricator: Phabricator did not answer)")
    assert "maniphest.edit: no answer within 1 s" in caplog.text
    phab.release()
    wait_for(lambda: phab.tasks, what="the stalled create to be made")
    tracker_of(bot).conduit.timeout_s = 30.0  # a loaded machine: no second timeout
    assert say(bot, f"univac: log {found} rolled back") == f"Logged on {found}."
    assert list(phab.tasks) == [1]
    assert phab.tasks[1].comments == ["alice: rolled back"]
    assert store_of(bot).incident(found).refs == {"phabricator": "T1"}


def test_the_phabricator_settings_are_checked(incidents_bot):
    bot = incidents_bot(tracker="phabricator", phabricator_url="ftp://phab.example.org",
                        phabricator_policy_view="", phabricator_timeout_s=0)
    errors = bot.errors
    assert sorted(errors) == [f"plugins.incidents.phabricator_{key}" for key in (
        "policy_view", "timeout_s", "token", "url")]
    assert errors["plugins.incidents.phabricator_url"] == (
        "'ftp://phab.example.org' is not a URL like https://phabricator.example.org")
    clear = incidents_bot(tracker="phabricator", phabricator_url="http://phab.example.org",
                          phabricator_token="api-x")
    assert clear.errors["plugins.incidents.phabricator_url"] == (
        "plain http is allowed on loopback only, not 'http://phab.example.org'")


def test_status_names_the_tracker(incidents_bot, phab):
    bot = incidents_bot("status", **tracked(phab))
    assert any("mirrored to phabricator" in line for line in bot.ask("!status"))
