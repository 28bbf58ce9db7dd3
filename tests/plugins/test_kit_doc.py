"""The plugin in docs/kit.md works as the page says: extracted and run on a local server."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.plugins.servers import HttpServer, Reply

PAGE = Path(__file__).resolve().parents[2] / "docs" / "kit.md"
BLOCK = re.compile(r"<!-- file: (\S+) -->\n```python\n(.*?)```", re.S)
T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def listing(*versions: str) -> Reply:
    body = json.dumps([{"version": v, "title": f"Rocket {v}"} for v in versions]).encode()
    return Reply(200, {"Content-Type": "application/json"}, body)


def test_the_releases_example_announces_only_new_releases(univac_bot, tmp_path: Path):
    (name, code), = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    plugin = tmp_path / name
    plugin.write_text(code, encoding="utf-8")
    with HttpServer() as server:
        server.route("/index.json", listing("1.1", "1.0"), listing("1.3", "1.2", "1.1", "1.0"))
        table = {"url": f"{server.base}/index.json", "targets": ["test:#news"], "interval_s": 60}
        bot = univac_bot(str(plugin), settings={"releases": table})
        assert bot.tick("releases", now=T0) == []
        assert bot.tick("releases", now=T0 + timedelta(seconds=61)) == [
            ("test:#news", "released 1.2: Rocket 1.2"), ("test:#news", "released 1.3: Rocket 1.3"),
        ]
        server.close()
        with pytest.raises(AssertionError, match="FetchError"):
            bot.tick("releases", now=T0 + timedelta(seconds=122))
