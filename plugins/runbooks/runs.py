"""One run of a step, from request to result. The handler's thread (a reactive thread for
``runbook run``, an automation thread for an alert).

Guards first (guards.py), then the runner role, the lock, the approval, the command
(execution.py), the expectations, the artifact, the audit trail, the metrics, the reply
and the step to offer next. Every request, refusal, approval outcome, start and result is
an audit record (``action: runbook``) with the step, its version, the environment, the
catalogue's commit, the run's id and the requester; once approved, every record names
the approvers (``ctx.approve`` tells them), and a denial names who denied. The
approvers' own answers are the core's ``approval`` records, whose ``what`` names the
run. A result record that never came (the bot was killed) leaves the ``started`` record
alone: the overrides report counts it as interrupted.

The secrets a step reads from its files are handed to ``ctx.mask`` before the command
starts, so the core masks them in every log and chat line from then on; the plugin's
own ``Masker`` hides them in the artifact, which the core does not see.

Results (the ``result`` label of ``runbook_steps_executed_total``): ``ok``, ``failed``,
``expect_failed``, ``denied``, ``timed_out``, ``refused_scope``, ``manual_override``.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from univac import Context
from univac.kit.text import one_line

from . import artifacts, execution, flow, guards
from .catalogue import Catalogue
from .execution import Masker, NotRunnable, Outcome
from .locks import StepLock
from .runtime import Runtime
from .schema import Step
from .settings import Settings

FOLLOWED = ("ok", "failed", "expect_failed", "timed_out", "manual_override")
"""Results a flow follows (``next``); a refusal or a denial leaves the flow as it was."""


@dataclass(frozen=True)
class Place:
    """Where a run was asked for (``transport:target``, several for an alert's targets)
    and how its lines get there."""

    wheres: tuple[str, ...]
    say: Callable[[str], None]


@dataclass(frozen=True)
class Run:
    """One request to run a step: the step as it was read, where, by whom, and its id."""

    step: Step
    environment: str
    requester: str
    trigger: str
    """``chat``, or the alert source (``alertmanager``, ``pagerduty``)."""
    id: str
    approvers: tuple[str, ...] = ()
    """The identities that approved the run, once it is approved."""

    def details(self, catalogue: Catalogue) -> dict[str, Any]:
        found = {"step": self.step.id, "service": self.step.service,
                 "environment": self.environment, "version": self.step.version,
                 "catalogue": catalogue.commit, "run": self.id, "requester": self.requester,
                 "trigger": self.trigger}
        return found | ({"approvers": list(self.approvers)} if self.approvers else {})


def new_id() -> str:
    return secrets.token_hex(4)


def request(ctx: Context, runtime: Runtime, step: Step, environment: str, place: Place,
            trigger: str = "chat") -> str:
    """Take a request through every guard and, when they allow it, run the step."""
    catalogue = runtime.catalogue()
    requester = ctx.message.identity if ctx.message else f"alert:{trigger}"
    run = Run(step, environment, requester, trigger, new_id())
    with runtime.activity.running(run.id, f"{step.id}@{environment}"):
        return _request(ctx, runtime, run, catalogue, place)


def _request(ctx: Context, runtime: Runtime, run: Run, catalogue: Catalogue,
             place: Place) -> str:
    step, environment, trigger = run.step, run.environment, run.trigger
    refused = guards.refusal(step, environment, runtime.settings, catalogue)
    if refused is None and trigger != "chat" and not step.safety.safe_for_automation:
        refused = guards.Refusal("refused_scope", f"{step.id} is not safe for automation.")
    if refused is not None:
        return conclude(ctx, run, catalogue, place, refused.result, refused.reason)
    role = runtime.settings.runner_role
    if trigger == "chat" and role and not ctx.has_role(role):
        ctx.audit("runbook", "refused", **run.details(catalogue), reason=f"role {role}")
        place.say(f"You need the '{role}' role to run runbook steps.")
        return "refused"
    lock = StepLock(runtime.folder / "locks", step.id, environment)
    if lock.busy():
        return _busy(ctx, run, catalogue, place, lock)
    ctx.audit("runbook", "requested", **run.details(catalogue))
    if step.needs_approval and trigger == "chat":
        verdict, run = _approval(ctx, runtime, run, catalogue, place)
        if verdict:
            return verdict
    if not lock.acquire({"run": run.id, "requester": run.requester, "since": time.time()}):
        return _busy(ctx, run, catalogue, place, lock)
    try:
        with runtime.activity.holding(f"{step.id}@{environment}"):
            return execute(ctx, runtime, run, catalogue, place)
    finally:
        lock.release()


def _busy(ctx: Context, run: Run, catalogue: Catalogue, place: Place, lock: StepLock) -> str:
    holder = lock.holder()
    who = f" (run {holder['run']}, by {holder.get('requester', '?')})" if "run" in holder else ""
    ctx.audit("runbook", "busy", **run.details(catalogue))
    place.say(f"{run.step.id} is already running in {run.environment}{who}; one run at a "
              "time.")
    return "busy"


def _approval(ctx: Context, runtime: Runtime, run: Run, catalogue: Catalogue,
              place: Place) -> tuple[str, Run]:
    """Ask the approvers; ("", the run with its approvers) when approved and the step is
    unchanged, else (the result, the run)."""
    step, settings = run.step, runtime.settings
    action = (f"runbook {step.id} in {run.environment} (version {step.version}, "
              f"run {run.id})")
    outcome = ctx.approve(action, approvals=step.safety.approvals, ttl_s=settings.approval_ttl_s,
                          role=settings.approver_role, self_approve=step.safety.self_approve)
    so_far = {"approvers": list(outcome.approvers) or None}
    if outcome == "denied":
        return conclude(ctx, run, catalogue, place, "denied",
                        f"{step.id} was denied by {outcome.denied_by}.",
                        denied_by=outcome.denied_by, **so_far), run
    if outcome != "approved":
        return conclude(ctx, run, catalogue, place, "timed_out",
                        f"{step.id}: nobody approved in time ({settings.approval_ttl_s:.0f} s).",
                        **so_far), run
    run = dataclasses.replace(run, approvers=outcome.approvers)
    ctx.audit("runbook", "approved", **run.details(catalogue), request=outcome.request)
    now = runtime.catalogue().get(step.id)
    if now is None or now.version != step.version:
        reason = f"{step.id} changed while waiting for approval; ask again."
        ctx.audit("runbook", "refused", **run.details(catalogue), reason="changed")
        place.say(reason)
        return "refused", run
    return "", run


def execute(ctx: Context, runtime: Runtime, run: Run, catalogue: Catalogue,
            place: Place) -> str:
    """Run the command (the lock is held); record, count and report the result."""
    settings, step = runtime.settings, run.step
    try:
        prepared = execution.prepare(step, run.environment, catalogue.root, settings.path,
                                     settings.variables, settings.secret_files)
    except NotRunnable as error:
        return conclude(ctx, run, catalogue, place, "failed", f"{step.id} cannot start: {error}")
    for secret in prepared.secrets:
        ctx.mask(secret)
    masker = Masker(prepared.secrets)
    timeout = min(step.timeout_s or settings.default_timeout_s, settings.max_timeout_s)
    ctx.audit("runbook", "started", **run.details(catalogue), command=prepared.shown(),
              timeout_s=timeout)
    try:
        outcome = execution.run(prepared, timeout, settings.max_output_bytes, settings.work_dir,
                                runtime.folder / "work")
    except OSError as error:  # the working folder or the program, named by the error
        where = f": {error.filename}" if error.filename else ""
        reason = f"{step.id} cannot start: {error.strerror or type(error).__name__}{where}"
        return conclude(ctx, run, catalogue, place, "failed", reason)
    output = masker(outcome.output)
    checks = [(e.pattern.pattern, bool(e.pattern.search(output)), e.allow_failure)
              for e in step.expect]
    result = classify(outcome, checks)
    name = _artifact(ctx, runtime, run, catalogue, prepared.shown(), outcome, result, output)
    ctx.observe("runbook_step_duration_seconds", outcome.duration_s, service=step.service,
                action=step.id)
    lines = report(run, outcome, result, checks, output, name, settings, timeout)
    return conclude(ctx, run, catalogue, place, result, lines, exit_code=outcome.exit_code,
                    duration_s=round(outcome.duration_s, 3), artifact=name,
                    truncated=outcome.truncated, expect=_expect_note(checks) or None)


def classify(outcome: Outcome, checks: list[tuple[str, bool, bool]]) -> str:
    if outcome.timed_out:
        return "timed_out"
    if outcome.exit_code != 0:
        return "failed"
    if any(not seen and not optional for _, seen, optional in checks):
        return "expect_failed"
    return "ok"


def conclude(ctx: Context, run: Run, catalogue: Catalogue, place: Place, result: str,
             said: str | list[str], **details: Any) -> str:
    """Audit and count a result, say it, note and offer the step it leads to."""
    extra = {key: value for key, value in details.items() if value is not None}
    ctx.audit("runbook", result, **run.details(catalogue), **extra)
    ctx.count("runbook_steps_executed", service=run.step.service, action=run.step.id,
              result=result)
    for line in [said] if isinstance(said, str) else said:
        place.say(line)
    following = run.step.next.after(result)
    if result in FOLLOWED:
        for where in place.wheres:
            flow.after_run(ctx.state, where, run.step.service, run.environment, run.step.id,
                           result, following)
    step = catalogue.get(following) if following else None
    if step is not None:
        place.say(f"Next ({_on(result)}): {offer(step, run.environment, catalogue, ctx.config)}")
    return result


def offer(step: Step, environment: str, catalogue: Catalogue, settings: Settings) -> str:
    """One line offering a step: what it is, its guards here, how to run it."""
    refused = guards.refusal(step, environment, settings, catalogue)
    if refused is not None:
        return f"{step.label()} - {refused.reason}"
    note = guards.approval_note(step, settings)
    return f"{step.label()} ({note}): runbook run {step.id} {environment}"


def report(run: Run, outcome: Outcome, result: str, checks: list[tuple[str, bool, bool]],
           output: str, artifact: str, settings: Settings, timeout: float) -> list[str]:
    """The lines said about a finished run: verdict, last lines of output, the artifact."""
    how = f"exit {outcome.exit_code}" if outcome.exit_code is not None else \
        f"timed out after {timeout:g} s"
    head = f"{run.step.id} in {run.environment}: {result} ({how}, {outcome.duration_s:.1f} s)"
    note = _expect_note(checks)
    approved = f"; approved by {', '.join(run.approvers)}" if run.approvers else ""
    lines = [head + (f"; expected {note}" if note else "") + approved]
    shown, hidden = artifacts.tail(output, settings.chat_lines)
    lines += [f"> {one_line(line, 300)}" for line in shown]
    where = f"{settings.artifact_url}{artifact}" if artifact else "not kept"
    more = f"{hidden} more line(s); " if hidden else ""
    cut = " (cut at max_output_bytes)" if outcome.truncated else ""
    lines.append(f"{more}full output{cut}: {where}")
    return lines


def _expect_note(checks: list[tuple[str, bool, bool]]) -> str:
    return ", ".join(f"{pattern!r} {'seen' if seen else 'missing'}"
                     + (" (allowed)" if optional and not seen else "")
                     for pattern, seen, optional in checks)


def _artifact(ctx: Context, runtime: Runtime, run: Run, catalogue: Catalogue, command: str,
              outcome: Outcome, result: str, output: str) -> str:
    header = {"step": f"{run.step.id} (version {run.step.version})",
              "environment": run.environment, "run": run.id, "catalogue": catalogue.commit,
              "requester": run.requester, "approvers": ", ".join(run.approvers) or "none",
              "command": command, "result": result,
              "exit": outcome.exit_code, "duration_s": round(outcome.duration_s, 3),
              "truncated": outcome.truncated}
    folder = runtime.folder / "runs"
    try:
        name = artifacts.write(folder, ctx.now(), run.id, run.step.id, run.environment, header,
                               output)
    except OSError:
        ctx.log.exception("runbooks: cannot write the artifact of run %s", run.id)
        return ""
    artifacts.prune(folder, runtime.settings.keep_artifacts)
    return name


def _on(result: str) -> str:
    return {"ok": "on success", "manual_override": "on success",
            "timed_out": "after the time-out"}.get(result, "on failure")


def override(ctx: Context, runtime: Runtime, step: Step, environment: str, reason: str,
             place: Place) -> str:
    """Record that a human handled the step outside the bot (``manual_override``)."""
    catalogue = runtime.catalogue()
    run = Run(step, environment, ctx.message.identity if ctx.message else "", "chat", new_id())
    return conclude(ctx, run, catalogue, place, "manual_override",
                    f"Recorded: {step.id} in {environment} was handled by hand ({reason}).",
                    reason=reason)
