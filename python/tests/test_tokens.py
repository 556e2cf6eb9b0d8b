"""Token exchange, access tokens and authorization (docs/tokens.md, docs/authorization.md,
docs/http.md) through Python."""

import base64
import json
import multiprocessing as mp
import os
import time
from datetime import timedelta

import jwt
import pytest

import keyscope
from conftest import BACKEND, CHEAP, T0

SIGNING = [("k1", b"s" * 32)]


@pytest.fixture
def ts(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, signing_keys=SIGNING) as s:
        yield s


def make(s, **kw):
    kw.setdefault("grants", ["deployments.networks:write", "reports:read"])
    kw.setdefault("now", T0)
    return s.create_key(kw.pop("name", "svc"), **kw)


def b64(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_exchange_and_authorize(ts):
    key, secret = make(ts, networks=["64.100.10.0/24"])
    tok = ts.issue_token(key.id, secret, client_ip="64.100.10.7", now=T0)
    assert tok.token_type == "Bearer" and tok.expires_in == 3600
    assert tok.expires_at == T0 + timedelta(hours=1)
    assert tok.scope == "deployments.networks:write reports:read"
    assert tok.access_token not in repr(tok)
    p = ts.authorize(tok.access_token, "deployments.networks", "write", client_ip="64.100.10.7", now=T0)
    assert (p.key_id, p.key_name, p.org) == (key.id, "svc", "default")
    assert p.scope == ["deployments.networks:write", "reports:read"]
    assert p.expires_at == tok.expires_at


def test_pyjwt_reads_our_tokens(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, signing_keys=SIGNING) as s:
        key, secret = make(s)
        tok = s.issue_token(key.id, secret, now=T0)
    header = jwt.get_unverified_header(tok.access_token)
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": "k1"}
    claims = jwt.decode(tok.access_token, b"s" * 32, algorithms=["HS256"], audience="keyscope",
                        issuer="keyscope", options={"verify_exp": False, "verify_iat": False})
    assert set(claims) == {"iss", "aud", "sub", "client_id", "org", "iat", "exp", "jti", "scope", "gen"}
    assert claims["sub"] == claims["client_id"] == key.id
    assert claims["exp"] - claims["iat"] == 3600 and claims["gen"] == 1


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_flipped_bit_in_any_part_is_invalid(ts, part):
    key, secret = make(ts)
    parts = ts.issue_token(key.id, secret, now=T0).access_token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[part] + "=" * (-len(parts[part]) % 4)))
    raw[len(raw) // 2] ^= 0x01
    parts[part] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(keyscope.InvalidToken):
        ts.authorize(".".join(parts), "reports", now=T0)


@pytest.mark.parametrize("header", [
    {"alg": "none", "typ": "at+jwt", "kid": "k1"},
    {"alg": "HS512", "typ": "at+jwt", "kid": "k1"},
    {"alg": "RS256", "typ": "at+jwt", "kid": "k1"},
    {"alg": "HS256", "typ": "at+jwt"},
    {"alg": "HS256", "typ": "at+jwt", "kid": "other"},
])
def test_foreign_headers_are_invalid(ts, header):
    key, secret = make(ts)
    _, claims, sig = ts.issue_token(key.id, secret, now=T0).access_token.split(".")
    with pytest.raises(keyscope.InvalidToken):
        ts.authorize(f"{b64(header)}.{claims}.{sig}", "reports", now=T0)


def test_malformed_tokens_are_invalid(ts):
    key, secret = make(ts)
    good = jwt.decode(ts.issue_token(key.id, secret, now=T0).access_token, options={"verify_signature": False})
    bad_claims = [dict(good, exp=str(good["exp"])), dict(good, iat=float(good["iat"]))]
    for claims in bad_claims:
        token = jwt.encode(claims, b"s" * 32, algorithm="HS256", headers={"typ": "at+jwt", "kid": "k1"})
        with pytest.raises(keyscope.InvalidToken):
            ts.authorize(token, "reports", now=T0)
    for token in ["", "a.b", "x" * 65536, "a.b.c.d", "[" * 10000]:
        with pytest.raises(keyscope.InvalidToken):
            ts.authorize(token, "reports", now=T0)


def test_errors_in_order(ts):
    key, secret = make(ts, networks=["64.100.10.0/24"], expires_at=T0 + timedelta(hours=2))
    tok = ts.issue_token(key.id, secret, client_ip="64.100.10.7", now=T0).access_token
    with pytest.raises(keyscope.InvalidInput):
        ts.authorize(tok, "not a resource", now=T0)
    with pytest.raises(keyscope.InvalidInput):
        ts.authorize(tok, "reports", "admin", now=T0)
    with pytest.raises(keyscope.NetworkDenied):
        ts.authorize(tok, "reports", client_ip="8.8.8.8", now=T0)
    with pytest.raises(keyscope.InsufficientScope) as info:
        ts.authorize(tok, "reports", "write", client_ip="64.100.10.7", now=T0)
    assert info.value.required_scope == "reports:write"
    with pytest.raises(keyscope.TokenExpired):
        ts.authorize(tok, "reports", client_ip="64.100.10.7", now=T0 + timedelta(hours=1))
    with pytest.raises(keyscope.InvalidCredentials):
        ts.issue_token(key.id, "kss_wrong", client_ip="64.100.10.7", now=T0)
    with pytest.raises(keyscope.InvalidScope):
        ts.issue_token(key.id, secret, client_ip="64.100.10.7", scope="admin:write", now=T0)
    with pytest.raises(keyscope.KeyExpired):
        ts.issue_token(key.id, secret, client_ip="64.100.10.7", now=T0 + timedelta(hours=2))


def test_rate_limited_after_failures(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, max_failed_exchanges_per_minute=2) as s:
        key, secret = make(s)
        s.issue_token(key.id, secret, now=T0)  # verified once: the cache knows it
        wrong = s.create_key("other", grants=["reports:read"])[1]
        for _ in range(2):
            with pytest.raises(keyscope.InvalidCredentials):
                s.issue_token(key.id, wrong, now=T0)
        with pytest.raises(keyscope.RateLimited) as info:
            s.issue_token(key.id, wrong, now=T0)
        assert info.value.retry_after == 60
        s.issue_token(key.id, secret, now=T0)  # a known secret is never locked out


def test_refresh_and_grace(ts):
    key, old = make(ts)
    tok = ts.issue_token(key.id, old, now=T0).access_token
    _, new = ts.refresh_key(key.id, grace=600, now=T0)
    ts.authorize(tok, "reports", now=T0 + timedelta(seconds=599))
    with pytest.raises(keyscope.TokenRevoked):
        ts.authorize(tok, "reports", now=T0 + timedelta(seconds=600))
    ts.refresh_key(key.id, now=T0)
    with pytest.raises(keyscope.TokenRevoked):
        ts.authorize(tok, "reports", now=T0)
    with pytest.raises(keyscope.InvalidCredentials):
        ts.issue_token(key.id, new, now=T0)


def test_delete_and_disable_revoke(ts):
    key, secret = make(ts)
    tok = ts.issue_token(key.id, secret, now=T0).access_token
    ts.update_key(key.id, enabled=False)
    with pytest.raises(keyscope.KeyDisabled):
        ts.authorize(tok, "reports", now=T0)
    ts.update_key(key.id, enabled=True)
    with pytest.raises(keyscope.TokenRevoked):
        ts.authorize(tok, "reports", now=T0)
    tok = ts.issue_token(key.id, secret, now=T0).access_token
    ts.delete_key(key.id)
    with pytest.raises(keyscope.TokenRevoked):
        ts.authorize(tok, "reports", now=T0)


def test_org_views(ts):
    acme = ts.org("acme")
    key, secret = make(acme)
    with pytest.raises(keyscope.InvalidCredentials):
        ts.org("other").issue_token(key.id, secret, now=T0)
    tok = acme.issue_token(key.id, secret, now=T0).access_token
    with pytest.raises(keyscope.InvalidToken):
        ts.org("other").authorize(tok, "reports", now=T0)
    assert ts.authorize(tok, "reports", now=T0).org == "acme"


def _refresh_in_child(path, key_id):
    with keyscope.KeyStore.open(path, argon2=CHEAP, signing_keys=SIGNING) as s:
        s.refresh_key(key_id)


def test_revocation_by_another_process_within_staleness(db_path):
    with keyscope.KeyStore.open(db_path, argon2=CHEAP, signing_keys=SIGNING, revocation_staleness=0.1) as s:
        key, secret = make(s)
        tok = s.issue_token(key.id, secret).access_token
        s.authorize(tok, "reports")
        child = mp.get_context("spawn").Process(target=_refresh_in_child, args=(db_path, key.id))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        time.sleep(0.25)
        with pytest.raises(keyscope.TokenRevoked):
            s.authorize(tok, "reports")


def test_store_signing_keys_shared_between_handles(db_path):
    """The store's own keys live in the database (no key file beside it): a second
    handle verifies what the first one signed, and both see the same keys."""
    with keyscope.KeyStore.open(db_path, argon2=CHEAP) as a, keyscope.KeyStore.open(db_path, argon2=CHEAP) as b:
        key, secret = make(a)
        tok = a.issue_token(key.id, secret).access_token
        assert b.authorize(tok, "reports").key_id == key.id
        assert a.signing_keys() == b.signing_keys()
        assert json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "=="))["alg"] == "ES256"
    if BACKEND == "sqlite":
        assert not os.path.exists(db_path + ".signing-keys")


