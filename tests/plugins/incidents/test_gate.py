"""``univac incidents gate`` on the ``jsonl`` store, through ``main(argv)`` and once as a
process: the verdict, its reasons, ``--strict``, ``--json``, the exit codes, and a live
folder left exactly as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from univac.plugins.incidents import cli
from univac.plugins.incidents.model import (
    FOLLOWUP,
    FOLLOWUP_STATUS,
    Batch,
    Event,
    Incident,
    followup_meta,
    timestamp,
)
from univac.plugins.incidents.stores.jsonl import JsonlStore

TODAY = datetime.now(UTC).date()  # the gate reads the real clock (shift_zone UTC)
STAMP = timestamp(datetime.now(UTC) - timedelta(days=3))


def incident(key: str, severity: str, status: str = "open", service: str = "api",
             env: str = "prod") -> Incident:
    return Incident(f"inc_20260301_0000_{key}0000", f"Title {key}", service, env, severity,
                    status, STAMP, "test:alice", STAMP, STAMP)


def followup(number: int, inc: Incident, due: date, title: str) -> Event:
    return Event(f"ev_{number:016d}", inc.id, STAMP, FOLLOWUP, title, "test:alice",
                 followup_meta(title, "bob", "P2", due))


def gate_records() -> Batch:
    p1, p0_staging = incident("a1", "P1"), incident("b1", "P0", env="staging")
    p2, resolved = incident("c1", "P2"), incident("d1", "P0", status="resolved")
    other = incident("e1", "P0", service="web", env="dev")
    late = followup(1, resolved, TODAY - timedelta(days=1), "Fix the alert")
    today = followup(2, resolved, TODAY, "Write the runbook")
    done = followup(3, resolved, TODAY - timedelta(days=5), "Done already")
    finished = Event("ev_0000000000000004", resolved.id, STAMP, FOLLOWUP_STATUS, "done",
                     "test:alice", {"followup": done.id, "status": "done"})
    return Batch((p1, p0_staging, p2, resolved, other), (late, today, done, finished))


@pytest.fixture
def config(tmp_path) -> Path:
    """A configuration whose jsonl store is ``incidents`` in the state folder ``state``."""
    store = JsonlStore(tmp_path / "state" / "incidents")
    store.write(gate_records())
    store.close()
    path = tmp_path / "univac.toml"
    path.write_text('[bot]\nplugins = ["incidents"]\nstate_dir = "state"\n'
                    '[plugins.incidents]\nwriters = "sre"\n')
    return path


def gate(capsys, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["gate", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_open_p0_p1_incidents_and_overdue_followups_block(config, capsys):
    code, lines, _ = gate(capsys, "--service", "API", "--env", "prod", "--config", str(config))
    assert code == 1
    assert lines == [
        f"blocked: inc_20260301_0000_a10000 is an open P1 incident of api (prod), started {STAMP}",
        f"blocked: follow-up 1 of inc_20260301_0000_d10000 (P2) was due "
        f"{TODAY - timedelta(days=1)} and is still open",
    ]


def test_strict_blocks_p2_and_followups_due_today(config, capsys):
    code, lines, _ = gate(capsys, "--service", "api", "--env", "prod", "--strict",
                          "--config", str(config))
    assert code == 1
    assert [line.split(" (")[0] for line in lines] == [
        "blocked: inc_20260301_0000_a10000 is an open P1 incident of api",
        "blocked: inc_20260301_0000_c10000 is an open P2 incident of api",
        "blocked: follow-up 1 of inc_20260301_0000_d10000",
        "blocked: follow-up 2 of inc_20260301_0000_d10000"]
    assert lines[-1].endswith(f"is due today ({TODAY}) and is still open")


def test_without_env_every_environment_counts_and_details_add_titles(config, capsys):
    code, lines, _ = gate(capsys, "--service", "api", "--details", "--config", str(config))
    assert code == 1
    assert lines[0].startswith("blocked: inc_20260301_0000_b10000 is an open P0 incident of "
                               "api (staging)") and lines[0].endswith(": Title b1")
    assert lines[2].endswith("and is still open: Fix the alert (owner bob)")


def test_a_quiet_service_passes(config, capsys):
    assert gate(capsys, "--service", "web", "--env", "prod", "--config", str(config)) == (
        0, ["pass: web (prod) has no open P0/P1 incident and no overdue follow-up"], "")
    assert gate(capsys, "--service", "db", "--strict", "--config", str(config))[:2] == (
        0, ["pass: db has no open P0-P2 incident and no overdue or due-today follow-up"])


def test_json_for_ci(config, capsys):
    code, lines, _ = gate(capsys, "--service", "api", "--env", "prod", "--json",
                          "--config", str(config))
    assert code == 1 and len(lines) == 1
    assert lines[0] == json.dumps(json.loads(lines[0]), sort_keys=True)  # sorted keys
    assert json.loads(lines[0]) == {
        "format": 1, "service": "api", "env": "prod", "strict": False,
        "today": TODAY.isoformat(), "source": "jsonl", "exit_code": 1, "error": None,
        "verdict": "blocked",
        "reasons": [
            {"kind": "incident", "incident": "inc_20260301_0000_a10000", "severity": "P1",
             "env": "prod", "started_at": STAMP, "title": None,
             "text": f"inc_20260301_0000_a10000 is an open P1 incident of api (prod), "
                     f"started {STAMP}"},
            {"kind": "followup", "incident": "inc_20260301_0000_d10000", "followup": 1,
             "priority": "P2", "due": (TODAY - timedelta(days=1)).isoformat(), "title": None,
             "owner": None,
             "text": f"follow-up 1 of inc_20260301_0000_d10000 (P2) was due "
                     f"{TODAY - timedelta(days=1)} and is still open"}],
    }
    _, lines, _ = gate(capsys, "--service", "web", "--json", "--details", "--config",
                       str(config))
    found = json.loads(lines[0])
    assert (found["verdict"], found["reasons"][0]["title"]) == ("blocked", "Title e1")


def test_the_live_folder_is_left_as_it_was(config, capsys, tmp_path):
    folder = tmp_path / "state" / "incidents"
    with open(folder / "incidents.jsonl", "ab") as torn:
        torn.write(b'{"id":"inc_20260301_0000_f10000","title":"half')  # a write in progress
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert gate(capsys, "--service", "api", "--config", str(config))[0] == 1
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before


def test_exit_codes_tell_a_block_from_a_mistake_and_from_a_problem(config, capsys, tmp_path,
                                                                   monkeypatch):
    assert gate(capsys, "--env", "prod")[0] == 2  # --service missing
    assert gate(capsys, "--service", " ", "--config", str(config))[0] == 2
    monkeypatch.delenv("UNIVAC_CONFIG", raising=False)
    code, lines, err = gate(capsys, "--service", "api", "--json")
    assert code == 3 and "plugin 'incidents' is not enabled" in err
    assert json.loads(lines[0])["verdict"] == "unknown"
    assert json.loads(lines[0])["exit_code"] == 3
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('[bot]\nplugins = ["incidents"]\n[plugins.incidents]\n'
                         'writers = "sre"\nfolder = "nowhere"\n')
    code, _, err = gate(capsys, "--service", "api", "--config", str(elsewhere))
    assert code == 3 and "nowhere holds no incidents.jsonl" in err
    assert not (Path.cwd() / "nowhere").exists()  # nothing made
    monkeypatch.setenv("UNIVAC_CONFIG", str(config))
    assert gate(capsys, "--service", "api")[0] == 1


def test_the_installed_command(config):
    env = {**os.environ, "UNIVAC_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "univac", "incidents", "gate", "--service",
                           "api", "--env", "prod"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("blocked: inc_20260301_0000_a10000 is an open P1 incident")


def test_without_a_configuration_the_tools_say_how_to_name_one(config, capsys, monkeypatch):
    monkeypatch.delenv("UNIVAC_CONFIG", raising=False)
    hint = "no --config FILE given, and $UNIVAC_CONFIG is not set"
    code, _, err = gate(capsys, "--service", "api")
    assert code == 3 and hint in err
    assert cli.main(["migrate"]) == 1
    assert hint in capsys.readouterr().err
    monkeypatch.setenv("UNIVAC_CONFIG", str(config.with_name("gone.toml")))
    code, _, err = gate(capsys, "--service", "api")
    assert code == 3 and "gone.toml" in err and hint not in err
