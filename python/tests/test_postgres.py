"""What Python users of a PostgreSQL store rely on: a URL opens it exactly as a path
does, the PostgreSQL-only options, errors that never show a password, and
``authorize`` letting other threads run while it waits for the database.

Always runs on PostgreSQL (the server at ``KEYSCOPE_TEST_DATABASE_URL``)."""

import json
import subprocess
import threading
import time

import pytest

import keyscope
from conftest import CHEAP


def test_a_url_opens_a_store_that_every_handle_shares(pg_url):
    with keyscope.KeyStore.open(pg_url, argon2=CHEAP) as a, \
            keyscope.KeyStore.open(pg_url, argon2=CHEAP, schema="keyscope", pool_size=2, listen=False) as b:
        key, secret = a.create_key("fleet", grants=["reports:read"])
        tok = b.issue_token(key.id, secret)
        assert a.authorize(tok.access_token, "reports").key_name == "fleet"
        assert b.get_key(key.id).name == "fleet"


def test_postgres_only_options_are_refused_on_sqlite():
    for option in ({"schema": "x"}, {"pool_size": 2}, {"listen": False}):
        with pytest.raises(keyscope.InvalidInput) as info:
            keyscope.KeyStore.open(":memory:", **option)
        assert info.value.field == next(iter(option))


def test_a_bad_url_names_its_part_and_a_failed_login_hides_the_password(pg_url):
    with pytest.raises(keyscope.InvalidInput) as info:
        keyscope.KeyStore.open("postgresql://u:hunter2@127.0.0.1:99999/db")
    assert info.value.field == "url.port" and "hunter2" not in str(info.value)
    host = pg_url.split("@", 1)[1]
    with pytest.raises(keyscope.StorageError) as info:
        keyscope.KeyStore.open(f"postgresql://nobody_ks:hunter2@{host}", argon2=CHEAP)
    assert "nobody_ks" in str(info.value) and "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value)


def test_authorize_lets_other_threads_run_while_it_waits_for_the_database(pg_url):
    # One pooled connection, held by a write that waits for a row lock: an authorize
    # that must read the database waits too — without the GIL, so Python runs on.
    with keyscope.KeyStore.open(pg_url, argon2=CHEAP) as admin:
        key, secret = admin.create_key("k", grants=["reports:read"])
        tok = admin.issue_token(key.id, secret).access_token
    s = keyscope.KeyStore.open(pg_url, argon2=CHEAP, pool_size=1, busy_timeout=10)
    locker = subprocess.Popen(
        ["psql", "-q", pg_url, "-c",
         "BEGIN; UPDATE keyscope.meta SET access_rev = access_rev; SELECT pg_sleep(1.5); COMMIT;"],
        stdout=subprocess.DEVNULL)
    time.sleep(0.3)  # let the lock be taken
    writer = threading.Thread(target=lambda: s.create_key("stuck", grants=["reports:read"]))
    writer.start()
    time.sleep(0.2)  # let the write take the only connection and block
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    before = ticks
    assert s.authorize(tok, "reports").key_id == key.id  # a cold cache: reads the database
    during = ticks - before
    done.set()
    ticker.join()
    writer.join()
    locker.wait()
    s.close()
    assert during > 50, f"only {during} ticks ran while authorize waited: it held the GIL"


def test_keyscope_migrate_round_trips_sqlite_postgres_sqlite(tmp_path, pg_url, capsys):
    from keyscope.cli import main

    first, back = str(tmp_path / "first.db"), str(tmp_path / "back.db")
    with keyscope.KeyStore.open(first, argon2=CHEAP) as s:
        key, secret = s.create_key("ci", grants=["reports:read"], actor="admin")
        s.refresh_key(key.id, grace=3600)  # the old secret keeps a grace
        tok = s.issue_token(key.id, secret).access_token
    assert main(["migrate", first, pg_url, "--dest-schema", "moved", "--json"]) == 0
    # The store's own signing keys: the current one and the published next one.
    assert json.loads(capsys.readouterr().out) == {"keys": 1, "audit_records": 2, "signing_keys": 2}
    with keyscope.KeyStore.open(pg_url, argon2=CHEAP, schema="moved") as s:
        assert s.authorize(tok, "reports").key_name == "ci"
        s.issue_token(key.id, secret)  # the graced secret still exchanges
    # A destination with keys is refused with conflict's exit status.
    assert main(["migrate", first, pg_url, "--dest-schema", "moved"]) == 12
    assert "empty store" in capsys.readouterr().err
    assert main(["migrate", pg_url, back, "--source-schema", "moved"]) == 0
    with keyscope.KeyStore.open(back, argon2=CHEAP) as s:
        assert s.authorize(tok, "reports").key_name == "ci"
        assert [r.action for r in s.audit_log().items] == ["refresh", "create"]
