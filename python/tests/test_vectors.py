"""Replays the shared vectors of core/tests/vectors (as the Rust, Node and C suites do)."""

import json
import pathlib
from datetime import datetime, timezone

import pytest

import keyscope
from conftest import CHEAP

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors"


def load(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def test_names(store):
    v = load("names.json")
    for name in v["valid"]:
        store.create_key(name, grants=["reports:read"])
    for name in v["invalid"]:
        with pytest.raises(keyscope.InvalidInput):
            store.create_key(name, grants=["reports:read"])


def test_grants(store):
    v = load("grants.json")
    for i, g in enumerate(v["valid"]):
        store.create_key(f"g{i}", grants=[g])
    for g in v["invalid"]:
        with pytest.raises(keyscope.InvalidInput):
            store.create_key("bad", grants=[g])


def test_networks(store):
    v = load("networks.json")
    for i, case in enumerate(v["valid"]):
        key, _ = store.create_key(f"n{i}", grants=["reports:read"], networks=[case["input"]])
        assert key.networks == [case["canonical"]]
    for n in v["invalid"]:
        with pytest.raises(keyscope.InvalidInput):
            store.create_key("bad", grants=["reports:read"], networks=[n])


def test_secrets():
    v = load("secrets.json")
    assert all(keyscope.secret_is_well_formed(s, v["prefix"]) for s in v["valid"])
    assert not any(keyscope.secret_is_well_formed(s, v["prefix"]) for s in v["invalid"])


def test_tokens(location):
    v = load("tokens.json")
    now = datetime.fromtimestamp(v["now"], timezone.utc)
    with keyscope.KeyStore.open(location, argon2=CHEAP, signing_keys=[(v["kid"], bytes.fromhex(v["secret_hex"]))]) as s:
        for case in v["cases"]:
            with pytest.raises(keyscope.KeyscopeError) as info:
                s.authorize(case["token"], v["resource"], v["permission"], now=now)
            assert info.value.code == case["expect"], case["why"]


def test_vectors_match_their_generator(tmp_path):
    import shutil
    import subprocess
    import sys

    shutil.copy(VECTORS / "generate.py", tmp_path / "generate.py")
    subprocess.run([sys.executable, "generate.py"], cwd=tmp_path, check=True)
    for f in VECTORS.glob("*.json"):
        assert (tmp_path / f.name).read_text(encoding="utf-8") == f.read_text(encoding="utf-8"), f.name
