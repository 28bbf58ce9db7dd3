"""The documentation is complete and true where a test can tell.

docs/api.md names every public name of ``univac`` and every public attribute of
``Context``; the Python examples in README.md and docs/*.md pass the project's lint
(``ruff check`` with ruff.toml, as ``make test`` runs it: a reader who copies the
tutorial's files into a checkout must not break the build); each settings table in the
docs lists its dataclass's fields with their defaults; no page, comment or docstring
sends the reader to a document a checkout does not have.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import univac
from univac import Context, Message

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
API = ROOT / "docs" / "api.md"
PYTHON = re.compile(r"(<!-- file: \S+ -->\n)?```python\n(.*?)```", re.S)
ROW = re.compile(r"^\| ((?:`\w+`(?:, )?)+) \| (.*?) \|")


def test_every_public_name_has_a_heading_or_a_row_in_the_api_reference() -> None:
    page = API.read_text(encoding="utf-8")
    headed = {name for line in page.splitlines() if line.startswith("#")
              for name in re.findall(r"`(\w+)`", line)}
    headed |= set(re.findall(r"^\| `(\w+)` \|", page, re.M))
    assert [name for name in univac.__all__ if name not in headed] == []


def test_every_public_attribute_of_context_and_message_is_in_the_api_reference() -> None:
    page = API.read_text(encoding="utf-8")
    public = {name for name in [*dir(Context), *Context.__slots__] if not name.startswith("_")}
    assert public >= {"message", "state", "config", "say", "reply", "approve", "log"}
    assert sorted(name for name in public if f"`ctx.{name}" not in page) == []
    assert [name for name in Message._fields if f"`message.{name}`" not in page] == []


def test_python_examples_in_the_docs_pass_the_lint(tmp_path: Path) -> None:
    """Whole files (``<!-- file: -->``) as they are; fragments without the checks for
    names defined or used elsewhere on the page (F821, F401)."""
    for kind in ("files", "fragments"):
        (tmp_path / kind).mkdir()
    for page in PAGES:
        for number, (file_marker, code) in enumerate(PYTHON.findall(page.read_text("utf-8"))):
            kind = "files" if file_marker else "fragments"
            (tmp_path / kind / f"{page.stem}_{number}.py").write_text(code, encoding="utf-8")
    assert len(list((tmp_path / "files").iterdir())) >= 7
    for kind, extra in (("files", []), ("fragments", ["--ignore", "F821,F401"])):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
             str(ROOT / "ruff.toml"), *extra, "."],
            cwd=tmp_path / kind, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


SETTINGS_TABLES = [
    ("configuration.md", "## `[bot]`", ["univac.botsettings:BotSettings"]),
    ("configuration.md", "## `[store]`", ["univac.engine.sqlite_store:Settings",
                                          "univac.stores.postgres:Settings"]),
    ("configuration.md", "## `[ha]`", ["univac.engine.lease:HaSettings"]),
    ("configuration.md", '### `type = "console"`', ["univac.transports.console:Settings"]),
    ("irc.md", "## Settings", ["univac.transports.irc:Settings"]),
    ("xmpp.md", "## Settings", ["univac.transports.xmpp:Settings"]),
    *[("plugins.md", f"## {name}\n", [f"univac.plugins.{name}:Settings"])
      for name in ("xkcd", "dns", "links", "github", "gitlab", "feeds", "http", "hooks")],
]
STORE_KEYS = {"backend": "sqlite", "audit": False}
"""The ``[store]`` keys the core reads itself, beside the backend's settings."""


def documented(page: str, heading: str) -> dict[str, str]:
    """Setting name -> documented default, from every table of the section."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    found: dict[str, str] = {}
    for header, rows in re.findall(r"^(\|.+\|)\n\|[-|]+\|\n((?:\|.*\|\n?)+)", section, re.M):
        column = [cell.strip() for cell in header.strip("|").split("|")].index("default")
        for row in rows.splitlines():
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            names = re.findall(r"`(\w+)`", cells[0])
            defaults = cells[column].split("`, `")
            for index, name in enumerate(names):
                found[name] = defaults[index].strip("`") if len(defaults) == len(names) \
                    else cells[column]
    return found


def fields(spec: str) -> dict[str, Any]:
    module, _, name = spec.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return {f.name: "(required)" if f.default is dataclasses.MISSING else f.default
            for f in dataclasses.fields(cls)}


def shown(value: Any) -> str:
    """A default as the docs write it: TOML."""
    if isinstance(value, tuple):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, str) else str(value)


@pytest.mark.parametrize(("page", "heading", "classes"), SETTINGS_TABLES,
                         ids=[f"{page}:{heading.strip()}" for page, heading, _ in SETTINGS_TABLES])
def test_settings_tables_list_every_field_with_its_default(page, heading, classes) -> None:
    expected: dict[str, Any] = {}
    for spec in classes:
        expected |= fields(spec)
    if "store" in heading:
        expected |= STORE_KEYS
    docs = documented(page, heading)
    assert sorted(docs) == sorted(expected)
    for name, default in expected.items():
        written = docs[name]
        if default == "(required)":
            assert "required" in written, name
        elif isinstance(default, int | float) and not isinstance(default, bool) \
                and re.fullmatch(r"[\d.]+", written):
            assert float(written) == default, name
        elif isinstance(default, str) and written == default:
            continue  # a long string (a template) written without quotes
        elif re.fullmatch(r'[\["\d.tf].*', written):
            assert written == shown(default), name  # prose ("your login name") is not checked


MISSING_DOCUMENTS = re.compile(
    r"design guide|shared notes|the report\b|DESIGN\.md|\bissue \d+|/work/|/root/", re.I)
SOURCES = ("univac", "transports", "plugins", "kit", "stores", "benchmarks", "scripts",
           "tests", "contrib")


def test_nothing_sends_the_reader_to_a_document_a_checkout_does_not_have() -> None:
    files = [*PAGES, *(path for folder in SOURCES for path in (ROOT / folder).rglob("*")
                       if path.is_file() and path.suffix in (".py", ".md", ".toml", ".service")
                       and path != Path(__file__).resolve())]
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in files
             for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
             if MISSING_DOCUMENTS.search(line)]
    assert found == []
