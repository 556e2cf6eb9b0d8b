"""Signing keys, token revocation and handle_http through the Python binding
(the rules are core's; these tests check that the binding carries them across)."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import keyscope
from conftest import CHEAP

ISSUER = "https://auth.example.com"


@pytest.fixture
def store(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, issuer=ISSUER) as s:
        yield s


def header(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def by_state(store):
    keys = store.signing_keys()
    return {state: [k for k in keys if k.state == state] for state in ("current", "next", "retired")}


def token_for(store, grants=("reports:read",), name="svc"):
    key, secret = store.create_key(name, grants=list(grants))
    return key, secret, store.issue_token(key.id, secret).access_token


def test_a_new_store_has_a_current_and_a_next_es256_key(store):
    keys = by_state(store)
    (current,), (nxt,), retired = keys["current"], keys["next"], keys["retired"]
    assert retired == []
    for k in (current, nxt):
        assert isinstance(k, keyscope.SigningKey)
        assert k.alg == "ES256" and k.retired_at is None
        assert k.created_at.tzinfo is not None and abs(datetime.now(timezone.utc) - k.created_at) < timedelta(minutes=5)
        jwk = k.public_jwk
        assert isinstance(jwk, dict) and jwk["kid"] == k.kid and jwk["kty"] == "EC" and jwk["crv"] == "P-256"
        assert "d" not in jwk  # never the private half
    assert repr(current).startswith(f"SigningKey(kid={current.kid!r}, alg='ES256', state='current', created_at='")
    assert repr(current).endswith("retired_at=None)")
    # Both are published: the next key is known to verifiers before it signs.
    assert {k["kid"] for k in json.loads(store.jwks())["keys"]} == {current.kid, nxt.kid}
    _, _, tok = token_for(store)
    assert header(tok) == {"alg": "ES256", "typ": "at+jwt", "kid": current.kid}


def test_rotation_moves_every_key_one_state_along(store):
    before = by_state(store)
    _, _, old_token = token_for(store)
    new = store.rotate_signing_key(actor="admin")
    assert isinstance(new, keyscope.SigningKey)
    assert new.kid == before["next"][0].kid and new.state == "current"
    after = by_state(store)
    assert [k.kid for k in after["retired"]] == [before["current"][0].kid]
    retired = after["retired"][0]
    assert retired.retired_at is not None and retired.retired_at.tzinfo is not None
    assert after["next"][0].kid not in (before["current"][0].kid, before["next"][0].kid)
    # The old token still verifies; new tokens are signed by the new current key.
    assert store.authorize(old_token, "reports").key_name == "svc"
    _, _, tok = token_for(store, name="svc2")
    assert header(tok)["kid"] == new.kid
    assert {k["kid"] for k in json.loads(store.jwks())["keys"]} == {k.kid for k in store.signing_keys()}
    rec = next(r for r in store.audit_log().items if r.action != "create")
    assert (rec.action, rec.actor, rec.key_id) == ("signing_key_rotated", "admin", new.kid)


def test_rotation_to_another_algorithm(store):
    store.rotate_signing_key(alg="EdDSA")
    assert by_state(store)["next"][0].alg == "EdDSA"
    assert by_state(store)["next"][0].public_jwk["crv"] == "Ed25519"
    current = store.rotate_signing_key()  # the EdDSA key signs now
    assert current.alg == "EdDSA"
    _, _, tok = token_for(store)
    assert header(tok)["alg"] == "EdDSA"
    assert store.authorize(tok, "reports").key_name == "svc"
    with pytest.raises(keyscope.InvalidInput) as info:
        store.rotate_signing_key(alg="none")
    assert info.value.field == "alg"


def test_token_alg_option(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, token_alg="RS256") as s:
        assert {k.alg for k in s.signing_keys()} == {"RS256"}
        assert s.rotate_signing_key().alg == "RS256"
        _, _, tok = token_for(s)
        assert header(tok)["alg"] == "RS256"
    with pytest.raises(keyscope.InvalidInput) as info:
        keyscope.KeyStore.open(":memory:", token_alg="HS512")
    assert info.value.field == "token_alg"


def test_retiring_keeps_old_tokens_until_they_expire(store):
    _, _, tok = token_for(store)
    old = by_state(store)["current"][0].kid
    store.retire_signing_key(old, actor="admin")  # retiring the current key rotates first
    keys = by_state(store)
    assert old in [k.kid for k in keys["retired"]] and keys["current"][0].kid != old
    assert store.authorize(tok, "reports").key_name == "svc"
    assert old in {k["kid"] for k in json.loads(store.jwks())["keys"]}
    assert store.audit_log().items[0].action == "signing_key_retired"
    with pytest.raises(keyscope.KeyscopeError):
        store.retire_signing_key("no-such-kid")


def test_retiring_immediately_refuses_the_old_tokens(db_path):
    with keyscope.KeyStore.open(db_path, argon2=CHEAP, revocation_staleness=0.1) as a, \
            keyscope.KeyStore.open(db_path, argon2=CHEAP, revocation_staleness=0.1) as b:
        _, _, tok = token_for(a)
        assert b.authorize(tok, "reports").key_name == "svc"
        old = by_state(a)["current"][0].kid
        a.retire_signing_key(old, immediately=True)
        with pytest.raises((keyscope.TokenRevoked, keyscope.InvalidToken)):
            a.authorize(tok, "reports")
        assert old not in {k["kid"] for k in json.loads(a.jwks())["keys"]}
        time.sleep(0.3)  # the other handle within revocation_staleness
        with pytest.raises((keyscope.TokenRevoked, keyscope.InvalidToken)):
            b.authorize(tok, "reports")
        assert old not in {k["kid"] for k in json.loads(b.jwks())["keys"]}
        # New tokens work on both.
        _, _, tok = token_for(a, name="svc2")
        assert b.authorize(tok, "reports").key_name == "svc2"


def test_revoke_token_then_authorize_is_token_revoked(db_path):
    with keyscope.KeyStore.open(db_path, argon2=CHEAP, revocation_staleness=0.1) as a, \
            keyscope.KeyStore.open(db_path, argon2=CHEAP, revocation_staleness=0.1) as b:
        key, secret, tok = token_for(a)
        other = a.issue_token(key.id, secret).access_token
        assert b.authorize(tok, "reports").key_name == "svc"
        assert a.revoke_token(tok) is True
        with pytest.raises(keyscope.TokenRevoked):
            a.authorize(tok, "reports")
        time.sleep(0.3)
        with pytest.raises(keyscope.TokenRevoked):
            b.authorize(tok, "reports")
        assert b.authorize(other, "reports").key_name == "svc"  # only that token
        assert a.revoke_token("not-a-token") is False
        # An org view revokes only its own org's tokens.
        assert a.org("acme").revoke_token(other) is False
        assert b.authorize(other, "reports").key_name == "svc"


def test_a_wrong_key_encryption_key_is_a_storage_error(tmp_path):
    path = str(tmp_path / "sealed.db")
    kek = os.urandom(32)
    with keyscope.KeyStore.open(path, argon2=CHEAP, key_encryption_key=kek) as s:
        _, _, tok = token_for(s)
    with pytest.raises(keyscope.StorageError):
        keyscope.KeyStore.open(path, argon2=CHEAP, key_encryption_key=os.urandom(32))
    with keyscope.KeyStore.open(path, argon2=CHEAP, key_encryption_key=kek) as s:
        assert s.authorize(tok, "reports").key_name == "svc"
    with pytest.raises(keyscope.InvalidInput) as info:
        keyscope.KeyStore.open(path, key_encryption_key=b"short")
    assert info.value.field == "key_encryption_key"
    with pytest.raises(keyscope.InvalidInput):
        keyscope.KeyStore.open(path, key_encryption_key="x" * 32)  # bytes, not str


def test_the_key_encryption_key_from_the_environment(tmp_path):
    path = str(tmp_path / "sealed.db")
    kek = os.urandom(32)
    with keyscope.KeyStore.open(path, argon2=CHEAP, key_encryption_key=kek) as s:
        key, secret, _ = token_for(s)
    code = (
        "import keyscope, sys\n"
        f"s = keyscope.KeyStore.open({path!r}, argon2={CHEAP!r})\n"
        f"print(s.issue_token({key.id!r}, {secret!r}).token_type)\n"
    )
    good = dict(os.environ, KEYSCOPE_KEY_ENCRYPTION_KEY=base64.b64encode(kek).decode())
    out = subprocess.run([sys.executable, "-c", code], env=good, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "Bearer", out.stderr
    bad = dict(os.environ, KEYSCOPE_KEY_ENCRYPTION_KEY=base64.b64encode(os.urandom(32)).decode())
    out = subprocess.run([sys.executable, "-c", code], env=bad, capture_output=True, text=True)
    assert out.returncode != 0 and "StorageError" in out.stderr


def test_signing_calls_on_an_org_view_are_invalid_input(store):
    acme = store.org("acme")
    kid = store.signing_keys()[0].kid
    for call in (lambda: acme.signing_keys(), lambda: acme.rotate_signing_key(),
                 lambda: acme.retire_signing_key(kid), lambda: acme.retire_signing_key(kid, immediately=True)):
        with pytest.raises(keyscope.InvalidInput) as info:
            call()
        assert info.value.field == "org"
    assert len(store.signing_keys()) == 2  # nothing changed


def test_fixed_hs256_keys_cannot_be_rotated(location):
    with keyscope.KeyStore.open(location, signing_keys=[("k1", b"a" * 32), ("k0", b"b" * 32)]) as s:
        keys = s.signing_keys()
        assert [(k.kid, k.alg, k.state, k.public_jwk) for k in keys] == [
            ("k1", "HS256", "current", None), ("k0", "HS256", "retired", None)]
        assert json.loads(s.jwks()) == {"keys": []}
        for call in (lambda: s.rotate_signing_key(), lambda: s.retire_signing_key("k0")):
            with pytest.raises(keyscope.InvalidInput) as info:
                call()
            assert info.value.field == "signing_keys"


def test_metadata_needs_a_url_issuer(location):
    with keyscope.KeyStore.open(location) as s:  # issuer "keyscope"
        with pytest.raises(keyscope.InvalidInput) as info:
            s.metadata()
        assert info.value.field == "issuer"
    with keyscope.KeyStore.open(location, issuer=ISSUER) as s:
        doc = json.loads(s.metadata())
        assert doc["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
        assert doc["token_endpoint"] == ISSUER + "/auth/v2/token"


# --- handle_http -----------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def basic(key_id, secret):
    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


def test_handle_http_takes_str_and_bytes_headers_alike(store):
    key, secret = store.create_key("svc", grants=["reports:read"])
    auth = basic(key.id, secret)
    body = b"grant_type=client_credentials"
    as_str = [("Authorization", auth), ("Content-Type", FORM)]
    as_bytes = [(b"authorization", auth.encode()), (b"content-type", FORM.encode())]
    mixed = [("AUTHORIZATION", auth.encode()), (b"Content-Type", FORM)]
    as_dict = {"authorization": auth, "content-type": FORM}
    answers = [store.handle_http("POST", "/auth/v2/token", h, body, "64.100.10.7") for h in
               (as_str, as_bytes, mixed, as_dict, tuple(as_str), iter(as_bytes))]
    for status, headers, content in answers:
        assert status == 200, content
        assert isinstance(content, bytes)
        assert all(isinstance(n, str) and isinstance(v, str) for n, v in headers)
        assert ("Cache-Control", "no-store") in headers
        tok = json.loads(content)["access_token"]
        assert store.authorize(tok, "reports").key_id == key.id
    assert len({a[1].__repr__() for a in answers}) == 1  # the same headers every time
    # A bytearray or memoryview body is taken like bytes.
    for b in (bytearray(body), memoryview(body)):
        assert store.handle_http("POST", "/auth/v2/token", as_bytes, b)[0] == 200


def test_handle_http_reads_bytes_as_latin1_like_wsgi(store):
    # The same header value, as an ASGI server gives it (bytes) and as a WSGI server
    # does (str decoded as ISO-8859-1): the store sees the same text.
    raw = "Basic " + base64.b64encode("é:ü".encode("latin-1")).decode() + " \xe9"
    a = store.handle_http("POST", "/auth/v2/token", [(b"authorization", raw.encode("latin-1")),
                                                     (b"content-type", FORM.encode())], b"grant_type=client_credentials")
    b = store.handle_http("POST", "/auth/v2/token", [("Authorization", raw), ("Content-Type", FORM)],
                          b"grant_type=client_credentials")
    assert a == b and a[0] in (400, 401)


def test_handle_http_routes(store):
    key, secret = store.create_key("svc", grants=["reports:read"])
    status, headers, body = store.handle_http("GET", "/.well-known/jwks.json", [], b"")
    assert status == 200 and json.loads(body) == json.loads(store.jwks())
    status, _, body = store.handle_http("GET", "/.well-known/oauth-authorization-server", [], None)
    assert status == 200 and json.loads(body) == json.loads(store.metadata())
    status, headers, body = store.handle_http("PUT", "/healthz", [], b"")
    assert status == 405 and ("Allow", "GET") in headers
    assert store.handle_http("GET", "/nope", [], b"")[0] == 404
    assert store.handle_http("POST", "/auth/v2/token", [], b"x" * (keyscope._keyscope.MAX_BODY_BYTES + 1))[0] == 413
    # RFC 7662 introspection and RFC 7009 revocation, authenticated by the client.
    tok = store.issue_token(key.id, secret).access_token
    creds = [("Authorization", basic(key.id, secret)), ("Content-Type", FORM)]
    status, _, body = store.handle_http("POST", "/auth/v2/introspect", creds, f"token={tok}".encode())
    doc = json.loads(body)
    assert status == 200 and doc["active"] is True and doc["client_id"] == key.id and doc["iss"] == ISSUER
    status, _, body = store.handle_http("POST", "/auth/v2/revoke", creds, f"token={tok}".encode())
    assert status == 200
    with pytest.raises(keyscope.TokenRevoked):
        store.authorize(tok, "reports")
    status, _, body = store.handle_http("POST", "/auth/v2/introspect", creds, f"token={tok}".encode())
    assert json.loads(body) == {"active": False}


def test_handle_http_refuses_what_is_not_a_request(store):
    cases = [
        (("GET", "/healthz", "accept: */*", b""), "headers"),
        (("GET", "/healthz", [("accept",)], b""), "headers[0]"),
        (("GET", "/healthz", [("accept", 1)], b""), "headers[0].value"),
        (("GET", "/healthz", [(None, "x")], b""), "headers[0].name"),
        (("GET", "/healthz", [("a\ud800", "x")], b""), "headers[0].name"),
        (("GET", "/healthz", [], "text body"), "body"),
        (("GET", "/healthz", [], 7), "body"),
        ((b"GET", "/healthz", [], b""), "method"),
        (("GET", b"/healthz", [], b""), "path"),
    ]
    for args, field in cases:
        with pytest.raises(keyscope.InvalidInput) as info:
            store.handle_http(*args)
        assert info.value.field == field, args
    with pytest.raises(keyscope.InvalidInput):
        store.handle_http("GET", "/healthz", [], b"", now=datetime(2027, 1, 1))  # naive


def test_handle_http_now_drives_the_rules(store):
    key, secret = store.create_key("svc", grants=["reports:read"])
    later = datetime.now(timezone.utc) + timedelta(days=3)
    status, _, body = store.handle_http("POST", "/auth/v2/token", [("Authorization", basic(key.id, secret)),
                                                                  ("Content-Type", FORM)],
                                        b"grant_type=client_credentials", now=later)
    assert status == 200
    assert json.loads(base64.urlsafe_b64decode(json.loads(body)["access_token"].split(".")[1] + "=="))["iat"] == \
        int(later.timestamp())


def test_handle_http_releases_the_gil(location):
    """A token request runs Argon2 (here about a tenth of a second): other Python
    threads must run meanwhile."""
    costly = {"memory_kib": 32768, "iterations": 3, "parallelism": 1}
    with keyscope.KeyStore.open(location, argon2=costly) as s:
        key, secret = s.create_key("svc", grants=["reports:read"])
        s.clear_caches()
        ticks, done = [0], threading.Event()

        def ticker():
            while not done.is_set():
                ticks[0] += 1
                time.sleep(0.001)

        t = threading.Thread(target=ticker)
        t.start()
        try:
            started = time.monotonic()
            status, _, _ = s.handle_http("POST", "/auth/v2/token", [("Authorization", basic(key.id, secret)),
                                                                    ("Content-Type", FORM)],
                                         b"grant_type=client_credentials")
            took = time.monotonic() - started
        finally:
            done.set()
            t.join()
        assert status == 200
        assert took > 0.02, "Argon2 ran too fast to tell"
        assert ticks[0] >= 5, f"only {ticks[0]} ticks in {took:.3f} s: handle_http held the GIL"
