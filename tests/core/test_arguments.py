"""The signature as argument parser, and the decorators' specs."""

from __future__ import annotations

import re

import pytest

from univac import UsageError, command, every, match
from univac.arguments import parse, signature_of, usage
from univac.decorators import CommandSpec, EverySpec, MatchSpec, spec_of
from univac.errors import PluginError
from univac.schedules import Calendar, Interval


def test_decorators_attach_a_spec_and_return_the_function() -> None:
    def plain(ctx):
        return "x"

    assert command(plain) is plain
    assert spec_of(plain) == CommandSpec("plain")
    named = command("dns", aliases=["lookup"])(lambda ctx: None)
    assert spec_of(named) == CommandSpec("dns", ("lookup",))
    assert isinstance(spec_of(match(r"a+")(lambda ctx, m: None)), MatchSpec)
    assert spec_of(every(30)(lambda ctx: None)) == EverySpec(Interval(30.0))
    assert spec_of(every("mon 08:00")(lambda ctx: None)) == EverySpec(Calendar.parse("mon 08:00"))
    assert spec_of(every(setting="interval_s")(lambda ctx: None)) == EverySpec(None, "interval_s")


def test_decorators_reject_bad_specs() -> None:
    with pytest.raises(ValueError):
        command("two words")
    with pytest.raises(ValueError):
        every(0)
    with pytest.raises(ValueError, match="either a schedule or setting"):
        every()
    with pytest.raises(ValueError, match="either a schedule or setting"):
        every(60, setting="interval_s")
    with pytest.raises(ValueError, match=r"write every\(setting='interval_s'\)"):
        every("interval_s")
    with pytest.raises(ValueError, match="not a day"):
        every("someday 08:00")
    with pytest.raises(re.error):
        match("(")
    twice = command(lambda ctx: None)
    with pytest.raises(ValueError, match="already"):
        command(twice)


def test_optional_float_and_rest_of_line() -> None:
    def note(ctx, level: float = 1.0, *, text: str = "") -> None:
        pass

    sig = signature_of(note)
    assert usage("note", sig) == "note [level] [text...]"
    assert parse(sig, "") == ([], {})
    assert parse(sig, "2.5  keep   spacing ") == ([2.5], {"text": "keep   spacing"})


def upper(word: str) -> str:
    """A custom converter: letters only, upper-cased."""
    if not word.isalpha():
        raise ValueError("expected letters only")
    return word.upper()


def test_custom_converters_and_optional_annotations() -> None:
    def shout(ctx, word: upper, times: int | None = None) -> None:  # type: ignore[valid-type]
        pass

    sig = signature_of(shout)
    assert parse(sig, "hi 2") == (["HI", 2], {})
    with pytest.raises(UsageError, match="word: expected letters only, got '42'"):
        parse(sig, "42")


def test_long_bad_input_is_shortened_in_the_reply() -> None:
    def number(ctx, n: int) -> None:
        pass

    with pytest.raises(UsageError) as caught:
        parse(signature_of(number), "x" * 500)
    assert len(str(caught.value)) < 100


@pytest.mark.parametrize(
    "func",
    [
        lambda: None,
        lambda *, ctx: None,
        lambda ctx, **kw: None,
        lambda ctx, *a, b: None,
    ],
)
def test_signatures_that_cannot_be_commands(func) -> None:
    with pytest.raises(PluginError):
        signature_of(func)
