"""The audit trail: one JSON line per record, rotation without losing records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from univac.errors import StaleEpochError
from univac.message import Message
from univac.ops.audit import AuditLog


def test_records_are_json_lines_with_who_where_and_what(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    message = Message("irc", "#ops", "alice", "!restart web", identity="account:alice")
    log.record("command", "done", message, command="ops.restart")
    (record,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert record["identity"] == "account:alice" and record["target"] == "#ops"
    assert (record["action"], record["outcome"], record["command"]) == (
        "command", "done", "ops.restart")
    assert record["time"].endswith("+00:00")


def test_rotation_keeps_the_newest_records_in_at_most_keep_old_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=400, keep=3)
    for number in range(30):
        log.record("command", "done", number=number)
    log.close()
    old = [path.with_name(f"audit.jsonl.{n}") for n in (1, 2, 3)]
    assert all(f.exists() for f in old)
    assert not path.with_name("audit.jsonl.4").exists()
    files = [f for f in (path, *old) if f.exists()]
    lines = [line for f in files for line in f.read_text().splitlines()]
    numbers = sorted(json.loads(line)["number"] for line in lines)
    assert numbers == list(range(numbers[0], 30)), "the newest records, none missing"
    assert numbers[0] > 0 and len(numbers) >= 15


def test_records_also_go_to_the_store_and_a_refusal_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    taken: list[str] = []
    audit = AuditLog(tmp_path / "audit.jsonl", sink=taken.append)
    audit.record("deploy", "done", target="web")
    assert [json.loads(line) for line in taken] == [
        json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]

    def refuse(record: str) -> None:
        raise StaleEpochError("refused: this instance is no longer the leader")

    audit = AuditLog(tmp_path / "audit.jsonl", sink=refuse)
    audit.record("deploy", "done", target="db")
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 2
    assert "audit record not written to the store; it is in" in caplog.text
