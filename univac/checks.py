"""Checks that settings dataclasses share. Layer: core (plugin API); start-up thread.

Called from a settings dataclass's ``__post_init__``; each raises ``ValueError``
naming the setting, which the config loader reports under the table's key.

- ``check_seconds(settings)``: every field whose name ends in ``_s`` (a duration in
  seconds, the project's naming rule) is 0 or more.
- ``check_service_url(key, url, example)``: an ``https`` URL, or plain ``http`` to a
  loopback address only (a server on the same machine, as in tests), so a token is
  never sent in clear over a network.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any
from urllib.parse import urlsplit


def check_seconds(settings: Any) -> None:
    """Every ``*_s`` field of the dataclass ``settings`` is 0 or more."""
    for field in dataclasses.fields(settings):
        if field.name.endswith("_s") and getattr(settings, field.name) < 0:
            raise ValueError(f"{field.name}: must be 0 or more seconds")


def check_service_url(key: str, url: str, example: str) -> None:
    """``url`` is https, or http to a loopback address; else ValueError naming ``key``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{key}: {url!r} is not a URL like {example}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{key}: plain http is allowed on loopback only, not {url!r}")


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (not a name that resolves to one)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
