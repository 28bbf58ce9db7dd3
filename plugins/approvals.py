"""Answer approval requests: approve <number>, deny <number>.

Handlers ask for approval with ``ctx.approve("deploy v2 to production")``; people who
hold the approver role (``approvers`` unless the action says otherwise) answer here.
"""

from univac import Context, command


@command
def approve(ctx: Context, request: int) -> str:
    """Approve a pending request: approve <number>."""
    return ctx.decide(request, approve=True)


@command
def deny(ctx: Context, request: int) -> str:
    """Deny a pending request: deny <number>."""
    return ctx.decide(request, approve=False)
