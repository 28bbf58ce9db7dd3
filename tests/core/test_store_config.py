"""The ``[store]`` table: the backend by name, its settings, every problem reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from univac.config import from_mapping
from univac.engine import sqlite_store
from univac.errors import ConfigError
from univac.settings import Source
from univac.stores import postgres


def load(store: Any, environ: dict[str, str] | None = None):
    return from_mapping({"store": store}, Source("univac.toml", Path("."), environ or {}))


def problems(store: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(store)
    return [str(issue) for issue in caught.value.issues]


def test_the_default_is_the_embedded_store() -> None:
    config = from_mapping({}, Source("univac.toml", Path("."), {}))
    assert config.store.backend == "sqlite" and config.store.module is sqlite_store
    assert config.store.settings == sqlite_store.Settings() and config.store.audit is False


def test_postgres_by_name_with_its_dsn_as_a_secret() -> None:
    dsn = "host=db.example.org dbname=univac password=s3cret-pw"
    config = load({"backend": "postgres", "dsn_env": "UNIVAC_DSN", "audit": True},
                  {"UNIVAC_DSN": dsn})
    assert config.store.module is postgres and config.store.audit is True
    assert config.store.settings.dsn == dsn
    assert dsn in config.secrets
    assert "host=x" in load({"backend": "postgres", "dsn": "host=x"}).secrets


def test_every_problem_is_named() -> None:
    assert problems({"backend": "postgress"}) == [
        "univac.toml: store.backend: store unknown name 'postgress'; did you mean 'postgres'?"]
    assert problems({"backend": 3}) == [
        "univac.toml: store.backend: expected a string such as 'sqlite' or 'postgres'"]
    assert problems({"audit": "yes"}) == ["univac.toml: store.audit: expected a boolean"]
    assert problems({"flie": "x"}) == [
        "univac.toml: store.flie: unknown setting; did you mean 'file'?"]
    assert problems({"backend": "postgres"}) == [
        "univac.toml: store.dsn: missing required setting"]
    assert problems({"backend": "postgres", "dsn": "hunter2 secret"}) == [
        "univac.toml: store: dsn is not a PostgreSQL connection string "
        "(key=value pairs or a postgresql:// URI)"]
    assert problems({"backend": "univac.engine.state"}) == [
        "univac.toml: store.backend: 'univac.engine.state' is not a store backend "
        "(no Settings and connect)"]
    assert problems("sqlite") == ["univac.toml: store: expected a table"]
