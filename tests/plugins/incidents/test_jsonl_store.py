"""The ``jsonl`` store on the real filesystem: the incident log's layout, byte for byte;
idempotent writes; torn and foreign lines; artifacts checked for type and size."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from univac.plugins.incidents.model import (
    Artifact,
    Batch,
    Event,
    Incident,
    RuleError,
    check_artifact,
    digest,
    new_id,
    timestamp,
)
from univac.plugins.incidents.stores.jsonl import JsonlStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAMP = timestamp(NOW)


def incident(number: int = 1, **changes) -> Incident:
    base = Incident(f"inc_20260302_0900_abc{number:03d}", "Gateway 5xx", "gateway", "prod",
                    "P1", "open", STAMP, "account:alice", STAMP, STAMP)
    return base.changed(NOW, **changes) if changes else base


def event(incident_id: str | None = "inc_20260302_0900_abc001", text: str = "x") -> Event:
    return Event(new_id("ev"), incident_id, STAMP, "comment", text, "account:alice")


def artifact(content: bytes, name: str = "notes.md") -> tuple[Artifact, bytes]:
    made = Artifact(new_id("art"), "inc_20260302_0900_abc001", name, check_artifact(name, content),
                    len(content), digest(content), f"inc_20260302_0900_abc001/{name}", STAMP,
                    "account:alice")
    return made, content


def test_the_folder_holds_the_incident_logs_layout(tmp_path):
    store = JsonlStore(tmp_path)
    first, note = incident(), event(None, "handover")
    doc = artifact(b"# Gateway 5xx\n")
    store.write(Batch((first,), (note,), (doc,)))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "artifacts.jsonl", "events.jsonl", "inc_20260302_0900_abc001", "incidents.jsonl"]
    assert (tmp_path / "inc_20260302_0900_abc001" / "notes.md").read_bytes() == b"# Gateway 5xx\n"
    raw = (tmp_path / "incidents.jsonl").read_bytes()
    assert raw == (
        b'{"id":"inc_20260302_0900_abc001","title":"Gateway 5xx","service":"gateway",'
        b'"env":"prod","severity":"P1","status":"open","started_at":"2026-03-02T09:00:00.000000Z",'
        b'"created_by":"account:alice","created_at":"2026-03-02T09:00:00.000000Z",'
        b'"updated_at":"2026-03-02T09:00:00.000000Z","coordinator":"","resolved_at":null,'
        b'"closed_at":null,"version":1,"refs":{},"meta":{}}\n')
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events == [{"id": note.id, "incident_id": None, "ts": STAMP, "type": "comment",
                       "message": "handover", "actor": "account:alice", "meta": {}}]
    (record,) = [json.loads(line) for line in (tmp_path / "artifacts.jsonl").read_text()
                 .splitlines()]
    assert record["path"] == "inc_20260302_0900_abc001/notes.md"
    assert record["sha256"] == digest(b"# Gateway 5xx\n") and record["size_bytes"] == 14
    assert oct(os.stat(tmp_path / "incidents.jsonl").st_mode & 0o777) == "0o600"


def test_writes_are_idempotent_and_the_newest_snapshot_wins(tmp_path):
    store = JsonlStore(tmp_path)
    first, comment = incident(), event()
    store.write(Batch((first,), (comment,)))
    store.write(Batch((first,), (comment,)))  # the same records again: nothing added
    newer = first.changed(NOW, severity="P0")
    store.write(Batch((newer,)))
    store.write(Batch((first,)))  # an older snapshot never wins
    assert len((tmp_path / "incidents.jsonl").read_text().splitlines()) == 2
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 1
    assert store.incident(first.id).severity == "P0"
    reopened = JsonlStore(tmp_path)
    assert reopened.incidents() == [newer]
    assert reopened.events(first.id) == [comment]


def test_lines_other_programs_append_are_read_and_their_extra_keys_kept(tmp_path):
    store = JsonlStore(tmp_path)
    store.write(Batch((incident(),)))
    foreign = {"id": "inc_20260302_1000_f00bar", "title": "From the runbook tool",
               "service": "gateway", "env": "staging", "severity": "P3", "status": "open",
               "started_at": "2026-03-02T10:00:00Z", "created_by": "sofiia",
               "created_at": "2026-03-02T10:00:00Z", "updated_at": "2026-03-02T10:00:00Z",
               "workspace_id": "ops"}
    with open(tmp_path / "incidents.jsonl", "a") as file:
        file.write(json.dumps(foreign) + "\n")
    untagged = {"incident_id": foreign["id"], "ts": "2026-03-02T10:01:00Z", "type": "note",
                "message": "no id given", "actor": "sofiia"}
    with open(tmp_path / "events.jsonl", "a") as file:
        file.write(json.dumps(untagged) + "\n")
    found = store.incident("inc_20260302_1000_f00bar")
    assert found is not None and found.title == "From the runbook tool"
    assert found.meta == {"workspace_id": "ops"} and found.version == 1
    (event,) = store.events(foreign["id"])
    assert event.message == "no id given" and event.id.startswith("ev_")
    assert JsonlStore(tmp_path).events(foreign["id"])[0].id == event.id  # the same id again


def test_a_torn_last_line_is_set_aside_and_reported(tmp_path, caplog):
    store = JsonlStore(tmp_path)
    kept = event(text="acknowledged")
    store.write(Batch(events=(kept,)))
    store.close()
    torn = b'{"id":"ev_torn","incident_id":"inc_1","ts":"2026-03-0'
    with open(tmp_path / "events.jsonl", "ab") as file:
        file.write(torn)
    reopened = JsonlStore(tmp_path)
    assert reopened.events() == [kept]
    assert (tmp_path / "events.jsonl").read_bytes().endswith(b"}\n")
    assert (tmp_path / "events.jsonl.torn").read_bytes() == torn + b"\n"
    (problem,) = reopened.health().problems
    assert problem.startswith("events.jsonl: an unfinished last line (53 bytes")
    assert "set aside in events.jsonl.torn" in caplog.text
    after = event(text="after the crash")
    reopened.write(Batch(events=(after,)))  # appends go on after the cut
    assert JsonlStore(tmp_path).events() == [kept, after]


def test_a_line_that_is_no_json_is_reported_not_fatal(tmp_path):
    store = JsonlStore(tmp_path)
    with open(tmp_path / "events.jsonl", "ab") as file:
        file.write(b"not json at all\n")
    good = event()
    store.write(Batch(events=(good,)))
    assert store.events() == [good]
    assert store.health().problems[0].startswith("events.jsonl: a line near byte 0 is no JSON")


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("dump.bin", b"x", "dump.bin: artifacts are json, md, txt files only."),
    ("../etc.md", b"x", "'../etc.md' is no artifact name: letters, digits, '.', '_', '-'."),
    ("big.txt", b"x" * (2 * 1024 * 1024 + 1), "big.txt: 2097153 bytes, more than the 2 MB an "
                                              "artifact may have."),
    ("data.json", b"{not json", "data.json: not valid JSON."),
    ("latin.txt", "caf\u00e9".encode("latin-1"), "latin.txt: not valid UTF-8 text."),
])
def test_artifacts_are_checked_for_type_and_size(name, content, reason):
    with pytest.raises(RuleError) as refused:
        check_artifact(name, content)
    assert str(refused.value) == reason


def test_an_artifact_of_exactly_two_megabytes_is_taken(tmp_path):
    store = JsonlStore(tmp_path)
    store.write(Batch(artifacts=(artifact(b"x" * 2 * 1024 * 1024, "log.txt"),)))
    (found,) = store.artifacts()
    assert len(store.content(found)) == 2 * 1024 * 1024
