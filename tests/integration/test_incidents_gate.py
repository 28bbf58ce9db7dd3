"""``univac incidents gate`` on PostgreSQL (started by the suite, postgres_servers.py)
and on ``auto``: the same verdicts as on JSON lines, read with SELECTs only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.plugins.incidents.test_gate import STAMP, TODAY, gate_records, incident
from tests.waiting import free_port
from univac.plugins.incidents import cli
from univac.plugins.incidents.model import Batch
from univac.plugins.incidents.stores.jsonl import JsonlStore
from univac.plugins.incidents.stores.postgres import PostgresStore

pytestmark = pytest.mark.integration


def configure(tmp_path: Path, dsn: str, store: str = "postgres") -> Path:
    (tmp_path / "dsn").write_text(dsn)
    path = tmp_path / "univac.toml"
    path.write_text(f'[bot]\nplugins = ["incidents"]\nstate_dir = "state"\n'
                    f'[plugins.incidents]\nwriters = "sre"\nstore = "{store}"\n'
                    f'dsn_file = "dsn"\nconnect_timeout_s = 2\n')
    return path


def tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as connection:
        return [row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'incident%' ORDER BY 1")]


def test_the_gate_reads_postgres(postgres, tmp_path, capsys):
    store = PostgresStore(postgres)
    store.write(gate_records())
    store.close()
    config = configure(tmp_path, postgres)
    assert cli.main(["gate", "--service", "api", "--env", "prod", "--config", str(config)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"blocked: inc_20260301_0000_a10000 is an open P1 incident of api (prod), started {STAMP}",
        f"blocked: follow-up 1 of inc_20260301_0000_d10000 (P2) was due "
        f"{TODAY - timedelta(days=1)} and is still open"]
    assert cli.main(["gate", "--service", "api", "--env", "prod", "--strict", "--json",
                     "--config", str(config)]) == 1
    found = json.loads(capsys.readouterr().out)
    assert (found["source"], found["verdict"], len(found["reasons"])) == ("postgres", "blocked", 4)
    assert cli.main(["gate", "--service", "web", "--env", "prod", "--config", str(config)]) == 0


def test_a_database_without_tables_is_a_problem_and_stays_without(postgres, tmp_path, capsys):
    config = configure(tmp_path, postgres)
    assert cli.main(["gate", "--service", "api", "--config", str(config)]) == 3
    assert 'relation "incidents" does not exist' in capsys.readouterr().err
    assert tables(postgres) == []  # a reader makes nothing


def test_postgres_down_is_a_problem_for_the_postgres_store(tmp_path, capsys):
    dead = f"host=127.0.0.1 port={free_port()} user=postgres dbname=postgres"
    config = configure(tmp_path, dead)
    assert cli.main(["gate", "--service", "api", "--json", "--config", str(config)]) == 3
    assert json.loads(capsys.readouterr().out)["verdict"] == "unknown"


def test_auto_reads_postgres_and_falls_back_to_the_journal(postgres, tmp_path, capsys):
    only_in_postgres = incident("f1", "P0", service="search")
    store = PostgresStore(postgres)
    store.write(Batch((only_in_postgres,)))
    store.close()
    journal = JsonlStore(tmp_path / "state" / "incidents")
    journal.write(Batch((incident("g1", "P1", service="mail"),)))
    journal.close()
    config = configure(tmp_path, postgres, "auto")
    assert cli.main(["gate", "--service", "search", "--json", "--config", str(config)]) == 1
    assert json.loads(capsys.readouterr().out)["source"] == "postgres"
    dead = configure(tmp_path, f"host=127.0.0.1 port={free_port()} user=postgres", "auto")
    assert cli.main(["gate", "--service", "mail", "--json", "--config", str(dead)]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["source"] == "jsonl (PostgreSQL unreachable)"
    assert found["reasons"][0]["incident"] == "inc_20260301_0000_g10000"
