"""Shared fixtures: stores with a cheap Argon2 cost so tests run fast."""

from datetime import datetime, timezone

import pytest

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
T0 = datetime(2027, 1, 15, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def store():
    with keyscope.KeyStore.open(":memory:", argon2=CHEAP) as s:
        yield s


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "keys.db")
