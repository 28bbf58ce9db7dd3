"""The ``univac`` command on ordinary mistakes: a clear error line, never a traceback."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from univac import exitcodes
from univac.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root_logger() -> Iterator[None]:
    """``univac run`` sets up the root logger; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_config_that_is_not_utf8_names_the_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logger: None
) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[bot]\ngoodbye = "Au revoir, café"\n'.encode("latin-1"))
    for command in (["check", "--config", str(path)], ["--config", str(path)]):
        assert main(command) == exitcodes.CONFIG
        err = capsys.readouterr().err
        assert f"error: {path}: not UTF-8: byte 0xe9 at line 2, column 26" in err
        assert "Traceback" not in err


def test_init_into_a_missing_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sub" / "dir" / "x.toml"
    assert main(["init", str(target)]) == exitcodes.CONFIG
    assert f"error: the folder {target.parent} does not exist" in capsys.readouterr().err
    assert not target.parent.exists()


def test_init_onto_a_folder_is_a_clear_error_even_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ([], ["--force"]):
        assert main(["init", str(tmp_path), *extra]) == exitcodes.CONFIG
        assert f"error: {tmp_path} is a folder" in capsys.readouterr().err


def test_init_below_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes").write_text("a file")
    assert main(["init", str(tmp_path / "notes" / "x.toml")]) == exitcodes.CONFIG
    assert f"error: {tmp_path / 'notes'} is not a folder" in capsys.readouterr().err


def test_init_reports_a_write_that_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    target = tmp_path / "x.toml"
    assert main(["init", str(target)]) == exitcodes.CONFIG
    assert f"error: cannot write {target}: No space left on device" in capsys.readouterr().err


def test_check_fails_on_a_plugin_folder_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "here").mkdir()
    path = tmp_path / "univac.toml"
    path.write_text("[bot]\nplugin_dirs = ['here', 'plugnis']\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == exitcodes.CONFIG
    assert (f"error: {path}: bot.plugin_dirs: item 1: no folder {tmp_path / 'plugnis'}"
            in capsys.readouterr().err)


def test_check_warns_about_an_old_setting_name_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "univac.toml"
    path.write_text("[bot]\naudit_log = 'trail.jsonl'\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == exitcodes.OK
    captured = capsys.readouterr()
    assert (f"warning: {path}: bot.audit_log: renamed to bot.audit_file; "
            "the old name still works") in captured.err
    assert "OK" in captured.out


def test_the_start_up_log_warns_about_an_old_setting_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logger: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Started:
        def __init__(self, config: object) -> None:
            self.config = config

        def run(self, notifier: object) -> int:
            return exitcodes.OK

        def request_stop(self) -> None:
            pass

    monkeypatch.setattr("univac.cli.Bot", Started)
    monkeypatch.setattr("signal.signal", lambda *args: None)
    monkeypatch.setattr("faulthandler.enable", lambda: None)
    path = tmp_path / "univac.toml"
    path.write_text("[bot]\naudit_log = 'trail.jsonl'\n", encoding="utf-8")
    assert main(["--config", str(path)]) == exitcodes.OK
    err = capsys.readouterr().err
    assert re.search(rf"WARNING .*: {re.escape(str(path))}: bot\.audit_log: renamed to "
                     r"bot\.audit_file", err), err


def test_exit_codes_are_documented_as_the_module_says() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d) \| (.+?) \|$", operations, re.MULTILINE))
    assert set(rows) == {str(code) for code in exitcodes.MEANINGS}
    for code, meaning in exitcodes.MEANINGS.items():
        assert rows[str(code)].startswith(meaning), (code, rows[str(code)])
