"""Logging: secrets from the configuration never reach a log line, tracebacks included."""

from __future__ import annotations

import logging

from univac.logs import RedactingFormatter


def record(message: str, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("token s3cr3t-value in an exception")
        except ValueError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("univac", logging.ERROR, __file__, 1, message, (), info)


def test_secrets_are_redacted_in_messages_and_tracebacks() -> None:
    formatter = RedactingFormatter(["s3cr3t-value", "ab"])
    text = formatter.format(record("login with s3cr3t-value failed", exc=True))
    assert "s3cr3t-value" not in text
    assert text.count("***") >= 2
    assert "ValueError: token *** in an exception" in text
    assert "ValueError" in text


def test_thread_names_are_in_every_line() -> None:
    text = RedactingFormatter().format(record("hello"))
    assert "[MainThread]" in text
