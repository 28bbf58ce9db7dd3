"""Logging in to the homeserver, and the bot's display name. Layer: transport.

Runs on the transport's own thread, in its asyncio loop (called by the session before
each sync loop that has no valid login). With ``access_token``: the token is checked
with ``whoami`` and its device used. With a password: a device id and access token kept
in ``memory`` are checked with ``whoami`` and reused; otherwise a password login asks
for the kept device id (the homeserver recreates it if it was logged out), so a
restart never adds a device to the account. What the login gives is kept in
``memory``; an answer that refuses the login raises ``Failed`` with the reason.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from nio import AsyncClient, LoginError, ProfileGetDisplayNameResponse, WhoamiError

from .memory import Memory
from .rooms import describe

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("univac.transports.matrix")

LOGIN_REFUSED = ("M_FORBIDDEN", "M_UNKNOWN_TOKEN", "M_USER_DEACTIVATED", "M_MISSING_TOKEN")
"""Error codes that say the token or the password is not (or no longer) good."""


class Failed(Exception):
    """This attempt failed for the reason given; the session waits and tries again."""


async def log_in(client: AsyncClient, settings: Settings, memory: Memory, name: str) -> None:
    """Log ``client`` in as ``settings.user_id``; raise ``Failed`` when refused."""
    if settings.access_token:
        await _with_token(client, settings, memory)
    else:
        await _with_password(client, settings, memory, name)


async def _with_token(client: AsyncClient, s: Settings, memory: Memory) -> None:
    client.restore_login(s.user_id, "", s.access_token)
    answer = await client.whoami()
    if isinstance(answer, WhoamiError):
        raise Failed(f"the access token was refused: {describe(answer)}")
    if answer.user_id != s.user_id:
        raise Failed(f"the access token belongs to {answer.user_id}, not {s.user_id}")
    client.restore_login(s.user_id, answer.device_id or "", s.access_token)
    _remember_account(s, memory, answer.device_id or "")


async def _with_password(client: AsyncClient, s: Settings, memory: Memory, name: str) -> None:
    same = memory.get("user_id") == s.user_id and memory.get("homeserver") == s.homeserver
    device, token = (memory.get("device_id"), memory.get("access_token")) if same else ("", "")
    if token:
        client.restore_login(s.user_id, device, token)
        answer = await client.whoami()
        if not isinstance(answer, WhoamiError) and answer.device_id == device:
            log.info("%s: logged in as %s (device %s, kept)", name, s.user_id, device)
            return
        if isinstance(answer, WhoamiError) and answer.status_code not in LOGIN_REFUSED:
            raise Failed(f"whoami failed: {describe(answer)}")
    client.access_token, client.device_id = "", device or None
    answer = await client.login(s.password, device_name=s.device_name)
    if isinstance(answer, LoginError):
        raise Failed(f"login refused: {describe(answer)}")
    _remember_account(s, memory, answer.device_id)
    memory.set(access_token=answer.access_token)
    kept = "kept" if answer.device_id == device else "new"
    log.info("%s: logged in as %s (device %s, %s)", name, s.user_id, answer.device_id, kept)


def _remember_account(s: Settings, memory: Memory, device_id: str) -> None:
    """Keep the account and device; another account's sync token is forgotten."""
    if memory.get("user_id") != s.user_id or memory.get("homeserver") != s.homeserver:
        memory.set(next_batch="", access_token="")
    memory.set(homeserver=s.homeserver, user_id=s.user_id, device_id=device_id)


async def bot_nick(client: AsyncClient, settings: Settings, default: str) -> str:
    """Set the display name if configured; return the current one (else ``default``)."""
    if settings.display_name:
        await client.set_displayname(settings.display_name)
    answer = await client.get_displayname()
    if isinstance(answer, ProfileGetDisplayNameResponse) and answer.displayname:
        return answer.displayname
    return default
