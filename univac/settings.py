"""Fill frozen settings dataclasses from TOML tables. Layer: core; start-up thread only.

Used for the bot's own ``[bot]`` table, every ``[[transports]]`` entry and every
``[plugins.<name>]`` table, so all three report errors the same way: every problem is
collected as a ``ConfigIssue`` naming the file, the key and the reason.

Secrets: any ``str`` setting ``key`` may instead be given as ``key_file = "path"`` (read
at start; a relative path is looked up in ``$CREDENTIALS_DIRECTORY`` first, as systemd's
``LoadCredential=`` provides, then beside the config file) or ``key_env = "VARIABLE"``.

Range checks: a dataclass's ``__post_init__`` raises ``SettingsError({key: reason})`` to
report every problem under its own key (a plain ``ValueError`` is reported under the
table's key).

Renamed settings: a dataclass may declare ``RENAMED: ClassVar[dict[str, str]] =
{"old_name": "new_name"}``. The old key (and its ``_file``/``_env`` forms) still works
as the new one, with a warning naming both; giving both is an error. Deprecated
settings: ``DEPRECATED: ClassVar[dict[str, str]] = {"name": "what to do instead"}``;
the setting still works, with that warning whenever it is given.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from univac.errors import ConfigIssue, SettingsError

SECRET_WORDS = ("password", "passwd", "token", "secret", "passphrase", "apikey", "api_key",
                "dsn")


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a table came from: the file name for messages and the folder for paths."""

    file: str
    base_dir: Path
    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)


@dataclasses.dataclass
class Filled:
    """The outcome of filling one dataclass: the value (None on errors), issues, secrets,
    and warnings (old and deprecated setting names)."""

    value: Any
    issues: list[ConfigIssue]
    secrets: list[str]
    warnings: list[ConfigIssue] = dataclasses.field(default_factory=list)


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    import difflib  # here, not at the top: only a configuration error needs it

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def is_secret_key(key: str) -> bool:
    """Tell whether a setting's name says it holds a secret."""
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS) or lowered.endswith("key")


