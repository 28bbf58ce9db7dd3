"""The weekly digest as data: ISO weeks, the log as at the week's end, golden files,
byte-identical output, atomic files, and reading a digest back (``digest.load``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.plugins.incidents.week import records, write_store
from univac.plugins.incidents import digest
from univac.plugins.incidents.digest import Week
from univac.plugins.incidents.model import Batch
from univac.plugins.incidents.recurrence import Thresholds
from univac.plugins.incidents.stores.jsonl import JsonlStore

GOLDEN = Path(__file__).parent / "golden"
W09 = Week(2026, 9)


def test_weeks_are_iso_weeks_in_utc():
    assert str(Week.parse("2026-W09")) == "2026-W09"
    assert Week.parse("2026-W09").start == datetime(2026, 2, 23, tzinfo=UTC)
    assert Week.parse("2026-W09").end == datetime(2026, 3, 2, tzinfo=UTC)
    assert Week.of(datetime(2027, 1, 1, 12, tzinfo=UTC)) == Week(2026, 53)  # ISO year 2026
    assert Week.of(datetime(2026, 3, 1, 23, 59, tzinfo=UTC)) == W09
    assert Week(2026, 1).previous() == Week(2025, 52)
    for bad in ("2025-W53", "2026-9", "W09", "2026-W00"):
        with pytest.raises(ValueError):
            Week.parse(bad)


def test_the_digest_reads_the_log_as_it_was_at_the_weeks_end(tmp_path):
    made = digest.build(write_store(tmp_path), W09)
    assert [e.id[-6:] for e in made.new] == ["aa0000", "hh0000", "bb0000", "cc0000"]
    assert {e.id[-6:]: (e.severity, e.status) for e in made.open} == {
        "dd0000": ("P1", "open"),
        "bb0000": ("P2", "open"),  # resolved only after the week
        "cc0000": ("P3", "open"),  # raised to P1 only after the week
    }
    assert [(e.id[-6:], e.time_to_resolve_s) for e in made.resolved] == [
        ("aa0000", 2 * 3600 + 13 * 60), ("hh0000", 90 * 60)]  # hh: another tool's record
    assert made.mean_time_to_resolve_s == (7980 + 5400) // 2
    assert [(o.number, o.due, o.days_overdue) for o in made.overdue_followups] == [
        (1, "2026-02-20", 10), (3, "2026-03-01", 1)]  # 2 was done, 4 is due on the Monday
    assert made.counts == {"new": 4, "resolved": 2, "open": 3, "overdue_followups": 2,
                           "recurring_services": 1, "recurring_signatures": 1}


def test_the_files_match_the_golden_ones(tmp_path):
    made = digest.build(write_store(tmp_path / "log"), W09, Thresholds())
    json_path, markdown_path = digest.write(tmp_path / "weekly", made)
    assert (json_path.name, markdown_path.name) == ("2026-W09.json", "2026-W09.md")
    assert json_path.read_bytes() == (GOLDEN / "2026-W09.json").read_bytes()
    assert markdown_path.read_bytes() == (GOLDEN / "2026-W09.md").read_bytes()


def test_the_same_records_give_the_same_bytes_whatever_their_order(tmp_path):
    first = digest.build(write_store(tmp_path / "one"), W09)
    digest.write(tmp_path / "a", first)
    again = digest.build(JsonlStore(tmp_path / "one"), W09)  # read back from the files
    digest.write(tmp_path / "b", again)
    incidents, events = records()
    shuffled = JsonlStore(tmp_path / "two")
    shuffled.write(Batch(tuple(reversed(incidents)), tuple(events)))
    digest.write(tmp_path / "c", digest.build(shuffled, W09))
    for name in ("2026-W09.json", "2026-W09.md"):
        expected = (tmp_path / "a" / name).read_bytes()
        assert (tmp_path / "b" / name).read_bytes() == expected
        assert (tmp_path / "c" / name).read_bytes() == expected


def test_a_later_change_to_the_log_leaves_an_ended_week_alone(tmp_path):
    store = write_store(tmp_path)
    before = digest.build(store, W09).to_json()
    incidents, _ = records()
    late = incidents[2].changed(datetime(2026, 3, 4, tzinfo=UTC), status="resolved",
                                resolved_at="2026-03-04T00:00:00.000000Z")
    store.write(Batch((late,)))  # no status event: another tool's change, after the week
    assert digest.build(store, W09).to_json() == before


def test_files_are_replaced_atomically(tmp_path, monkeypatch):
    made = digest.build(write_store(tmp_path / "log"), W09)
    folder = tmp_path / "weekly"
    digest.write(folder, made)
    original = (folder / "2026-W09.json").read_bytes()

    def broken(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    emptier = digest.build(JsonlStore(tmp_path / "empty"), W09)
    with pytest.raises(OSError):
        digest.write(folder, emptier)
    assert (folder / "2026-W09.json").read_bytes() == original  # never half written
    monkeypatch.undo()
    digest.write(folder, emptier)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "2026-W09.json", "2026-W09.md"]
    assert digest.load(folder, "2026-W09") == emptier


def test_a_written_digest_loads_back(tmp_path):
    made = digest.build(write_store(tmp_path / "log"), W09)
    digest.write(tmp_path / "weekly", made)
    loaded = digest.load(tmp_path / "weekly", W09)
    assert loaded == made
    assert loaded.to_markdown() == made.to_markdown()
    with pytest.raises(FileNotFoundError):
        digest.load(tmp_path / "weekly", "2026-W10")
    (tmp_path / "weekly" / "2026-W11.json").write_text('{"format": 1}')
    with pytest.raises(ValueError, match="not a digest"):
        digest.load(tmp_path / "weekly", "2026-W11")
    with pytest.raises(ValueError):
        digest.load(tmp_path / "weekly", "../secrets")


def test_an_empty_week_says_none(tmp_path):
    made = digest.build(JsonlStore(tmp_path), W09)
    assert made.mean_time_to_resolve_s is None
    text = made.to_markdown()
    assert "| Mean time to resolve | none resolved |" in text
    assert text.count("None.") == 5
    assert made.summary("x") == (
        "Incident digest 2026-W09: 0 new, 0 resolved, 0 open at the week's end, 0 overdue "
        "follow-up(s), 0 recurring service(s), 0 recurring signature(s): x")
