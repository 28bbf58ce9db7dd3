"""The real ``univac`` process with its state store: ``univac store migrate`` and its dry
run, a database that does not answer at start, and one that goes away while the bot
runs (writes are refused with a clear answer, nothing stored is lost, the bot goes on)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.integration.botprocess import BotProcess, univac_command
from tests.integration.postgres_servers import Postgres
from tests.waiting import free_port

pytestmark = pytest.mark.integration

PLUGIN = '''\
"""Count in the state store."""
from univac import Context, command


@command
def count(ctx: Context) -> str:
    """Add one."""
    with ctx.state:
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        return f"count {ctx.state['n']}"


@command
def peek(ctx: Context) -> str:
    """Read only."""
    return f"peek {ctx.state.get('n', 0)}"


@command(requires="ops")
def deploy(ctx: Context) -> str:
    """A privileged thing."""
    return "deployed"
'''

CONFIG = """\
[bot]
plugins = ["count.py"]
state_dir = "state"

[store]
{store}

[roles.ops]
console = ["console:*"]

[[transports]]
type = "console"
user = "operator"
"""


def write_config(folder: Path, store: str) -> Path:
    (folder / "count.py").write_text(PLUGIN, encoding="utf-8")
    path = folder / "univac.toml"
    path.write_text(CONFIG.format(store=store), encoding="utf-8")
    return path


def postgres_config(folder: Path, dsn: str, extra: str = "") -> Path:
    (folder / "dsn").write_text(dsn + "\n", encoding="utf-8")
    return write_config(folder, f'backend = "postgres"\ndsn_file = "dsn"\n{extra}')


def univac(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*univac_command(), *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def test_store_migrate_and_its_dry_run_on_postgres(tmp_path: Path, postgres: str) -> None:
    config = str(postgres_config(tmp_path, postgres))
    dry = univac("store", "migrate", "--dry-run", "--config", config, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "CREATE TABLE IF NOT EXISTS univac_state (" in dry.stdout
    assert dry.stdout.rstrip().endswith("-- postgres store: would run 6 statement(s)")
    assert tables(postgres) == set()
    done = univac("store", "migrate", "--config", config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.replace("ran", "would run") == dry.stdout
    assert {"univac_state", "univac_audit", "univac_lease", "univac_schema"} <= tables(postgres)
    again = univac("store", "migrate", "--config", config, cwd=tmp_path)
    assert again.stdout == "-- postgres store: schema up to date\n"


def test_store_migrate_on_the_embedded_store(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, ""))
    dry = univac("store", "migrate", "--dry-run", "--config", config, cwd=tmp_path)
    assert dry.returncode == 0 and "PRAGMA user_version = 1;" in dry.stdout
    done = univac("store", "migrate", "--config", config, cwd=tmp_path)
    assert done.stdout == dry.stdout.replace("would run", "ran")
    assert (tmp_path / "state" / "state.sqlite3").is_file()


def test_an_unreachable_database_at_start_is_one_clear_line(tmp_path: Path) -> None:
    dsn = f"host=127.0.0.1 port={free_port()} user=univac password=hunter2-secret dbname=x"
    config = str(postgres_config(tmp_path, dsn))
    for args in (("--config", config), ("store", "migrate", "--config", config)):
        done = univac(*args, cwd=tmp_path)
        assert done.returncode == 5
        assert "error: state store (postgres): cannot connect to PostgreSQL:" in done.stderr
        assert "Connection refused" in done.stderr
        assert "Traceback" not in done.stderr and "hunter2-secret" not in done.stderr


def test_check_reports_bad_store_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'backend = "postgress"')
    done = univac("check", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert "store.backend: store unknown name 'postgress'; did you mean 'postgres'?" in done.stderr
    config = write_config(tmp_path, 'backend = "postgres"\ndsn = "not a dsn at all"\naudit = 1')
    done = univac("check", "--config", str(config), cwd=tmp_path)
    assert "store.audit: expected a boolean" in done.stderr
    config = write_config(tmp_path, 'backend = "postgres"\ndsn = "not a dsn at all"')
    done = univac("check", "--config", str(config), cwd=tmp_path)
    assert "store: dsn is not a PostgreSQL connection string" in done.stderr
    assert "not a dsn at all" not in done.stderr
    config = write_config(tmp_path, 'backend = "postgres"\ndsn_env = "UNIVAC_NO_SUCH_VARIABLE"')
    done = univac("check", "--config", str(config), cwd=tmp_path)
    assert "store.dsn_env: environment variable UNIVAC_NO_SUCH_VARIABLE is not set" in done.stderr
    assert "Traceback" not in done.stderr
    done = univac("check", "--config", str(postgres_config(tmp_path, "dbname=x")), cwd=tmp_path)
    assert done.returncode == 0 and "postgres store" in done.stdout


def until_answered(bot: BotProcess, command: str, wanted: str, timeout: float = 60) -> list[str]:
    """Send ``command`` until the answer is ``wanted``; every answer seen before it."""
    import time

    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        bot.send(command)
        seen += bot.expect(timeout=30)
        if seen[-1] == wanted:
            return seen[:-1]
        assert time.monotonic() < deadline, f"no {wanted!r} in time: {seen}"


def test_the_database_goes_away_and_comes_back(
    tmp_path: Path, postgres: str, postgres_server: Postgres
) -> None:
    config = postgres_config(tmp_path, postgres, "audit = true\nretry_s = 0.2")
    bot = BotProcess("--config", str(config), cwd=tmp_path)
    try:
        bot.send("!count")
        bot.send("!count")
        assert bot.expect(2, timeout=30) == ["count 1", "count 2"]
        bot.send("!deploy")
        assert bot.expect(timeout=30) == ["deployed"]
        postgres_server.stop()
        bot.send("!count")
        refused = bot.expect(timeout=30)[0]
        assert refused.startswith("The bot cannot save its state right now")
        bot.send("!peek")
        assert bot.expect(timeout=30) == ["peek 2"]
        bot.send("!deploy")
        assert bot.expect(timeout=30) == ["deployed"]  # the file has its audit record
        postgres_server.start()
        failed = until_answered(bot, "!count", "count 3")
        assert all(line.startswith("The bot cannot save") for line in failed)
        bot.send("!peek")
        assert bot.expect(timeout=30) == ["peek 3"]
        assert bot.finish(timeout=30) == 0
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
    assert "Traceback" not in bot.stderr
    assert "PostgreSQL store: write failed" in bot.stderr
    with psycopg.connect(postgres) as db:
        stored = db.execute("SELECT value FROM univac_state WHERE namespace = 'count'")
        assert stored.fetchall() == [("3",)]
        audited = [json.loads(r[0]) for r in db.execute("SELECT record FROM univac_audit")]
    assert [(r["command"], r["outcome"]) for r in audited] == [("count.deploy", "done")]
    in_file = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["outcome"] for line in in_file] == ["done", "done"]
