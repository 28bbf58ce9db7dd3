"""A command's signature is its argument parser. Layer: core; runs on reactive threads.

- The first parameter receives the Context.
- Each further positional parameter takes one word; its annotation converts it
  (``str``, ``int``, ``float``, ``bool``, a ``Literal`` of choices, or any callable
  that takes a string and raises ValueError on bad input). A default makes it optional.
- ``*words`` takes the remaining words; a keyword-only parameter takes the rest of the
  line as it was typed.
- Bad input raises UsageError with the reason; the dispatcher adds the usage line.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from univac.errors import PluginError, UsageError

WORD = re.compile(r"\S+")
TRUE = frozenset({"yes", "y", "true", "on", "1"})
FALSE = frozenset({"no", "n", "false", "off", "0"})


@dataclass(frozen=True)
class Param:
    """One command argument: how to convert it and how it shows in the usage line."""

    name: str
    convert: Callable[[str], Any]
    type_name: str
    kind: Literal["word", "words", "rest"]
    required: bool


@dataclass(frozen=True)
class Signature:
    """The parameters of a command after the Context."""

    params: tuple[Param, ...]


def signature_of(func: Callable[..., Any]) -> Signature:
    """Read a handler's signature; PluginError when it cannot be a command."""
    try:
        hints = typing.get_type_hints(func)
    except Exception as error:
        raise PluginError(f"{func.__name__}: cannot read annotations: {error}") from error
    params = list(inspect.signature(func).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        raise PluginError(f"{func.__name__}: the first parameter must take the context")
    converted = tuple(_param(p, hints.get(p.name, str), func.__name__) for p in params[1:])
    if sum(p.kind != "word" for p in converted) > 1:
        raise PluginError(f"{func.__name__}: only one *words or keyword-only parameter")
    if any(p.kind != "word" for p in converted[:-1]):
        raise PluginError(f"{func.__name__}: *words or keyword-only must come last")
    return Signature(converted)


def _param(parameter: inspect.Parameter, hint: Any, func_name: str) -> Param:
    kinds = {
        parameter.VAR_POSITIONAL: "words",
        parameter.KEYWORD_ONLY: "rest",
        parameter.POSITIONAL_OR_KEYWORD: "word",
        parameter.POSITIONAL_ONLY: "word",
    }
    if parameter.kind not in kinds:
        raise PluginError(f"{func_name}: **{parameter.name} cannot be a command argument")
    convert, type_name = converter(hint)
    required = parameter.default is parameter.empty and parameter.kind != parameter.VAR_POSITIONAL
    return Param(parameter.name, convert, type_name, kinds[parameter.kind], required)


def converter(hint: Any) -> tuple[Callable[[str], Any], str]:
    """Return a string-to-value converter for an annotation, and the type's name."""
    args = typing.get_args(hint)
    if type(None) in args:
        return converter(next(a for a in args if a is not type(None)))
    if typing.get_origin(hint) is Literal:
        return _choice(tuple(str(a) for a in args)), "|".join(str(a) for a in args)
    if hint is bool:
        return _boolean, "yes/no"
    if hint in (str, int, float) or callable(hint):
        return hint, getattr(hint, "__name__", "value")
    raise PluginError(f"unsupported annotation {hint!r}")


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    folded = {c.casefold(): c for c in choices}

    def pick(word: str) -> str:
        if word.casefold() not in folded:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return folded[word.casefold()]

    return pick


def _boolean(word: str) -> bool:
    if word.lower() in TRUE | FALSE:
        return word.lower() in TRUE
    raise ValueError("expected yes or no")


def parse(signature: Signature, text: str) -> tuple[list[Any], dict[str, Any]]:
    """Split ``text`` by the signature; return positional and keyword arguments."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    pos = 0  # where the words not yet taken start
    for param in signature.params:
        if param.kind == "rest":
            rest = text[pos:].strip()
            if rest or param.required:
                kwargs[param.name] = _convert(param, rest) if rest else _missing(param)
            pos = len(text)
        elif param.kind == "words":
            args.extend(_convert(param, word) for word in WORD.findall(text, pos))
            pos = len(text)
        elif word := WORD.search(text, pos):
            args.append(_convert(param, word.group()))
            pos = word.end()
        elif param.required:
            _missing(param)
    extra = WORD.search(text, pos)
    if extra:
        raise UsageError(f"too many arguments: {_quote(extra.group())}")
    return args, kwargs


def _missing(param: Param) -> Any:
    raise UsageError(f"missing {param.name}")


def _convert(param: Param, word: str) -> Any:
    try:
        return param.convert(word)
    except (ValueError, TypeError, ArithmeticError) as error:
        said = str(error)
        reason = said if said.startswith("expected") else f"expected {param.type_name}"
        raise UsageError(f"{param.name}: {reason}, got {_quote(word)}") from None


def _quote(word: str) -> str:
    return repr(word if len(word) <= 40 else word[:37] + "...")


def usage(name: str, signature: Signature) -> str:
    """The usage line without the prefix, e.g. ``dns <name> [rtype]``."""
    parts = [name]
    for param in signature.params:
        label = f"{param.name}..." if param.kind != "word" else param.name
        parts.append(f"<{label}>" if param.required else f"[{label}]")
    return " ".join(parts)
