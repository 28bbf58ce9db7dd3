"""Simulate a flow for a synthetic alert: what would be offered; nothing is executed.

Pure; the CLI. The steps matching the service and symptom are listed best first; from
the first one the flow is followed through ``next``, each step judged on the output
given for it (``--output STEP=FILE``; exit status 0 assumed): which ``expect`` patterns
match, the result, the step that result leads to. Without an output for a step the flow
stops there, naming where success and failure would lead. With an environment, each
step's guards are judged there too (scopes, promotion, approvals).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from . import guards
from .catalogue import Catalogue
from .schema import Step
from .settings import Settings


@dataclass(frozen=True)
class Simulation:
    lines: list[str]
    offered: int


def simulate(catalogue: Catalogue, settings: Settings, service: str, symptom: str,
             environment: str, outputs: Mapping[str, str]) -> Simulation:
    """What a flow would offer for an alert of ``service`` saying ``symptom``."""
    where = f", environment {environment}" if environment else ""
    lines = [f"Alert: service {service or '(any)'}, symptom {symptom!r}{where}"]
    matching = catalogue.matching(service, symptom)
    if not matching:
        return Simulation([*lines, "No step matches: nothing would be offered."], 0)
    lines.append("Matching steps, best first: " + ", ".join(step.id for step in matching))
    seen: list[str] = []
    step: Step | None = matching[0]
    reason = "offered first"
    while step is not None:
        if step.id in seen:
            lines.append(f"The flow comes back to {step.id}: it would loop here.")
            break
        seen.append(step.id)
        lines.append(f"{len(seen)}. {step.label()} ({reason})")
        lines += ["   " + line for line in _judge(step, catalogue, settings, environment)]
        if step.id not in outputs:
            lines.append(f"   no output given (--output {step.id}=FILE): the flow stops here; "
                         + _leads(step))
            break
        result, checks = _result(step, outputs[step.id])
        lines += ["   " + line for line in checks]
        following = step.next.after(result)
        lines.append(f"   result: {result}" + (f" -> next: {following}" if following else
                                                " -> nothing follows"))
        step, reason = catalogue.get(following) if following else None, \
            f"after {step.id}: {result}"
    others = [s.id for s in matching if s.id not in seen]
    if others:
        lines.append("Also matching, offered if asked: " + ", ".join(others))
    lines.append("Nothing was executed.")
    return Simulation(lines, len(seen))


def _judge(step: Step, catalogue: Catalogue, settings: Settings, environment: str) -> list[str]:
    lines = [f"command: {shlex.join(step.command)}"
             f" (timeout {step.timeout_s or settings.default_timeout_s:g} s)",
             f"scopes: {', '.join(step.safety.scopes)}; {guards.approval_note(step, settings)}"]
    if environment:
        refused = guards.refusal(step, environment, settings, catalogue)
        verdict = f"refused: {refused.reason}" if refused else "allowed"
        if refused is None and guards.automatic(step, environment, settings, catalogue):
            verdict += "; an alert runs it without a human"
        lines.append(f"in {environment}: {verdict}")
    return lines


def _result(step: Step, output: str) -> tuple[str, list[str]]:
    lines, failed = [], False
    for expect in step.expect:
        seen = expect.pattern.search(output) is not None
        failed = failed or (not seen and not expect.allow_failure)
        note = " (allowed to fail)" if expect.allow_failure and not seen else ""
        lines.append(f"expect {expect.pattern.pattern!r}: "
                     f"{'matches' if seen else 'no match'}{note}")
    if not step.expect:
        lines.append("expect: nothing (the exit status decides)")
    return ("expect_failed" if failed else "ok"), lines


def _leads(step: Step) -> str:
    targets = step.next.targets()
    if not targets:
        return "nothing follows it"
    return ", ".join(f"on {key} -> {target}" for key, target in targets)
