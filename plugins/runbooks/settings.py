"""The ``[plugins.runbooks]`` table. Start-up (the bot's, or a ``univac runbook`` tool's).

Paths must be absolute: the bot's working folder (``/`` under systemd) is not the
configuration file's folder, and the settings reader does not resolve paths against it.
An empty ``artifacts_dir`` is the plugin's data folder (``ctx.data_dir``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from univac import SettingsError, Target

VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Settings:
    """Where the catalogue is, who may run and approve, how steps run, where alerts go."""

    catalogue: str = ""
    """The folder of YAML steps (a git checkout); absolute."""
    artifacts_dir: str = ""
    """Where full outputs of runs (and the run locks) are kept; absolute. Empty: the
    plugin's data folder, ``runbooks`` in the bot's state folder."""
    environments: tuple[str, ...] = ("staging", "prod")
    default_environment: str = "staging"
    promoted_environments: tuple[str, ...] = ("prod",)
    """Environments that run only promoted versions of a step."""
    runner_role: str = "ops"
    """The role needed to run a step (or record a manual override); empty: anyone."""
    approver_role: str = "approvers"
    approval_ttl_s: float = 900.0
    work_dir: str = ""
    """The working folder of every step; empty: a new empty folder for each run."""
    path: str = DEFAULT_PATH
    """PATH in the steps' environment (and where ``lint`` looks for programs)."""
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per environment: variables every step gets (``[plugins.runbooks.variables.prod]``)."""
    secret_files: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per environment: variable name -> file holding its secret value, read at each run."""
    default_timeout_s: float = 60.0
    max_timeout_s: float = 3600.0
    max_output_bytes: int = 1_000_000
    chat_lines: int = 5
    """Lines of output shown in chat (the last ones); the rest is in the artifact."""
    artifact_url: str = ""
    """Shown before an artifact's file name in chat, when the folder is served somewhere."""
    keep_artifacts: int = 1000
    alert_targets: tuple[Target, ...] = ()
    alert_environment: str = "prod"
    """The environment of an alert without an environment label (and of PagerDuty's)."""
    environment_labels: tuple[str, ...] = ("environment", "env")
    service_labels: tuple[str, ...] = ("service", "job")
    target_label: str = "chat_target"
    """An alert label or annotation naming a ``transport:target`` to post into instead."""
    max_alerts: int = 5
    automation: bool = True
    """Run ``safe_for_automation`` steps when an alert triggers them."""
    automation_repeat_s: float = 3600.0
    """An alert repeated within this time does not run its automated step again."""
    pagerduty_secret: str = ""
    """The signing secret of the PagerDuty v3 webhook subscription; give it as ``_file``."""
    pagerduty_services: dict[str, str] = field(default_factory=dict)
    """PagerDuty service name -> catalogue service, where they differ."""

    def __post_init__(self) -> None:
        problems = _paths(self) | _environments(self) | _numbers(self)
        for table in ("variables", "secret_files"):
            for env, names in getattr(self, table).items():
                bad = [name for name in names if not VARIABLE.fullmatch(name)]
                if bad:
                    problems[f"{table}.{env}"] = f"not variable names: {', '.join(bad)}"
        for env, files in self.secret_files.items():
            relative = [name for name, file in files.items()
                        if not Path(file).expanduser().is_absolute()]
            if relative:
                problems[f"secret_files.{env}"] = f"give absolute paths: {', '.join(relative)}"
        if problems:
            raise SettingsError(problems)


def _paths(settings: Settings) -> dict[str, str]:
    problems = {}
    if not settings.catalogue:
        problems["catalogue"] = "missing required setting (an absolute folder)"
    for key in ("catalogue", "artifacts_dir", "work_dir"):
        value = getattr(settings, key)
        if value and not Path(value).expanduser().is_absolute():
            problems[key] = f"{value!r} must be an absolute path"
    return problems


def _environments(settings: Settings) -> dict[str, str]:
    known = set(settings.environments)
    problems = {}
    if not settings.environments:
        problems["environments"] = "name at least one environment"
    bad = [env for env in settings.environments if not ENVIRONMENT.fullmatch(env)]
    if bad:
        problems["environments"] = f"use letters, digits, '.', '_' and '-': {', '.join(bad)}"
    for key in ("default_environment", "alert_environment"):
        if getattr(settings, key) not in known:
            problems[key] = f"{getattr(settings, key)!r} is not one of environments"
    for key in ("promoted_environments", "variables", "secret_files"):
        unknown = sorted(set(getattr(settings, key)) - known)
        if unknown:
            problems[key] = f"unknown environments: {', '.join(unknown)}"
    return problems


def _numbers(settings: Settings) -> dict[str, str]:
    lows = {"approval_ttl_s": 1, "default_timeout_s": 0.1, "max_timeout_s": 0.1,
            "max_output_bytes": 1024, "chat_lines": 1, "keep_artifacts": 1, "max_alerts": 1,
            "automation_repeat_s": 0}
    problems = {key: f"must be at least {low}" for key, low in lows.items()
                if getattr(settings, key) < low}
    if settings.default_timeout_s > settings.max_timeout_s:
        problems["default_timeout_s"] = "must not be above max_timeout_s"
    return problems
