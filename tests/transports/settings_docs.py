"""Test helpers: a transport's settings table in its docs page, and the rows its
settings dataclass should have there (name and default, in field order)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path


def docs_table(page: str) -> list[tuple[str, str]]:
    """(setting, default) of each row under ``## Settings`` in ``docs/<page>``."""
    docs = (Path(__file__).parents[2] / "docs" / page).read_text(encoding="utf-8")
    table = docs.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \| (.+?) \|", table, re.MULTILINE)


def expected_rows(cls: type) -> list[tuple[str, str]]:
    """(field, default as the docs write it) of each field of the dataclass ``cls``."""
    rows = []
    for field in dataclasses.fields(cls):
        default = field.default
        if default is dataclasses.MISSING:
            shown = "(required)"
        elif isinstance(default, bool):
            shown = f"`{str(default).lower()}`"
        elif isinstance(default, str):
            shown = f'`"{default}"`'
        elif isinstance(default, tuple):
            shown = "`[]`"
        else:
            shown = f"`{default}`"
        rows.append((field.name, shown))
    return rows
