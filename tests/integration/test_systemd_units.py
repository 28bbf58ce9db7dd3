"""The systemd units pass ``systemd-analyze verify`` and rate "OK" for security, offline.

Neither check needs a running systemd: both read the unit files only. The units name
``/usr/local/bin/univac``; ``verify`` insists that ExecStart= is executable, so the
copies checked here point at the univac command of this checkout instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.botprocess import univac_command

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "contrib" / "systemd"
MAX_EXPOSURE = 2.5
DIRECTIVES = (
    "Type=notify", "WatchdogSec=", "Restart=on-failure", "StartLimitIntervalSec=",
    "StartLimitBurst=", "DynamicUser=yes", "StateDirectory=", "ConfigurationDirectory=",
    "LoadCredential=", "StandardInput=null",
)


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: scripts/install-test-servers installs systemd"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def units(tmp_path: Path) -> list[Path]:
    """Both units, as univac.service and the instance univac@ops.service."""
    univac = str(Path(univac_command()[0]).resolve())
    copies = []
    for source, name in (("univac.service", "univac.service"),
                         ("univac@.service", "univac@ops.service")):
        text = (UNITS / source).read_text(encoding="utf-8")
        assert "ExecStart=/usr/local/bin/univac run --config %E/univac/" in text
        copy = tmp_path / name
        copy.write_text(text.replace("/usr/local/bin/univac", univac), encoding="utf-8")
        copies.append(copy)
    return copies


def test_the_units_declare_what_operations_rely_on() -> None:
    for name in ("univac.service", "univac@.service"):
        text = (UNITS / name).read_text(encoding="utf-8")
        missing = [d for d in DIRECTIVES if not re.search(rf"^{re.escape(d)}", text, re.M)]
        assert missing == [], f"{name} lacks {missing}"
    template = (UNITS / "univac@.service").read_text(encoding="utf-8")
    assert "--config %E/univac/%i.toml" in template
    assert "StateDirectory=univac/%i" in template


def test_systemd_analyze_verify_finds_nothing(units: list[Path]) -> None:
    done = analyze("verify", *map(str, units))
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_systemd_analyze_verify_would_notice_a_broken_unit(units: list[Path]) -> None:
    broken = units[0].with_name("broken.service")
    broken.write_text(units[0].read_text().replace("Type=notify", "Type=notifyy"))
    done = analyze("verify", str(broken))
    assert "Failed to parse service type" in done.stderr


def test_the_security_exposure_is_rated_ok(units: list[Path]) -> None:
    for unit in units:
        done = analyze("security", "--offline=yes", str(unit))
        assert done.returncode == 0, done.stderr
        found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", done.stdout)
        assert found, done.stdout
        assert float(found.group(1)) <= MAX_EXPOSURE, done.stdout
        assert found.group(2) == "OK"
