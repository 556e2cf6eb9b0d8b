"""The Key Admin API against a running keyscope-server, spoken the way Cisco's generated
SDK speaks it (docs/key-admin-api.md): HTTP Basic at /auth/v2/token with a form body,
then Bearer; `allowedIPs`; `expireAt: ""`; refresh with an empty body and
`Content-Type: application/json`. Every answer is checked against the field types the
SDK's models require, so a client generated from Cisco's document can read it.

Needs the server binary: `KEYSCOPE_SERVER`, else the workspace's debug build (`make
test-python` builds it). A missing binary fails the test.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest

import keyscope

ROOT = pathlib.Path(__file__).resolve().parents[2]


def server_binary() -> str:
    explicit = os.environ.get("KEYSCOPE_SERVER")
    if explicit:
        return explicit
    for triple in ("x86_64-unknown-linux-gnu", ""):
        p = ROOT / "target" / triple / "debug" / "keyscope-server"
        if p.exists():
            return str(p)
    raise AssertionError(
        "keyscope-server is not built: run `cargo build -p keyscope-server` "
        "or set KEYSCOPE_SERVER"
    )


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Any:
    db = tmp_path / "keys.db"
    cheap = '{"memory_kib": 64, "iterations": 1, "parallelism": 1}'
    # The first admin key, made with the library on the server's store.
    with keyscope.KeyStore.open(str(db), catalog="secure_access") as store:
        admin, secret = store.create_key("key-admin", grants=["admin.apikeys:write"])
    proc = subprocess.Popen(
        [server_binary(), "--db", str(db), "--listen", "127.0.0.1:0",
         "--catalog", "secure_access", "--argon2", cheap,
         # The test stands in for a proxy, to exchange from a key's allowed network.
         "--trusted-proxy", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://"), line
        yield line.removeprefix("listening on "), admin.id, secret
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def call(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (names in lower case) and body."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def sdk_token(base: str, client_id: str, secret: str, from_ip: str | None = None) -> str:
    """What the SDK's TokenApi sends: Basic credentials and a form body."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}",
               "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if from_ip:
        headers["X-Forwarded-For"] = from_ip
    status, _, body = call("POST", f"{base}/auth/v2/token", b"grant_type=client_credentials",
                           headers)
    assert status == 200, body
    token = json.loads(body)
    # The SDK's Token model: access_token and token_type strings, expires_in an int.
    assert isinstance(token["access_token"], str) and isinstance(token["token_type"], str)
    assert type(token["expires_in"]) is int
    return str(token["access_token"])


def is_datetime(v: object) -> bool:
    if not isinstance(v, str):
        return False
    try:
        dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


# The required fields of the SDK's KeyAdminKey / KeyForList / KeyWithSecret models.
REQUIRED_DATETIMES = ("createdAt", "lastRefreshedAt", "lastUsedAt", "modifiedAt")
REQUIRED_STRINGS = ("creatorEmail", "creatorName", "expireAt", "id")


def check_key(k: dict[str, Any], *, with_secret: bool) -> None:
    for f in REQUIRED_DATETIMES:
        assert is_datetime(k[f]), (f, k[f])
    for f in REQUIRED_STRINGS:
        assert isinstance(k[f], str), f
    assert isinstance(k["scopes"], list) and all(isinstance(s, str) for s in k["scopes"])
    for f in ("clientId", "creatorKeyId", "description", "name"):
        assert isinstance(k[f], str), f
    assert isinstance(k["allowedIPs"], list)
    assert len(k["description"]) <= 256
    if with_secret:
        assert isinstance(k["clientSecret"], str) and isinstance(k["clientId"], str)
    else:
        assert "clientSecret" not in k


