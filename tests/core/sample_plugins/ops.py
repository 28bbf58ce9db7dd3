"""Privileged commands for the access-control tests."""

from univac import Context, UserError, command


@command(requires="ops")
def restart(ctx: Context, service: str) -> str:
    """Restart a service (ops only)."""
    return f"restarted {service}"


@command
def deploy(ctx: Context, ttl: float, *, what: str) -> str:
    """Deploy after two approvals, waiting at most ttl seconds."""
    outcome = ctx.approve(f"deploy {what}", approvals=2, ttl_s=ttl)
    who = f"approvers [{', '.join(outcome.approvers)}], denied by [{outcome.denied_by}]"
    return f"deploy {what}: {outcome} (request {outcome.request}; {who})"


@command
def hotfix(ctx: Context, *, what: str) -> str:
    """Deploy after approval, self-approval allowed."""
    return f"hotfix {what}: {ctx.approve(what, self_approve=True, ttl_s=5)}"


@command
def wipe(ctx: Context) -> str:
    """Ask the requester to confirm."""
    answer = ctx.confirm("Really wipe the cache?", timeout_s=5)
    if answer is None:
        raise UserError("No answer; nothing wiped.")
    return "wiped" if answer else "kept"


@command
def status_check(ctx: Context) -> str:
    """Anyone may run this."""
    ctx.audit("status_check", "done", detail="manual")
    return "ok"


@command
def whoami(ctx: Context) -> str:
    """Say whether the sender holds the ops role."""
    return "ops" if ctx.has_role("ops") else "not ops"
