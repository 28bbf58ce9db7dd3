"""docs/incidents.md stays true to the code: every setting and its default, every
subcommand, and Corto's names."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from univac.plugins.incidents import compat
from univac.plugins.incidents.commands import SUBS
from univac.plugins.incidents.settings import Settings

PAGE = (Path(__file__).resolve().parents[3] / "docs" / "incidents.md").read_text()


def table_rows(heading: str) -> dict[str, list[str]]:
    section = PAGE.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and cells[0].startswith("`"):
            rows[cells[0].strip("`").split()[0]] = cells[1:]
    return rows


def test_the_settings_table_lists_every_setting_with_its_default() -> None:
    rows = table_rows("Settings") | table_rows("Page settings")
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert set(rows) == set(fields)
    for name, default in fields.items():
        if default is not dataclasses.MISSING:
            shown = rows[name][0].strip("`")
            value = list(default) if isinstance(default, tuple) else default
            assert json.loads(shown) == value, name


def test_every_subcommand_is_in_the_table() -> None:
    rows = table_rows("Commands")
    assert set(rows) == set(SUBS)


def test_the_corto_table_maps_every_name_to_what_it_runs() -> None:
    section = PAGE.split("## Corto compatibility\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        if line.startswith("| `univac: "):
            typed, runs = (cell.strip() for cell in line.split("|")[1:3])
            found[typed.strip("`").split()[1]] = runs
    assert set(found) == set(compat.NAMES) | {"version", "help"}
    for name, sub in compat.NAMES.items():
        assert found[name].startswith(f"`incident {sub}"), name