def test_token_endpoint_and_authorize_header(ts):
    key, secret = make(ts)
    basic = "Basic " + base64.b64encode(f"{key.id}:{secret}".encode()).decode()
    status, headers, body = ts.token_endpoint(basic, "application/x-www-form-urlencoded",
                                              b"grant_type=client_credentials", "64.100.10.7")
    assert status == 200
    assert ("Cache-Control", "no-store") in headers and ("Pragma", "no-cache") in headers
    tok = json.loads(body)["access_token"]
    p = ts.authorize_header(f"Bearer {tok}", "reports", "read", "64.100.10.7")
    assert p.key_id == key.id
    with pytest.raises(keyscope.InsufficientScope) as info:
        ts.authorize_header(f"Bearer {tok}", "reports", "write", "64.100.10.7")
    assert info.value.status == 403
    assert info.value.www_authenticate == 'Bearer realm="keyscope", error="insufficient_scope", scope="reports:write"'
    with pytest.raises(keyscope.InvalidInput) as info:
        ts.authorize_header(f"Bearer {tok}", "reports", "admin", "64.100.10.7")
    assert info.value.status == 400
    with pytest.raises(keyscope.InvalidToken) as info:
        ts.authorize_header(None, "reports")
    assert (info.value.status, info.value.www_authenticate) == (401, 'Bearer realm="keyscope"')
    status, headers, body = ts.token_endpoint(None, "application/x-www-form-urlencoded",
                                              "grant_type=client_credentials", None)
    assert status == 401 and json.loads(body)["error"] == "invalid_client"
    assert dict(headers)["WWW-Authenticate"].startswith("Basic")


