"""Lint a catalogue: every problem with its file, line, step id and reason. Pure; the CLI.

Beyond the schema (checked while loading): duplicate ids, scopes and environments that
are not configured, ``next`` pointing nowhere, programs not found on the configured
PATH (a warning: CI machines rarely have them) or scripts missing from the catalogue (an
error), ``${NAME}`` naming a secret (an error) or a variable no environment of the step
defines (a warning), secrets not configured, time-outs above the maximum, promotion
records of unknown steps, and steps whose promoted version a change has left behind.
"""

from __future__ import annotations

from .catalogue import Catalogue, references
from .execution import program
from .schema import Problem, Step
from .settings import Settings

BUILTIN = ("PATH", "RUNBOOK_STEP", "RUNBOOK_ENVIRONMENT")


def lint(catalogue: Catalogue, settings: Settings, configured: bool = False) -> list[Problem]:
    """Every problem of the catalogue; ``configured``: the settings come from a bot's file,
    so variables and secrets can be checked against them."""
    found = list(catalogue.problems)
    for step in catalogue.steps.values():
        found += _environments(step, settings)
        found += _next(step, catalogue)
        found += _program(step, catalogue, settings)
        found += _variables(step, settings, configured)
        if (step.timeout_s or 0) > settings.max_timeout_s:
            found.append(step.problem(f"timeout_s {step.timeout_s:g} is above max_timeout_s "
                                      f"({settings.max_timeout_s:g}); it will be cut", "warning"))
    found += _promotions(catalogue, settings)
    return sorted(found, key=lambda p: (p.file, p.line, p.level, p.reason))


def _environments(step: Step, settings: Settings) -> list[Problem]:
    known = settings.environments
    choices = ", ".join(known)
    found = [step.problem(f"safety.scopes: unknown environment '{scope}' (known: {choices})")
             for scope in step.safety.scopes if scope not in known]
    found += [step.problem(f"env.{env}: unknown environment (known: {choices})")
              for env in step.env if env not in known]
    found += [step.problem(f"env.{env}: not one of the step's scopes", "warning")
              for env in step.env if env in known and env not in step.safety.scopes]
    return found


def _next(step: Step, catalogue: Catalogue) -> list[Problem]:
    found = []
    for key, target in step.next.targets():
        if catalogue.get(target) is None:
            found.append(step.problem(f"next.{key}: points to '{target}', which is not a "
                                      "step of the catalogue"))
        elif target == step.id and key == "success":
            found.append(step.problem(f"next.{key}: points to the step itself", "warning"))
    return found


def _program(step: Step, catalogue: Catalogue, settings: Settings) -> list[Problem]:
    name = step.command[0]
    if references([name]):
        return []
    if program(name, catalogue.root, settings.path) is not None:
        return []
    if "/" in name and not name.startswith("/"):
        return [step.problem(f"command: {name} is not an executable file of the catalogue")]
    return [step.problem(f"command: {name} not found on PATH ({settings.path})", "warning")]


def _variables(step: Step, settings: Settings, configured: bool) -> list[Problem]:
    found = []
    named = references(step.command)
    for name in dict.fromkeys(named):
        if name in step.secrets:
            found.append(step.problem(f"command: ${{{name}}} is a secret; secrets are passed "
                                      "in the environment only"))
            continue
        missing = [env for env in step.safety.scopes
                   if name not in step.env.get(env, {}) and name not in BUILTIN
                   and not (configured and name in settings.variables.get(env, {}))]
        if missing:
            where = "the plugin's variables" if not configured else "anything"
            found.append(step.problem(f"command: ${{{name}}} is not defined for "
                                      f"{', '.join(missing)} by the step (nor by {where})",
                                      "warning" if not configured else "error"))
    if configured:
        for name in step.secrets:
            missing = [env for env in step.safety.scopes
                       if name not in settings.secret_files.get(env, {})]
            if missing:
                found.append(step.problem(f"secrets: {name} has no file in secret_files for "
                                          f"{', '.join(missing)}"))
    return found


def _promotions(catalogue: Catalogue, settings: Settings) -> list[Problem]:
    found = []
    for record in catalogue.promotions.items:
        if catalogue.get(record.step) is None:
            found.append(Problem("promotions.yaml", 0, record.step, "warning",
                                 f"promotion to {record.environment} of a step that is not "
                                 "in the catalogue"))
    for step in catalogue.steps.values():
        for env in settings.promoted_environments:
            latest = catalogue.promotions.latest(step.id, env)
            if env in step.safety.scopes and latest is not None and \
                    catalogue.promotions.of(step.id, env, step.version) is None:
                found.append(step.problem(
                    f"changed since version {latest.version} was promoted to {env}: {env} "
                    f"refuses it until 'univac runbook promote' with new evidence", "warning"))
    return found
