"""Logging set-up: stderr, thread names, secrets redacted. Layer: core; start-up.

Every line, traceback included, passes through a formatter that replaces each secret
value from the configuration with ``***`` before it is written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
MIN_SECRET_LENGTH = 4


class RedactingFormatter(logging.Formatter):
    """A formatter that hides secret values anywhere in the formatted record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(FORMAT)
        self.secrets: tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        usable = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets = tuple(sorted(usable, key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def setup(level: str = "INFO") -> RedactingFormatter:
    """Send the root logger to stderr; return the formatter to feed secrets to."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = RedactingFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return formatter