def test_client_address_with_trusted_proxies(location):
    with keyscope.KeyStore.open(location, trusted_proxies=["10.0.0.0/8"]) as s:
        assert s.client_address("10.0.0.1", "64.100.10.7, 10.0.0.2") == "64.100.10.7"
        assert s.client_address("10.0.0.1", ["1.1.1.1", "64.100.10.7"]) == "64.100.10.7"
        assert s.client_address("64.100.10.9", "1.1.1.1") == "64.100.10.9"
        assert s.client_address("10.0.0.1", "garbage") is None


def test_environment_signing_keys_are_shared_across_processes(tmp_path):
    import os
    import subprocess
    import sys

    secret = base64.b64encode(b"e" * 32).decode()
    env = dict(os.environ, KEYSCOPE_SIGNING_KEYS=f"env1:{secret}")
    path = str(tmp_path / "env.db")
    code = (
        "import keyscope, sys\n"
        f"s = keyscope.KeyStore.open({path!r}, argon2={CHEAP!r})\n"
        "k, sec = s.create_key('svc', grants=['reports:read'])\n"
        "print(s.issue_token(k.id, sec).access_token)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    assert token.count(".") == 2
    with keyscope.KeyStore.open(path, argon2=CHEAP, signing_keys=[("env1", b"e" * 32)]) as s:
        assert s.authorize(token, "reports").key_name == "svc"
    assert not (tmp_path / "env.db.signing-keys").exists(), "no key file when the environment gives keys"


def test_clear_caches_changes_nothing_but_speed(ts):
    key, secret = make(ts)
    tok = ts.issue_token(key.id, secret, now=T0).access_token
    ts.authorize(tok, "reports", now=T0)
    ts.clear_caches()
    assert ts.authorize(tok, "reports", now=T0).key_id == key.id
    assert ts.issue_token(key.id, secret, now=T0).token_type == "Bearer"
