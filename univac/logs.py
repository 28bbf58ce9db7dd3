"""Logging set-up: stderr, thread names, secrets masked. Layer: core; start-up, any thread.

Secrets are the values the configuration reader collects (``Config.secrets``: settings
named like ``password`` or ``token``, values read with ``key_file``/``key_env``, and
for list items ``name=secret`` the part after ``=``), and values a transport learns
at run time and hands to ``TransportContext.mask`` (an access token from a password
login). A ``Masker`` replaces each with ``***``; every log line, traceback included,
passes through one in the formatter, and every outgoing chat line through the bot's
own in the router.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
MIN_SECRET_LENGTH = 4
MASK = "***"


class Masker:
    """Replaces secret values in text with ``***`` (the longest first)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        usable = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets = tuple(sorted(usable, key=len, reverse=True))  # one reference swap

    def add(self, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` too, from now on (thread-safe; readers never wait)."""
        with self._lock:
            self.set_secrets((*self.secrets, *secrets))

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFormatter(logging.Formatter):
    """A formatter that hides secret values anywhere in the formatted record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(FORMAT)
        self.masker = Masker(secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.masker.secrets

    def set_secrets(self, secrets: Iterable[str]) -> None:
        self.masker.set_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self.masker.add(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.masker.mask(super().format(record))


def setup(level: str = "INFO") -> RedactingFormatter:
    """Send the root logger to stderr; return the formatter to feed secrets to."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = RedactingFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return formatter


def mask_everywhere(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to every masking formatter on the root logger's handlers."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, RedactingFormatter):
            handler.formatter.add_secrets(secrets)
