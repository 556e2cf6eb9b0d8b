"""Shared fixtures: stores with a cheap Argon2 cost so tests run fast.

The suite runs on the backend named by ``KEYSCOPE_TEST_BACKEND``: ``sqlite`` (the
default: ``:memory:`` and files under ``tmp_path``) or ``postgres`` (a fresh database
per test on the server at ``KEYSCOPE_TEST_DATABASE_URL``, dropped afterwards).
``make test`` runs both. Without a reachable server a PostgreSQL run fails, saying
how to provide one; it never skips.
"""

import os
import secrets
import subprocess
import urllib.parse
from datetime import datetime, timezone
from typing import Iterator

import pytest

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
T0 = datetime(2027, 1, 15, 12, 0, 0, tzinfo=timezone.utc)

BACKEND = os.environ.get("KEYSCOPE_TEST_BACKEND", "sqlite") or "sqlite"
PG_URL = os.environ.get("KEYSCOPE_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
assert BACKEND in ("sqlite", "postgres"), f"KEYSCOPE_TEST_BACKEND={BACKEND!r}: use sqlite or postgres"


def pytest_report_header() -> str:
    return f"keyscope backend: {BACKEND}" + (f" ({PG_URL})" if BACKEND == "postgres" else "")


def psql(sql: str) -> None:
    """Runs one statement on the test server, failing loudly without one."""
    r = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", PG_URL, "-c", sql],
                       capture_output=True, text=True,
                       env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"})
    if r.returncode != 0:
        pytest.fail(f"the PostgreSQL suite needs a server at {PG_URL}: {r.stderr.strip()}\n"
                    "Start one (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set "
                    "KEYSCOPE_TEST_DATABASE_URL.")


def database_url(name: str) -> str:
    """The test server's URL with another database name."""
    parts = urllib.parse.urlsplit(PG_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def new_database() -> Iterator[str]:
    name = "kst_" + secrets.token_hex(6)
    psql(f"CREATE DATABASE {name}")
    try:
        yield database_url(name)
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_path(tmp_path) -> Iterator[str]:
    """A store location several handles and processes can open: a file, or a URL."""
    if BACKEND == "postgres":
        yield from new_database()
    else:
        yield str(tmp_path / "keys.db")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, whatever the backend under test."""
    yield from new_database()


@pytest.fixture
def location(db_path) -> str:
    """Where a private store goes: ``:memory:`` on SQLite, a fresh database otherwise."""
    return ":memory:" if BACKEND == "sqlite" else db_path


@pytest.fixture
def store(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP) as s:
        yield s
