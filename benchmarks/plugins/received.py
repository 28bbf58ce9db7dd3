"""A webhook that only says it received the delivery (for benchmarks/webhooks.py).

Everything around it is the http plugin's: the signature check, the delivery id and
body digest remembered in the state store, the answer.
"""

from univac import Context, WebhookRequest, webhook


@webhook("/github")
def github(ctx: Context, request: WebhookRequest) -> str:
    """Accept a signed delivery."""
    return "received"
