"""What a plugin keeps besides its state: ctx.shared, ctx.data_dir, ctx.mask, report()."""

from __future__ import annotations

from pathlib import Path

from tests.core.sample_plugins import place

PLACE = str(Path(place.__file__))


def test_setup_shares_a_service_that_keeps_files_in_the_plugins_folder(
        univac_bot, tmp_path: Path) -> None:
    bot = univac_bot(PLACE, state_dir=tmp_path)
    assert bot.ask("!note first") == ["1 line(s)"]
    assert bot.ask("!note second") == ["2 line(s)"]
    folder = tmp_path / "place"
    assert (folder / "journal.txt").read_text().splitlines() == ["first", "second"]
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_secret_learnt_at_run_time_is_masked_in_chat(univac_bot) -> None:
    bot = univac_bot(PLACE)
    assert bot.ask("!token s3cr3t-value") == ["the token is ***"]


def test_the_report_line_is_in_status(univac_bot) -> None:
    bot = univac_bot("status", PLACE, settings={"place": {"compat": True}})
    assert bot.bot.status().plugins == {"place": "journal in place/, compat on"}
    assert "plugin place: journal in place/, compat on" in bot.ask("!status")


def test_a_command_enabled_by_a_setting_exists_only_while_it_is_on(univac_bot) -> None:
    off = univac_bot(PLACE)
    assert off.bot.catalog.command("list") is None
    on = univac_bot(PLACE, settings={"place": {"compat": True}})
    assert on.ask("!list") == ["compat list"]


def test_enabled_by_must_name_a_boolean_setting(univac_bot, tmp_path: Path) -> None:
    plugin = tmp_path / "typo.py"
    plugin.write_text('from univac import command\n\n\n@command(enabled_by="nope")\n'
                      'def x(ctx):\n    return "x"\n', encoding="utf-8")
    bot = univac_bot(str(plugin))
    assert "enabled_by='nope' names no boolean setting" in bot.errors["plugins.typo"]
