"""Corto's own command lines (``corto_compat``), addressed to the bot by name."""

from __future__ import annotations

from tests.plugins.incidents.helpers import created_id
from univac import __version__


def say(bot, text: str, who: str = "alice", target: str = "#sre") -> list[str]:
    return bot.ask(text, sender=who, target=target)


def test_cortos_lines_run_the_incident_subcommands(incidents_bot):
    bot = incidents_bot("version", corto_compat=True, channels=["#sre"])
    found = created_id(say(bot, "univac: create Elevated 5xx on the API gateway")[0])
    assert say(bot, "univac: list")[0].startswith(f"#1 {found} P2 general open")
    assert say(bot, f"univac: log {found} rolled back the deploy") == [f"Logged on {found}."]
    assert say(bot, "univac: note -p db1 still degraded") == [
        "Noted for the handover of the shift Mon 2026-03-02 08:00-20:00 UTC."]
    assert say(bot, f"univac: set-coordinator {found} carol") == [
        f"carol now coordinates {found}."]
    assert say(bot, f"univac: resolve {found}") == [f"Resolved {found}."]
    assert say(bot, "univac: list") == ["No open incidents."]
    assert say(bot, "univac, notes -p") == [
        "No handover notes for the prior shift (Sun 2026-03-01 20:00-Mon 2026-03-02 08:00 UTC)."]
    (notes,) = say(bot, "univac: notes")
    assert notes.split("\n")[1:] == [
        f"03-02 09:00 alice: New incident {found} (P2 general): Elevated 5xx on the API gateway",
        "03-02 09:00 alice: db1 still degraded",
    ]
    assert say(bot, "univac: version")[0].startswith(f"Univac {__version__} on Python")


def test_cortos_names_answer_only_when_addressed(incidents_bot):
    bot = incidents_bot(corto_compat=True)
    assert say(bot, "!list") == []  # another bot may own !list in a channel
    assert say(bot, "list") == []
    assert bot.ask("list", sender="alice", private=True) == ["No open incidents."]


def test_mistakes_are_answered_in_cortos_spelling(incidents_bot):
    bot = incidents_bot(corto_compat=True)
    assert say(bot, "univac: log") == ["missing id. Usage: univac: log <id> <text>"]
    assert say(bot, "univac: set-coordinator 1") == [
        "missing coordinator. Usage: univac: set-coordinator <id> <user>"]
    assert say(bot, "univac: note -p") == ["missing text. Usage: univac: note -p <text>"]


def test_roles_still_apply_to_cortos_names(incidents_bot):
    bot = incidents_bot(corto_compat=True)
    assert say(bot, "univac: create sneaky", who="eve") == [
        "You need the 'sre' role to create incidents."]


def test_without_compat_the_names_are_unknown_commands(incidents_bot):
    bot = incidents_bot("help")
    assert say(bot, "univac: list") == ["Unknown command 'list'. Try !help."]
    assert say(bot, "!list") == []
    assert say(bot, "!corto")[0].endswith("Corto compatibility is off (corto_compat = false).")
    (listing,) = say(bot, "!help")
    assert listing == "Commands: corto, help, incident. Details: !help <command>"


LISTER = '''"""Another plugin with a list command."""
from univac import command


@command("list")
def list_(ctx):
    """Lists something else."""
    return "the other list"
'''


def test_with_compat_off_the_names_are_free_for_other_plugins(incidents_bot, tmp_path):
    plugin = tmp_path / "lister.py"
    plugin.write_text(LISTER, encoding="utf-8")
    bot = incidents_bot(str(plugin))
    assert bot.errors == {}
    assert say(bot, "!list") == ["the other list"]
    assert say(bot, "univac: inc list") == ["No open incidents."]


def test_with_compat_on_the_names_are_taken(incidents_bot, tmp_path):
    plugin = tmp_path / "lister.py"
    plugin.write_text(LISTER, encoding="utf-8")
    bot = incidents_bot(str(plugin), corto_compat=True)
    assert "command name clash" in " ".join(bot.errors.values())
