"""Run one step's command: a subprocess, never a shell. The handler's own thread.

- The argument list is the step's (a string was split like a shell at load time);
  ``${NAME}`` in an argument is replaced by a variable's value after splitting, so a
  value can never become two arguments. Secrets are never put in arguments.
- The program: a bare name is looked up on the configured ``path``; a relative path with
  a slash (``scripts/flush.sh``) is a file of the catalogue; an absolute path is used
  as it is.
- The environment is clean: ``PATH``, ``RUNBOOK_STEP``, ``RUNBOOK_ENVIRONMENT``, the
  configured variables of the environment, the step's own, and the secrets the step
  names, read from their files at each run. Nothing of the bot's environment leaks in.
- The working folder is ``work_dir``, or a new empty folder removed after the run.
- Output (stdout and stderr together) is read up to ``max_output_bytes``; the rest is
  read and dropped so the process never blocks on a full pipe.
- After ``timeout_s`` the process group gets SIGTERM, then SIGKILL two seconds later.
- On Linux, with ``setpriv`` installed (util-linux), the process is started through
  ``setpriv --pdeathsig KILL``: if the bot dies, the kernel kills the step's process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import references, substitute
from .schema import Step

KILL_GRACE_S = 2.0
DRAIN_S = 1.0
"""After the process exits, how long output of what it left running is still read."""
READ_BYTES = 65536
MASK = "***"
MIN_SECRET_LENGTH = 4


class NotRunnable(Exception):
    """The step cannot be started: a program, a variable or a secret is missing."""


@dataclass(frozen=True)
class Prepared:
    """A command ready to start: arguments, environment, where, and what to hide."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    secrets: tuple[str, ...] = ()

    def shown(self) -> str:
        """The command line for people (never holds secrets: they are in the environment)."""
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Outcome:
    """What happened to the process."""

    exit_code: int | None
    """None when it was killed at the timeout."""
    output: str
    truncated: bool
    timed_out: bool
    duration_s: float
    pid: int = 0


@dataclass
class Masker:
    """Replaces secret values (4 characters or more) in text with ``***``."""

    secrets: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        usable = {s for s in self.secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets = tuple(sorted(usable, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def variables(step: Step, environment: str, configured: Mapping[str, Mapping[str, str]],
              path: str) -> dict[str, str]:
    """The plain (not secret) variables of a run: substituted and passed to the process."""
    return {"PATH": path, "RUNBOOK_STEP": step.id, "RUNBOOK_ENVIRONMENT": environment,
            **configured.get(environment, {}), **step.env.get(environment, {})}


def read_secrets(step: Step, environment: str,
                 files: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The secrets the step names, read from their files now; NotRunnable says which not."""
    found = {}
    configured = files.get(environment, {})
    for name in step.secrets:
        if name not in configured:
            raise NotRunnable(f"secret {name} is not configured for {environment}")
        try:
            file = Path(configured[name]).expanduser()
            found[name] = file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            raise NotRunnable(f"cannot read the secret {name} for {environment}: "
                              f"{getattr(error, 'strerror', None) or type(error).__name__}"
                              ) from None
    return found


def program(name: str, catalogue: Path, path: str) -> Path | None:
    """Where the program of a command is, or None when it cannot be found."""
    if "/" not in name:
        found = shutil.which(name, path=path)
        return Path(found) if found else None
    candidate = Path(name) if Path(name).is_absolute() else (catalogue / name).resolve()
    if not Path(name).is_absolute() and not candidate.is_relative_to(catalogue.resolve()):
        return None
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def prepare(step: Step, environment: str, catalogue: Path, path: str,
            configured: Mapping[str, Mapping[str, str]],
            secret_files: Mapping[str, Mapping[str, str]]) -> Prepared:
    """The command of ``step`` for ``environment``; NotRunnable when it cannot start."""
    plain = variables(step, environment, configured, path)
    secrets = read_secrets(step, environment, secret_files)
    named = [name for name in references(step.command) if name in secrets]
    if named:
        raise NotRunnable(f"secrets are passed in the environment only, not as ${{{named[0]}}}")
    try:
        argv = substitute(step.command, plain)
    except KeyError as error:
        raise NotRunnable(f"variable {error.args[0]} is not set for {environment}") from None
    found = program(argv[0], catalogue, path)
    if found is None:
        raise NotRunnable(f"program {argv[0]!r} not found (PATH={path})")
    return Prepared((str(found), *argv[1:]), plain | secrets, tuple(secrets.values()))


def run(prepared: Prepared, timeout_s: float, max_bytes: int, work_dir: str,
        scratch: Path) -> Outcome:
    """Start the process, collect its output, stop it at the timeout."""
    if work_dir:
        return _run_in(prepared, timeout_s, max_bytes, Path(work_dir).expanduser())
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    try:
        return _run_in(prepared, timeout_s, max_bytes, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_in(prepared: Prepared, timeout_s: float, max_bytes: int, cwd: Path) -> Outcome:
    started = time.monotonic()
    process = subprocess.Popen(
        [*_die_with_bot(), *prepared.argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=dict(prepared.env), cwd=cwd, start_new_session=True,
        close_fds=True)
    assert process.stdout is not None
    deadline = started + timeout_s
    chunks, truncated = _read(process, deadline, max_bytes)
    timed_out = process.poll() is None and time.monotonic() >= deadline
    if timed_out:
        _stop(process)
    else:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(process)
    process.stdout.close()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return Outcome(None if timed_out else process.returncode, text, truncated, timed_out,
                   time.monotonic() - started, process.pid)


def _read(process: subprocess.Popen[bytes], deadline: float,
          max_bytes: int) -> tuple[list[bytes], bool]:
    """Read output until it ends or the deadline; keep ``max_bytes``, drop the rest."""
    assert process.stdout is not None
    chunks: list[bytes] = []
    kept, truncated = 0, False
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if process.poll() is not None:
                deadline = min(deadline, time.monotonic() + DRAIN_S)
            if not selector.select(min(left, 0.5)):
                if process.poll() is not None and not _pending(process):
                    break
                continue
            data = os.read(process.stdout.fileno(), READ_BYTES)
            if not data:
                break
            room = max_bytes - kept
            if len(data) > room:
                truncated = True
            chunks.append(data[:room])
            kept += min(len(data), room)
    return chunks, truncated


def _pending(process: subprocess.Popen[bytes]) -> bool:
    """Whether output is still waiting in the pipe (a finished process's last words)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        return bool(selector.select(0))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL after the grace time."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _die_with_bot() -> list[str]:
    """``setpriv --pdeathsig KILL --`` where available: the step dies with the bot."""
    found = shutil.which("setpriv")
    return [found, "--pdeathsig", "KILL", "--"] if found else []