def fill(cls: type, table: Mapping[str, Any], source: Source, where: str) -> Filled:
    """Build ``cls`` from ``table``; ``where`` is the table's dotted path for messages."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    renamed: Mapping[str, str] = getattr(cls, "RENAMED", {})
    deprecated: Mapping[str, str] = getattr(cls, "DEPRECATED", {})
    filled = Filled(None, [], [])
    values: dict[str, Any] = {}
    given_as: dict[str, str] = {}

    def path(key: str) -> str:
        return f"{where}.{key}" if where else key

    def issue(key: str, reason: str) -> None:
        filled.issues.append(ConfigIssue(source.file, path(key), reason))

    for key, raw in table.items():
        current = _current_name(key, renamed)
        if current != key:
            filled.warnings.append(ConfigIssue(
                source.file, path(key), f"renamed to {path(current)}; the old name still works"))
        name, value, reason = _resolve(current, raw, fields, hints, source)
        if name in deprecated and not reason:
            filled.warnings.append(ConfigIssue(source.file, path(key), deprecated[name]))
        if reason:
            issue(key, reason)
        elif name in values:
            issue(key, _twice(name, given_as[name], key, renamed))
        else:
            values[name], given_as[name] = value, key
            filled.secrets.extend(_secrets(name, current, value))
    for name, field in fields.items():
        if name not in values and _required(field):
            issue(name, "missing required setting")
    if filled.issues:
        return filled
    try:
        filled.value = cls(**values)
    except SettingsError as error:
        for key, reason in error.problems.items():
            issue(key, reason)
    except (ValueError, TypeError) as error:
        filled.issues.append(ConfigIssue(source.file, where, str(error)))
    return filled


def _current_name(key: str, renamed: Mapping[str, str]) -> str:
    """The key under its current name: ``old`` -> ``new``, ``old_file`` -> ``new_file``."""
    if key in renamed:
        return renamed[key]
    for suffix in ("_file", "_env"):
        stem = key.removesuffix(suffix)
        if key.endswith(suffix) and stem in renamed:
            return renamed[stem] + suffix
    return key


def _twice(name: str, first: str, second: str, renamed: Mapping[str, str]) -> str:
    old = [k for k in (first, second) if _current_name(k, renamed) != k]
    if old:
        new = second if old[0] == first else first
        return f"both {old[0]} (the old name) and {new} are given; keep only {new}"
    if name not in (first, second):
        return f"'{name}' is given twice (through {first} and {second})"
    return f"'{name}' is given twice (directly and through {second if first == name else first})"


def _secrets(name: str, key: str, value: Any) -> list[str]:
    """The secret values a setting holds: by its name, or because it came from a file or
    the environment; for list items ``name=secret``, the part after ``=`` as well."""
    if isinstance(value, str) and value and (name != key or is_secret_key(name)):
        return [value]
    if not (isinstance(value, tuple) and is_secret_key(name)):
        return []
    items = [item for item in value if isinstance(item, str) and item]
    return items + [item.partition("=")[2] for item in items if item.partition("=")[2]]


def _required(field: dataclasses.Field[Any]) -> bool:
    missing = dataclasses.MISSING
    return field.default is missing and field.default_factory is missing


def _resolve(
    key: str, raw: Any, fields: Mapping[str, Any], hints: Mapping[str, Any], source: Source
) -> tuple[str, Any, str]:
    """Map one config key to (field name, converted value, error reason or "")."""
    if key in fields:
        return key, *_convert_or_reason(raw, hints[key])
    for suffix, reader in (("_file", _read_file), ("_env", _read_env)):
        stem = key.removesuffix(suffix)
        if key.endswith(suffix) and stem in fields and _accepts_str(hints[stem]):
            if not isinstance(raw, str):
                return stem, None, f"expected a string, got {_kind(raw)}"
            value, reason = reader(raw, source)
            return stem, value, reason
    return key, None, "unknown setting" + did_you_mean(key, fields)


def _read_file(path_text: str, source: Source) -> tuple[str | None, str]:
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        creds = source.environ.get("CREDENTIALS_DIRECTORY")
        in_creds = Path(creds, path) if creds else None
        path = in_creds if in_creds and in_creds.is_file() else source.base_dir / path
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n"), ""
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        return None, f"cannot read {path}: {reason}"


def _read_env(variable: str, source: Source) -> tuple[str | None, str]:
    if variable not in source.environ:
        return None, f"environment variable {variable} is not set"
    return source.environ[variable], ""


def _accepts_str(hint: Any) -> bool:
    return hint is str or (_is_union(hint) and str in typing.get_args(hint))


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _convert_or_reason(raw: Any, hint: Any) -> tuple[Any, str]:
    try:
        return convert(raw, hint), ""
    except ValueError as error:
        return None, str(error)


def convert(raw: Any, hint: Any) -> Any:
    """Check and convert one TOML value to the annotated type; ValueError says why not."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return raw
    if _is_union(hint):
        return convert(raw, next(a for a in args if a is not type(None)))
    if origin is Literal:
        if raw not in args:
            raise ValueError(f"expected one of {', '.join(map(repr, args))}, got {raw!r}")
        return raw
    if origin in (tuple, list):
        if not isinstance(raw, list):
            raise ValueError(f"expected a list, got {_kind(raw)}")
        item = args[0] if args else Any
        return tuple(_convert_item(i, value, item) for i, value in enumerate(raw))
    if origin in (dict, Mapping):
        if not isinstance(raw, dict):
            raise ValueError(f"expected a table, got {_kind(raw)}")
        item = args[1] if args else Any
        return {str(key): _convert_item(key, value, item) for key, value in raw.items()}
    return _convert_scalar(raw, hint)


def _convert_item(index: int | str, value: Any, hint: Any) -> Any:
    """Convert a list item (``index`` a number) or a table's value (``index`` its key)."""
    try:
        return convert(value, hint)
    except ValueError as error:
        where = f"item {index}" if isinstance(index, int) else repr(index)
        raise ValueError(f"{where}: {error}") from None


def _convert_scalar(raw: Any, hint: Any) -> Any:
    if hint is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if hint is int and isinstance(raw, bool):
        raise ValueError("expected an integer, got a boolean")
    if hint in (str, int, bool) and isinstance(raw, hint):
        return raw
    if hint is Path and isinstance(raw, str):
        return Path(raw)
    expected = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    raise ValueError(f"expected {expected.get(hint, hint)}, got {_kind(raw)}")
