"""Plugin settings follow one naming rule; renamed ones say their old names."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing

import pytest

import univac.plugins

MODULES = [info.name for info in pkgutil.iter_modules(univac.plugins.__path__)
           if not info.ispkg and not info.name.startswith("_")]
DURATION_WORDS = ("timeout", "interval", "ttl", "repeat", "delay", "wait", "period")


def settings_of(name: str) -> type | None:
    return getattr(importlib.import_module(f"univac.plugins.{name}"), "Settings", None)


@pytest.mark.parametrize("name", MODULES)
def test_durations_end_in_s_and_lengths_name_their_unit(name: str) -> None:
    settings = settings_of(name)
    fields = [f.name for f in dataclasses.fields(settings)] if settings else []
    for field in fields:
        if any(word in field for word in DURATION_WORDS):
            assert field.endswith("_s"), f"{name}.{field}: a duration ends in _s"
        if field.startswith("max_") and field.endswith(("length", "size", "title")):
            pytest.fail(f"{name}.{field}: say the unit (_bytes, _chars)")


@pytest.mark.parametrize("name", MODULES)
def test_renamed_settings_point_from_an_old_name_to_a_field(name: str) -> None:
    settings = settings_of(name)
    if settings is None:
        return
    renamed = getattr(settings, "RENAMED", {})
    fields = {f.name for f in dataclasses.fields(settings)}
    hints = typing.get_type_hints(settings)
    if renamed:
        assert typing.get_origin(hints["RENAMED"]) is typing.ClassVar
    for old, new in renamed.items():
        assert old not in fields and new in fields, (name, old, new)


def test_the_renames_of_this_release() -> None:
    renamed = {name: getattr(settings_of(name), "RENAMED", {}) for name in ("dns", "links", "http")}
    assert renamed == {
        "dns": {"max_length": "max_reply_chars"},
        "links": {"max_title": "max_title_chars"},
        "http": {"timeout_s": "idle_timeout_s"},
    }
