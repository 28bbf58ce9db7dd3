"""The incidents plugin's ``postgres`` and ``auto`` stores against a real PostgreSQL
started by the suite (tests/integration/postgres_servers.py), and its migration tool.

``auto`` is tested the way it fails in production: the PostgreSQL server is stopped in
the middle of the test while the bot keeps taking incidents, then started again; after
the plugin's poller ran, every record is in PostgreSQL exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.plugins.incidents.helpers import ROLES, Clock, ask, created_id
from univac.plugins.http import health
from univac.plugins.incidents import cli
from univac.plugins.incidents.model import Batch, Event, Incident, new_id, timestamp
from univac.plugins.incidents.stores import StoreDown
from univac.plugins.incidents.stores.auto import AutoStore
from univac.plugins.incidents.stores.jsonl import JsonlStore
from univac.plugins.incidents.stores.postgres import DDL, PostgresStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as connection:
        return connection.execute(query).fetchall()


def incident(number: int) -> Incident:
    stamp = timestamp(NOW)
    return Incident(f"inc_20260302_0900_pg{number:04d}", f"incident {number}", "db", "prod",
                    "P2", "open", stamp, "account:alice", stamp, stamp)


def comment(incident_id: str, text: str) -> Event:
    return Event(new_id("ev"), incident_id, timestamp(NOW), "comment", text, "account:alice")


def test_postgres_store_writes_once_and_keeps_the_newest_snapshot(postgres):
    store = PostgresStore(postgres)
    first = incident(1)
    note = comment(first.id, "looking")
    assert store.write(Batch((first,), (note,))) == 2
    assert store.write(Batch((first,), (note,))) == 0  # again: nothing added
    newer = first.changed(NOW, status="resolved", resolved_at=timestamp(NOW))
    assert store.write(Batch((newer,))) == 1
    assert store.write(Batch((first,))) == 0  # an older snapshot never wins
    assert store.incidents() == [newer]
    assert store.events(first.id) == [note]
    assert rows(postgres, "SELECT status, version FROM incidents") == [("resolved", 2)]
    store.close()


def test_migration_is_idempotent_and_the_dry_run_prints_the_ddl(postgres, tmp_path, capsys):
    assert cli.main(["migrate", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert printed == "".join(f"{statement};\n" for statement in DDL)
    assert rows(postgres, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'incident%'") \
        == [(0,)]  # the dry run connected to nothing
    config = tmp_path / "univac.toml"
    (tmp_path / "dsn").write_text(postgres)
    config.write_text('[bot]\nplugins = ["incidents"]\n[plugins.incidents]\nwriters = "sre"\n'
                      'store = "postgres"\ndsn_file = "dsn"\n')
    assert cli.main(["migrate", "--config", str(config)]) == 0
    assert cli.main(["migrate", "--config", str(config)]) == 0  # again: nothing changes
    tables = rows(postgres, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'incident%'"
                            " ORDER BY 1")
    assert tables == [("incident_artifacts",), ("incident_events",), ("incidents",)]


def test_the_migration_tool_names_a_bad_configuration(tmp_path, capsys):
    config = tmp_path / "univac.toml"
    config.write_text('[bot]\nplugins = ["incidents"]\n[plugins.incidents]\nwriters = "sre"\n')
    assert cli.main(["migrate", "--config", str(config)]) == 1
    assert "has no dsn" in capsys.readouterr().err
    assert cli.main(["migrate", "--config", str(tmp_path / "missing.toml")]) == 1
    assert cli.main(["frobnicate"]) == 2


def test_the_plugin_on_postgres(univac_bot, postgres):
    bot = univac_bot("incidents", roles=ROLES, clock=Clock(), settings={"incidents": {
        "writers": "sre", "store": "postgres", "dsn": postgres}})
    found = created_id(ask(bot, "!inc create --sev P1 --service db Replica lag"))
    ask(bot, "!inc log 1 failing over")
    assert ask(bot, "!inc list").startswith(f"#1 {found} P1 db open")
    assert rows(postgres, "SELECT id, severity FROM incidents") == [(found, "P1")]
    assert [r[0] for r in rows(postgres, "SELECT type FROM incident_events ORDER BY seq")] == [
        "created", "handover_note", "comment"]
    (content,) = rows(postgres, "SELECT content FROM incident_artifacts")
    assert content[0].startswith("# Replica lag\n")


def test_postgres_that_goes_away_is_a_clear_answer_and_a_failing_check(
        univac_bot, postgres, postgres_server):
    bot = univac_bot("incidents", roles=ROLES, clock=Clock(), settings={"incidents": {
        "writers": "sre", "store": "postgres", "dsn": postgres}})
    ask(bot, "!inc create before")
    postgres_server.stop()
    assert ask(bot, "!inc create during") == ("The incident database cannot be reached right "
                                              "now (details are in the bot's log).")
    with pytest.raises(AssertionError, match="failed: StoreDown"):
        bot.tick("incidents.backend")
    postgres_server.start()
    assert created_id(ask(bot, "!inc create after"))  # a new connection, no restart needed
    assert sorted(r[0] for r in rows(postgres, "SELECT title FROM incidents")) == [
        "after", "before"]


def test_auto_keeps_going_through_an_outage_and_copies_everything_back_once(
        univac_bot, postgres, postgres_server, tmp_path, caplog):
    clock = Clock()
    folder = tmp_path / "journal"
    bot = univac_bot("incidents", "status", roles=ROLES, clock=clock, settings={"incidents": {
        "writers": "sre", "store": "auto", "dsn": postgres, "folder": str(folder)}})
    before = created_id(ask(bot, "!inc create --service api before the outage"))
    assert ask(bot, "!inc status").startswith("Incident store: auto, writing to postgres:")

    postgres_server.stop()
    clock.advance(minutes=1)
    during = created_id(ask(bot, "!inc create --service db during the outage"))
    assert ask(bot, f"!inc log {before} still failing") == f"Logged on {before}."
    assert ask(bot, "!inc resolve 1") == f"Resolved {before}."
    ask(bot, "!inc note written while PostgreSQL was away")
    ask(bot, f"!inc followup {during} --owner bob Check the failover")
    assert ask(bot, "!inc list").startswith(f"#2 {during} P2 db open")  # read from the journal
    status = ask(bot, "!inc status")
    assert status.startswith("Incident store: auto, writing to jsonl: JSON lines in ")
    assert "PostgreSQL is unreachable" in status
    assert bot.tick("incidents.backend") == []  # the fallback is degraded, not failed
    (line,) = [line for line in bot.ask("!status") if line.startswith("plugin incidents:")]
    assert line.startswith("plugin incidents: store auto, degraded: writing to the JSON "
                           "lines folder since ")
    assert "PostgreSQL unreachable; 9 record(s) to copy when it is back" in line
    healthz = health(bot.bot.contexts["incidents"], failures_unhealthy=1)  # as /healthz
    assert healthz.status == 200  # webhooks keep coming in: alerts are needed most now
    document = json.loads(healthz.body)
    assert document["plugins"]["incidents"] == line.removeprefix("plugin incidents: ")
    assert document["pollers"]["incidents.backend"]["failures"] == 0
    assert fallback_gauge(bot.bot.metrics().plugins) == 1.0
    assert "PostgreSQL is unreachable" in caplog.text

    postgres_server.start()
    assert bot.tick("incidents.backend") == []
    assert "PostgreSQL is back; copied" in caplog.text
    assert ask(bot, "!inc status").startswith("Incident store: auto, writing to postgres:")
    assert health(bot.bot.contexts["incidents"], failures_unhealthy=1).status == 200
    assert fallback_gauge(bot.bot.metrics().plugins) == 0.0
    journal = JsonlStore(folder)
    for table, key, records in (
        ("incident_events", "id", journal.events()),
        ("incident_artifacts", "id", journal.artifacts()),
    ):
        found = rows(postgres, f"SELECT {key}, count(*) FROM {table} GROUP BY {key}")
        assert sorted(found) == sorted((r.id, 1) for r in records), table
    assert sorted(rows(postgres, "SELECT id, status, version FROM incidents")) == sorted(
        (i.id, i.status, i.version) for i in journal.incidents())
    assert (before, "resolved", 2) in rows(postgres, "SELECT id, status, version FROM incidents")
    assert [e.type for e in journal.events()] == [
        "created", "handover_note", "created", "handover_note", "comment", "status",
        "handover_note", "followup"]
    assert ask(bot, "!inc followups").startswith(f"{during} follow-up 1 (P2, bob, due ")
    bot.tick("incidents.backend")  # a second reconciliation copies nothing more
    assert len(rows(postgres, "SELECT id FROM incident_events")) == len(journal.events())


def fallback_gauge(report) -> float:
    """The ``incident_store_fallback`` gauge as /metrics serves it."""
    assert report.families["incident_store_fallback"].kind == "gauge"
    return report.values[("incident_store_fallback", ())]


def test_the_auto_store_fails_its_check_when_nothing_can_be_saved(
        postgres, postgres_server, tmp_path):
    journal = tmp_path / "journal"
    store = AutoStore(PostgresStore(postgres), JsonlStore(journal))
    postgres_server.stop()
    try:
        store.check()  # on the journal: degraded, no failure
        assert store.health().active == "jsonl"
        journal.rename(tmp_path / "gone")
        with pytest.raises(StoreDown):
            store.check()
    finally:
        postgres_server.start()
        store.close()


def test_auto_copies_what_other_programs_wrote_into_postgres_to_the_journal(
        postgres, tmp_path):
    elsewhere = PostgresStore(postgres)
    foreign = incident(7)
    elsewhere.write(Batch((foreign,), (comment(foreign.id, "from the runbook tool"),)))
    store = AutoStore(PostgresStore(postgres), JsonlStore(tmp_path))
    assert JsonlStore(tmp_path).incident(foreign.id) == foreign
    assert [e.message for e in JsonlStore(tmp_path).events()] == ["from the runbook tool"]
    store.close()
    elsewhere.close()


def test_auto_starts_on_the_journal_when_postgres_is_down_at_start(
        postgres, postgres_server, tmp_path):
    postgres_server.stop()
    store = AutoStore(PostgresStore(postgres, connect_timeout_s=2), JsonlStore(tmp_path))
    first = incident(1)
    store.write(Batch((first,), (comment(first.id, "while down"),)))
    assert store.health().active == "jsonl"
    store.check()  # still down: degraded, on the journal, no failure
    assert store.health().active == "jsonl"
    postgres_server.start()
    store.check()
    assert store.copied == 2
    assert rows(postgres, "SELECT id FROM incidents") == [(first.id,)]
    store.close()


def test_a_record_postgres_refuses_stays_in_the_journal_and_the_rest_is_copied(
        postgres, postgres_server, tmp_path, caplog):
    store = AutoStore(PostgresStore(postgres), JsonlStore(tmp_path))
    postgres_server.stop()
    good = incident(1)
    store.write(Batch((good,)))
    odd = json.loads(json.dumps(incident(2).to_record()).replace('"P2"', '"high"'))
    with open(Path(tmp_path) / "incidents.jsonl", "a") as file:  # another tool's severity
        file.write(json.dumps(odd) + "\n")
    postgres_server.start()
    store.check()
    assert rows(postgres, "SELECT id FROM incidents") == [(good.id,)]
    assert "PostgreSQL refused a record" in caplog.text
    store.close()
