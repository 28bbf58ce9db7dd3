"""``!incident postmortem <id>``: a markdown draft from the timeline, kept as one of the
incident's artifacts (never overwritten), for writers only, audited."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.plugins.incidents.helpers import ask, created_id, store_of


def audit(bot) -> list[dict]:
    bot.bot.audit.close()
    return [json.loads(line) for line in Path(bot.bot.audit.path).read_text().splitlines()]


def test_a_draft_from_the_timeline_is_kept_as_an_artifact(incidents_bot, clock, tmp_path):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create --sev P1 --service api API 5xx"))
    clock.advance(minutes=7)
    ask(bot, "!inc log 1 rolled back the deploy")
    ask(bot, "!inc coordinator 1 carol")
    ask(bot, "!inc followup 1 --owner bob --due 2026-03-10 Alert on 5xx rate")
    clock.advance(hours=2, minutes=6)
    ask(bot, "!inc resolve 1")
    clock.advance(hours=1)
    assert ask(bot, "!inc postmortem 1") == \
        f"Postmortem draft of {found}: {found}/postmortem.md in the JSON lines folder."
    store = store_of(bot)
    artifact = next(a for a in store.artifacts(found) if a.name == "postmortem.md")
    text = store.content(artifact).decode()
    assert (tmp_path / "incidents" / found / "postmortem.md").read_text() == text
    assert artifact.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert (artifact.format, artifact.created_by) == ("md", "test:alice")
    assert text.startswith(f"# Postmortem (draft): API 5xx\n\n- Incident: {found}\n"
                           "- Service: api (prod)\n- Severity: P1\n- Status: resolved\n"
                           "- Coordinator: carol\n- Drafted: 2026-03-02 12:13 UTC by alice\n")
    assert "## Impact window\n\n- Started: 2026-03-02 09:00 UTC\n- Resolved: 2026-03-02 " \
           "11:13 UTC\n- Duration: 2h 13m\n" in text
    assert "\n- 2026-03-02 09:07 alice comment: rolled back the deploy\n" in text
    assert "\n- 2026-03-02 11:13 alice status: open -> resolved\n" in text
    assert "## Follow-ups\n\n- [ ] 1. Alert on 5xx rate (P2, owner bob, due 2026-03-10)\n" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Summary", "## Impact window", "## Timeline", "## Follow-ups",
                        "## Open questions"]
    last = store.events(found)[-1]
    assert (last.type, last.message, last.meta["artifact"]) == (
        "artifact", "postmortem.md", artifact.id)


def test_a_second_draft_never_overwrites_the_first(incidents_bot, tmp_path):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create Disk full"))
    ask(bot, "!inc postmortem 1")
    first = (tmp_path / "incidents" / found / "postmortem.md").read_bytes()
    ask(bot, "!inc log 1 more facts")
    assert ask(bot, f"!inc postmortem {found}").endswith(f"{found}/postmortem-2.md in the JSON "
                                                         "lines folder.")
    assert (tmp_path / "incidents" / found / "postmortem.md").read_bytes() == first
    names = [a.name for a in store_of(bot).artifacts(found)]
    assert names == ["document.md", "postmortem.md", "postmortem-2.md"]
    second = (tmp_path / "incidents" / found / "postmortem-2.md").read_text()
    assert "- Resolved: not yet\n- Duration: ongoing\n" in second
    assert "comment: more facts" in second and "## Follow-ups\n\nNone yet.\n" in second


def test_only_writers_draft_postmortems_and_each_try_is_audited(incidents_bot):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create x"))
    assert ask(bot, "!inc postmortem 1", who="bob") == \
        "You need the 'sre' role to draft postmortems."
    assert ask(bot, "!inc postmortem") == \
        "missing id. Usage: !incident postmortem <id>"
    assert ask(bot, "!inc postmortem 9").startswith("No incident '9'.")
    ask(bot, "!inc postmortem 1")
    records = [(r["action"], r["outcome"], r.get("incident", ""))
               for r in audit(bot) if r["action"] == "incident.postmortem"]
    assert records == [("incident.postmortem", "refused", ""),
                       ("incident.postmortem", "rejected", ""),
                       ("incident.postmortem", "rejected", ""),
                       ("incident.postmortem", "done", found)]
