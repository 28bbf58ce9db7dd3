"""The ``runbook`` chat command: list, show, run, next, override. Reactive threads.

``runbook list [service]``, ``runbook show <id>``, ``runbook run <id> [env]`` (through
every guard, see runs.py), ``runbook next`` (the next safe step of the channel's alert or
last run), ``runbook override <id> [env] <reason>`` (a human handled it by hand). Every
line passes the kit's one-line cleaning; the core masks configured secrets.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterator

from univac import Context, UserError
from univac.kit.text import one_line

from . import flow, guards, runs
from .catalogue import Catalogue
from .runs import Place, Runtime
from .schema import Step

MAX_LIST = 15
ACTIONS = ("list", "show", "run", "next", "override")


def answer(ctx: Context, runtime: Runtime, action: str, words: tuple[str, ...]) -> Iterator[str]:
    """The lines answering ``runbook <action> <words>``."""
    catalogue = runtime.catalogue()
    if action == "list":
        yield from listing(catalogue, runtime, words[0] if words else "")
    elif action == "show":
        yield from show(catalogue, runtime, find(catalogue, _one(words, "show <id>")))
    elif action == "next":
        yield next_step(ctx, runtime, catalogue)
    else:
        step_id, environment, rest = _target(words, runtime, action)
        step = find(catalogue, step_id)
        place = Place((where(ctx),), ctx.reply)
        if action == "run":
            if rest:
                raise UserError(f"Too many words: {' '.join(rest)}. Usage: runbook run <id> [env]")
            runs.request(ctx, runtime, step, environment, place)
        else:
            _override(ctx, runtime, step, environment, " ".join(rest), place)


def where(ctx: Context) -> str:
    assert ctx.message is not None
    return f"{ctx.message.transport}:{ctx.message.target}"


def find(catalogue: Catalogue, step_id: str) -> Step:
    step = catalogue.get(step_id)
    if step is None:
        broken = [p for p in catalogue.problems if p.step == step_id and p.level == "error"]
        if broken:
            more = f" (and {len(broken) - 1} more; univac runbook lint names them)" \
                if len(broken) > 1 else ""
            raise UserError(one_line(f"{step_id} is left out of the catalogue: {broken[0]}"
                                     f"{more}"))
        close = difflib.get_close_matches(step_id, list(catalogue.steps), n=1)
        hint = f"; did you mean {close[0]}?" if close else "; runbook list shows them"
        raise UserError(f"There is no step {one_line(step_id, 64)}{hint}")
    return step


def listing(catalogue: Catalogue, runtime: Runtime, service: str) -> Iterator[str]:
    steps = [s for s in catalogue.steps.values()
             if not service or s.service.casefold() == service.casefold()]
    if not steps:
        yield f"No steps for service {one_line(service, 64)}." if service else "No steps."
    for step in steps[:MAX_LIST]:
        scopes = ", ".join(step.safety.scopes)
        note = guards.approval_note(step, runtime.settings)
        yield one_line(f"{step.id} ({step.service}): {step.title} [{scopes}; {note}]")
    if len(steps) > MAX_LIST:
        yield f"... and {len(steps) - MAX_LIST} more; runbook list <service> shows fewer."
    errors = sum(1 for p in catalogue.problems if p.level == "error")
    if errors:
        yield (f"{errors} problem(s) in the catalogue leave steps out; univac runbook lint "
               "names them.")


def show(catalogue: Catalogue, runtime: Runtime, step: Step) -> Iterator[str]:
    settings = runtime.settings
    yield one_line(f"{step.id} ({step.service}): {step.title}")
    if step.description:
        yield one_line(step.description)
    timeout = min(step.timeout_s or settings.default_timeout_s, settings.max_timeout_s)
    yield one_line(f"command: {shlex.join(step.command)} (timeout {timeout:g} s)")
    yield (f"guards: scopes {', '.join(step.safety.scopes)}; "
           f"{guards.approval_note(step, settings)}")
    if step.expect:
        yield one_line("expect: " + "; ".join(
            repr(e.pattern.pattern) + (" (may fail)" if e.allow_failure else "")
            for e in step.expect))
    if step.next.targets():
        yield "next: " + ", ".join(f"{key} -> {target}" for key, target in step.next.targets())
    yield one_line(f"version {step.version} from {step.file}:{step.line}"
                   + (f" (catalogue {catalogue.commit})" if catalogue.commit else ""))
    for environment in settings.promoted_environments:
        if environment in step.safety.scopes:
            yield _promotion(catalogue, step, environment)


def _promotion(catalogue: Catalogue, step: Step, environment: str) -> str:
    found = catalogue.promotions.of(step.id, environment, step.version)
    if found is not None:
        return one_line(f"{environment}: promoted by {found.by} at {found.at} "
                        f"(evidence {found.evidence_url})")
    older = catalogue.promotions.latest(step.id, environment)
    was = f"; version {older.version} was, by {older.by}" if older else ""
    return f"{environment}: this version is not promoted{was}"


def next_step(ctx: Context, runtime: Runtime, catalogue: Catalogue) -> str:
    """The next safe step of this channel's flow (an alert, or the last run here)."""
    current = flow.read(ctx.state, where(ctx))
    if current is None:
        return "Nothing to follow here: no alert and no run in this channel yet."
    environment = current.environment or runtime.settings.default_environment
    last = current.after.partition(":")[0]
    names = [current.next] if current.next else [c for c in current.candidates if c != last]
    steps = [step for name in names if (step := catalogue.get(name)) is not None]
    about = f"after {current.after}" if current.next or current.after else current.alert
    if not steps:
        return one_line(f"No step to offer {about or 'here'}.")
    step, refused = guards.next_safe(steps, environment, runtime.settings, catalogue)
    if step is None:
        assert refused is not None
        return one_line(f"No safe step {about}: {refused.reason}")
    return one_line(f"Next {about}: {runs.offer(step, environment, catalogue, runtime.settings)}")


def _override(ctx: Context, runtime: Runtime, step: Step, environment: str, reason: str,
              place: Place) -> None:
    role = runtime.settings.runner_role
    if role and not ctx.has_role(role):
        raise UserError(f"You need the '{role}' role to record an override.")
    if not reason:
        raise UserError("Say why: runbook override <id> [env] <reason>")
    runs.override(ctx, runtime, step, environment, one_line(reason, 200), place)


def _one(words: tuple[str, ...], usage: str) -> str:
    if len(words) != 1:
        raise UserError(f"Usage: runbook {usage}")
    return words[0]


def _target(words: tuple[str, ...], runtime: Runtime, action: str) -> tuple[str, str, list[str]]:
    """(step id, environment, the remaining words) of ``run`` and ``override``."""
    if not words:
        raise UserError(f"Usage: runbook {action} <id> [env]" + (" <reason>" if action ==
                                                                  "override" else ""))
    environments = runtime.settings.environments
    if len(words) > 1 and words[1] in environments:
        return words[0], words[1], list(words[2:])
    if action == "run" and len(words) > 1:
        raise UserError(f"Unknown environment {one_line(words[1], 32)}; "
                        f"choose from {', '.join(environments)}.")
    return words[0], runtime.settings.default_environment, list(words[1:])
