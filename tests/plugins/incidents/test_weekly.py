"""The weekly digest's pollers: on schedule, the files and a line of counts; a missed run
caught up once (at start, through ``digest_catchup``), never twice, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.plugins.incidents.helpers import ROLES, Clock
from tests.plugins.incidents.week import write_store
from univac.plugins.incidents import digest, weekly
from univac.plugins.incidents.digest import Week

MONDAY_0800 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # week 10 begins; week 9 is due


@pytest.fixture
def make_bot(univac_bot, tmp_path):
    """A bot on the log of week.py, posting to test:#sre, its state in ``tmp_path``."""
    write_store(tmp_path / "log").close()

    def make(**settings):
        table = {"writers": "sre", "readers": "oncall", "folder": str(tmp_path / "log"),
                 "digest_targets": ["test:#sre"], "reports_folder": str(tmp_path / "reports")}
        return univac_bot("incidents", roles=ROLES, clock=Clock(MONDAY_0800),
                          state_dir=tmp_path / "state", settings={"incidents": table | settings})

    return make


def weekly_folder(tmp_path):
    return tmp_path / "reports" / "incidents" / "weekly"


def test_the_due_week_is_the_last_one_ended_when_the_schedule_fired():
    def due(moment: datetime, schedule: str = "mon 08:00 UTC") -> tuple[str, str]:
        week, fired = weekly.due(schedule, moment)
        return str(week), f"{fired:%Y-%m-%d %H:%M}"

    assert due(MONDAY_0800) == ("2026-W09", "2026-03-02 08:00")
    assert due(datetime(2026, 3, 2, 7, 59, tzinfo=UTC)) == ("2026-W08", "2026-02-23 08:00")
    assert due(datetime(2026, 3, 8, 23, 0, tzinfo=UTC)) == ("2026-W09", "2026-03-02 08:00")
    assert due(datetime(2026, 3, 4, 12, 0, tzinfo=UTC), "daily 07:00") == (
        "2026-W09", "2026-03-04 07:00")
    assert due(datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "sun 23:00 UTC") == (
        "2026-W08", "2026-03-01 23:00")  # on Sunday night week 9 had not ended yet


def test_on_schedule_the_digest_is_written_and_its_counts_posted(make_bot, tmp_path):
    bot = make_bot()
    said = bot.tick("incidents.weekly_digest", now=MONDAY_0800)
    folder = weekly_folder(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["2026-W09.json", "2026-W09.md"]
    assert said == [("test:#sre",
                     "Incident digest 2026-W09: 4 new, 2 resolved, mean time to resolve 1h 51m, "
                     "3 open at the week's end, 2 overdue follow-up(s), 1 recurring service(s), "
                     f"1 recurring signature(s): {folder / '2026-W09.md'}")]
    for private in ("api", "db", "Replica", "HighErrorRate", "bob"):
        assert private not in said[0][1].replace(str(folder), "")  # counts only
    expected = digest.build(write_store(tmp_path / "copy"), Week(2026, 9))
    assert (folder / "2026-W09.json").read_text() == expected.to_json()
    assert bot.tick("incidents.weekly_digest", now=MONDAY_0800) == []  # written: skipped
    poller = next(p for p in bot.bot.status().pollers if p.name == "incidents.weekly_digest")
    assert (poller.runs, poller.skipped, poller.schedule) == (1, 1, "mon 08:00 UTC")


def test_the_summary_links_the_page_under_the_public_base_url(make_bot):
    bot = make_bot(digest_link_base="https://bot.example.org/")
    (_, line), = bot.tick("incidents.weekly_digest", now=MONDAY_0800)
    assert line.endswith(": https://bot.example.org/incidents/weekly/2026-W09")


def test_a_missed_run_is_caught_up_once_at_start(make_bot, tmp_path):
    bot = make_bot()
    late = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)  # the bot was down at 08:00
    (_, line), = bot.tick("incidents.digest_catchup", now=late)
    assert line.startswith("Incident digest 2026-W09: 4 new")
    assert line.endswith(" (late: the bot was not running at Mon 2026-03-02 08:00 UTC)")
    assert bot.tick("incidents.digest_catchup", now=late) == []
    assert bot.tick("incidents.weekly_digest", now=late) == []
    next_monday = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    (_, line), = bot.tick("incidents.weekly_digest", now=next_monday)
    assert line.startswith("Incident digest 2026-W10: 1 new") and "late" not in line
    assert bot.tick("incidents.digest_catchup", now=next_monday) == []
    assert sorted(p.name for p in weekly_folder(tmp_path).iterdir()) == [
        "2026-W09.json", "2026-W09.md", "2026-W10.json", "2026-W10.md"]


def test_a_restart_remembers_the_week_it_wrote(make_bot, tmp_path):
    first = make_bot()
    assert len(first.tick("incidents.weekly_digest", now=MONDAY_0800)) == 1
    first.close()
    markdown = weekly_folder(tmp_path) / "2026-W09.md"
    markdown.unlink()
    again = make_bot()  # the same state folder
    assert again.tick("incidents.digest_catchup", now=datetime(2026, 3, 2, 9, tzinfo=UTC)) == []
    assert not markdown.exists()  # not written twice


def test_without_targets_or_a_folder_the_digest_goes_to_the_state_folder(univac_bot, tmp_path):
    write_store(tmp_path / "log").close()
    bot = univac_bot("incidents", roles=ROLES, state_dir=tmp_path / "state", settings={
        "incidents": {"writers": "sre", "folder": str(tmp_path / "log")}})
    assert bot.tick("incidents.weekly_digest", now=MONDAY_0800) == []
    written = tmp_path / "state" / "reports" / "incidents" / "weekly" / "2026-W09.json"
    assert digest.load(written.parent, "2026-W09").counts["new"] == 4


def test_digest_settings_are_checked(tmp_path):
    from univac.config import from_mapping
    from univac.settings import Source

    config = from_mapping({"bot": {"plugins": ["incidents"], "state_dir": str(tmp_path)},
                           "plugins": {"incidents": {
                               "writers": "sre", "digest_schedule": "someday",
                               "digest_link_base": "bot.example.org",
                               "recurrence_service_7d": 0}}},
                          Source("<test>", tmp_path))
    assert sorted(issue.key for issue in config.plugin_issues) == [
        "plugins.incidents.digest_link_base", "plugins.incidents.digest_schedule",
        "plugins.incidents.recurrence_service_7d"]


def test_a_folder_that_cannot_be_written_fails_the_run_saying_where(make_bot, tmp_path,
                                                                    caplog):
    (tmp_path / "reports").write_text("a file, not a folder")
    bot = make_bot()
    with pytest.raises(AssertionError, match="failed"):
        bot.tick("incidents.weekly_digest", now=MONDAY_0800)
    assert bot.said() == []  # nothing posted, nothing recorded
    assert (f"cannot write the digest of 2026-W09 in {weekly_folder(tmp_path)} "
            "(reports_folder)") in caplog.text
    (tmp_path / "reports").unlink()
    (_, line), = bot.tick("incidents.digest_catchup", now=MONDAY_0800)
    assert line.startswith("Incident digest 2026-W09: 4 new")
    assert (weekly_folder(tmp_path) / "2026-W09.md").is_file()