def test_a_cisco_sdk_client_manages_keys_end_to_end(server: Any) -> None:
    base, admin_id, admin_secret = server
    token = sdk_token(base, admin_id, admin_secret)
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json",
              "Content-Type": "application/json"}

    # Create, as CreateAPIKeysRequest serializes it.
    req = {"name": "ci deployer", "scopes": ["deployments.networks:write", "reports:read"],
           "description": "deploys", "expireAt": "", "allowedIPs": ["64.100.10.0/24"]}
    status, headers, body = call("POST", f"{base}/admin/v2/apiKeys",
                                 json.dumps(req).encode(), bearer)
    assert status == 201, body
    created = json.loads(body)
    assert created["message"] in ("success", "error")
    key = created["key"]
    check_key(key, with_secret=True)
    assert key["expireAt"] == "" and key["lastUsedAt"] == "0001-01-01T00:00:00Z"
    assert key["allowedIPs"] == ["64.100.10.0/24"]
    assert key["creatorName"] == "key-admin" and key["creatorKeyId"] == admin_id
    assert headers.get("cache-control") == "no-store"

    # The new key exchanges its secret like any client, from its allowed network only.
    sdk_token(base, key["clientId"], key["clientSecret"], from_ip="64.100.10.7")
    with pytest.raises(AssertionError):
        sdk_token(base, key["clientId"], key["clientSecret"], from_ip="8.8.8.8")

    # List, as KeysResponseList reads it (limit 0 = everything).
    status, _, body = call("GET", f"{base}/admin/v2/apiKeys?offset=0&limit=0", None, bearer)
    assert status == 200
    page = json.loads(body)
    for f in ("limit", "offset", "total"):
        assert type(page[f]) is int, f
    assert page["message"] in ("success", "error")
    assert page["total"] == 2 and len(page["keys"]) == 2
    for k in page["keys"]:
        check_key(k, with_secret=False)

    # Get and patch (PatchAPIKeyRequest sends name and scopes with the change).
    status, headers, body = call("GET", f"{base}/admin/v2/apiKeys/{key['id']}", None, bearer)
    assert status == 200 and headers.get("etag") == '"1"'
    check_key(json.loads(body)["key"], with_secret=False)
    patch = {"name": "ci deployer", "scopes": ["reports:read"], "description": "narrowed",
             "allowedIPs": ["64.100.10.0/24"]}
    status, _, body = call("PATCH", f"{base}/admin/v2/apiKeys/{key['id']}",
                           json.dumps(patch).encode(), bearer)
    assert status == 200, body
    patched = json.loads(body)["key"]
    check_key(patched, with_secret=False)
    assert patched["scopes"] == ["reports:read"] and patched["description"] == "narrowed"

    # Refresh: an empty body with Content-Type application/json.
    status, _, body = call("POST", f"{base}/admin/v2/apiKeys/{key['id']}/refresh", b"", bearer)
    assert status == 200, body
    refreshed = json.loads(body)["key"]
    check_key(refreshed, with_secret=True)
    assert refreshed["clientSecret"] != key["clientSecret"]

    # Delete: 204, then 404 in the error envelope.
    status, _, body = call("DELETE", f"{base}/admin/v2/apiKeys/{key['id']}", None, bearer)
    assert (status, body) == (204, b"")
    status, _, body = call("GET", f"{base}/admin/v2/apiKeys/{key['id']}", None, bearer)
    err = json.loads(body)
    assert status == 404 and err["message"] == "error" and err["code"] == "not_found"


def test_refusals_come_in_order_and_name_the_field(server: Any) -> None:
    base, admin_id, admin_secret = server
    token = sdk_token(base, admin_id, admin_secret)
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, headers, _ = call("GET", f"{base}/admin/v2/apiKeys", None, {})
    assert status == 401 and headers.get("www-authenticate", "").startswith("Bearer")
    status, _, body = call("POST", f"{base}/admin/v2/apiKeys",
                           json.dumps({"name": "x", "scopes": ["nope:read"]}).encode(), bearer)
    assert status == 400 and json.loads(body)["field"] == "scopes[0]"
    status, _, _ = call("POST", f"{base}/admin/v2/apiKeys", b"name=x",
                        {**bearer, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    req = json.dumps({"name": "dup", "scopes": ["reports:read"]}).encode()
    assert call("POST", f"{base}/admin/v2/apiKeys", req, bearer)[0] == 201
    status, _, body = call("POST", f"{base}/admin/v2/apiKeys", req, bearer)
    assert status == 409 and json.loads(body)["code"] == "conflict"
