"""The guards a step passes before it runs. Pure; any thread.

In this order: the environment must be one of the step's scopes (refused before
anything else); in a promoted-only environment the step's current version must be
promoted; then the requester needs the runner role (checked by the caller, who has the
message); then, unless the step is ``safe_for_automation`` and an alert triggered it,
``requires_approval`` asks the approvers. A ``safe_for_automation`` step runs without a
human only when an alert triggers it, and only where the first two guards let it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import Catalogue
from .schema import Step
from .settings import Settings


@dataclass(frozen=True)
class Refusal:
    """Why a step may not run here: the result to count and a sentence for people."""

    result: str
    reason: str


def refusal(step: Step, environment: str, settings: Settings,
            catalogue: Catalogue) -> Refusal | None:
    """The first guard that refuses ``step`` in ``environment``, or None."""
    if environment not in step.safety.scopes:
        where = ", ".join(step.safety.scopes) or "no environment"
        return Refusal("refused_scope", f"{step.id} may run only in {where}, not in "
                                        f"{environment}.")
    if environment in settings.promoted_environments and \
            catalogue.promotions.of(step.id, environment, step.version) is None:
        return Refusal("refused_scope", f"{step.id} version {step.version} is not promoted "
                                        f"to {environment}; promote it with 'univac runbook "
                                        f"promote' and evidence first.")
    return None


def automatic(step: Step, environment: str, settings: Settings, catalogue: Catalogue) -> bool:
    """Whether an alert may run ``step`` in ``environment`` without a human."""
    return settings.automation and step.safety.safe_for_automation and \
        refusal(step, environment, settings, catalogue) is None


def approval_note(step: Step, settings: Settings) -> str:
    """``needs 2 approvals from 'approvers'`` (and whether the requester may give one)."""
    if not step.needs_approval:
        return "safe for automation" if step.safety.safe_for_automation else "no approval"
    count = step.safety.approvals
    own = "requester may approve" if step.safety.self_approve else "not the requester"
    plural = "s" if count > 1 else ""
    return f"needs {count} approval{plural} from '{settings.approver_role}' ({own})"


def next_safe(candidates: list[Step], environment: str, settings: Settings,
              catalogue: Catalogue) -> tuple[Step | None, Refusal | None]:
    """The first candidate the guards let run in ``environment``; else why the first not."""
    first: Refusal | None = None
    for step in candidates:
        refused = refusal(step, environment, settings, catalogue)
        if refused is None:
            return step, None
        first = first or refused
    return None, first
