"""The plugin as a whole: its settings, the working document, its data folder, the
store's health in ``!status`` and ``/healthz`` (the ``report`` hook and the ``backend``
poller), and a store that cannot write."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from tests.plugins.incidents.helpers import ROLES, ask, created_id, store_of
from univac.plugins.http import health


def test_settings_problems_name_their_keys(tmp_path):
    from univac.config import from_mapping
    from univac.settings import Source

    config = from_mapping({"bot": {"plugins": ["incidents"], "state_dir": str(tmp_path)},
                           "plugins": {"incidents": {
                               "writers": "", "store": "auto", "shift_zone": "Nowhere/Land",
                               "default_severity": "P9", "dsn": "not a dsn"}}},
                          Source("<test>", tmp_path))
    keys = sorted(issue.key for issue in config.plugin_issues)
    assert keys == ["plugins.incidents.default_severity", "plugins.incidents.dsn",
                    "plugins.incidents.shift_zone", "plugins.incidents.writers"]
    assert "not a dsn" not in str(config.plugin_issues)  # a DSN is a secret


def test_each_incident_gets_a_working_document(incidents_bot, tmp_path):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create --service db Replica lag"))
    store = store_of(bot)
    (doc,) = store.artifacts(found)
    text = store.content(doc).decode()
    assert text.startswith(f"# Replica lag\n\n- Incident: {found}\n- Severity: P2\n")
    assert (tmp_path / "incidents" / found / "document.md").read_text() == text
    assert f"document: {found}/document.md in the JSON lines folder" in ask(bot, "!inc show 1")


def test_a_document_link_template_points_elsewhere(incidents_bot):
    bot = incidents_bot(document_url="https://docs.example.org/incidents/{id}?s={short}")
    found = created_id(ask(bot, "!inc create x"))
    short = found.rsplit("_", 1)[1]
    assert f"document: https://docs.example.org/incidents/{found}?s={short}" in \
        ask(bot, "!inc show 1")


def test_the_backend_poller_reports_the_store(incidents_bot):
    bot = incidents_bot("status")
    assert bot.tick("incidents.backend") == []
    poller = next(p for p in bot.bot.status().pollers if p.name == "incidents.backend")
    assert (poller.name, poller.runs, poller.failures, poller.schedule) == (
        "incidents.backend", 1, 0, "every 300 s")
    assert ask(bot, "!inc status").startswith("Incident store: jsonl, writing to jsonl: ")


def test_without_a_folder_the_records_go_to_the_plugins_data_folder(univac_bot, tmp_path):
    state = tmp_path / "elsewhere"
    bot = univac_bot("incidents", roles=ROLES, state_dir=state,
                     settings={"incidents": {"writers": "sre"}})
    found = created_id(ask(bot, "!inc create --service db Replica lag"))
    assert json.loads((state / "incidents" / "incidents.jsonl").read_text())["id"] == found
    assert (state / "incidents" / found / "document.md").is_file()
    assert oct((state / "incidents").stat().st_mode & 0o777) == "0o700"


def test_status_and_healthz_name_the_store_in_use(incidents_bot):
    bot = incidents_bot("status")
    ask(bot, "!inc create first")
    lines = bot.ask("!status")
    assert "plugin incidents: store jsonl, 1 incident(s)" in lines
    answer = health(bot.bot.contexts["incidents"], failures_unhealthy=3)
    assert answer.status == 200
    assert json.loads(answer.body)["plugins"] == {"incidents": "store jsonl, 1 incident(s)"}


def test_a_full_disk_refuses_the_change_clearly_and_leaves_no_partial_line(
        incidents_bot, tmp_path, monkeypatch):
    bot = incidents_bot()
    ask(bot, "!inc create first")
    events = tmp_path / "incidents" / "events.jsonl"
    before = events.read_bytes()
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") == str(events):
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    assert ask(bot, "!inc create second") == \
        "The incident log cannot be written right now (details are in the bot's log)."
    assert ask(bot, "!inc log 1 more") == \
        "The incident log cannot be written right now (details are in the bot's log)."
    monkeypatch.undo()
    assert events.read_bytes() == before  # the half-written line was cut back
    assert ask(bot, "!inc list").count("\n") == 0  # only the first incident
    outcomes = [(r["action"], r["outcome"]) for r in audit_of(bot)
                if r["action"].startswith("incident.")]
    assert outcomes == [("incident.create", "done"), ("incident.create", "failed"),
                        ("incident.log", "failed")]


def test_a_folder_gone_fails_the_health_check(incidents_bot, tmp_path):
    bot = incidents_bot()
    (tmp_path / "incidents").rename(tmp_path / "moved")
    with pytest.raises(AssertionError, match="failed: StoreDown"):
        bot.tick("incidents.backend")
    assert bot.bot.status().pollers[0].last_error == "StoreDown"


def audit_of(bot) -> list[dict]:
    bot.bot.audit.close()
    return [json.loads(line) for line in Path(bot.bot.audit.path).read_text().splitlines()]
