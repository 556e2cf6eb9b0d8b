"""The FastAPI/Starlette and Flask helpers against real apps: the dependency, the
decorator, the token views, and the catch-all mounts of ``handle_http``, which must
answer the same request with the same status, headers and bytes in both frameworks."""

import asyncio
import base64
import io
import json

import fastapi
import flask
import pytest
from fastapi.testclient import TestClient

import keyscope
from conftest import CHEAP
from keyscope._keyscope import MAX_BODY_BYTES

ISSUER = "https://auth.example.com"
PEER = "64.100.10.7"


@pytest.fixture
def store(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP) as s:
        yield s


def test_fastapi_token_route_and_dependency(store):
    from keyscope.fastapi import require, token_route

    key, secret = store.create_key("svc", grants=["reports:read"])
    app = fastapi.FastAPI()
    app.add_api_route("/auth/v2/token", token_route(store), methods=["POST"])

    @app.get("/reports")
    def reports(p: keyscope.Principal = fastapi.Depends(require(store, "reports", "read"))):
        return {"caller": p.key_name}

    @app.post("/reports")
    def write_reports(p: keyscope.Principal = fastapi.Depends(require(store, "reports", "write"))):
        return {}

    client = TestClient(app)
    r = client.post("/auth/v2/token", data={"grant_type": "client_credentials"}, auth=(key.id, secret))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    tok = r.json()["access_token"]
    r = client.get("/reports", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 200 and r.json() == {"caller": "svc"}
    r = client.post("/reports", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = client.get("/reports")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="keyscope"'


def test_flask_decorator_and_token_view(store):
    from keyscope.flask import require, token_view

    key, secret = store.create_key("svc", grants=["reports:read"])
    app = flask.Flask(__name__)
    app.add_url_rule("/auth/v2/token", view_func=token_view(store), methods=["POST"])

    @app.get("/reports")
    @require(store, "reports", "read")
    def reports():
        return {"caller": flask.g.keyscope.key_name}

    client = app.test_client()
    r = client.post("/auth/v2/token", data={"grant_type": "client_credentials",
                                           "client_id": key.id, "client_secret": secret})
    assert r.status_code == 200, r.get_data(as_text=True)
    tok = r.get_json()["access_token"]
    assert client.get("/reports", headers={"Authorization": f"Bearer {tok}"}).get_json() == {"caller": "svc"}
    r = client.get("/reports", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


# --- handle_http mounted on one catch-all route ---------------------------------------


@pytest.fixture
def web_store(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, issuer=ISSUER) as s:
        yield s


def fastapi_app(store):
    from keyscope.fastapi import mount, require

    app = fastapi.FastAPI()

    @app.get("/reports")
    def reports(p: keyscope.Principal = fastapi.Depends(require(store, "reports", "read"))):
        return {"caller": p.key_name}

    mount(app, store)  # last: it answers every path the app's own routes do not
    return app


def flask_app(store):
    from keyscope.flask import blueprint, require

    app = flask.Flask(__name__)

    @app.get("/reports")
    @require(store, "reports", "read")
    def reports():
        return {"caller": flask.g.keyscope.key_name}

    app.register_blueprint(blueprint(store))
    return app


class Both:
    """Sends one request to the FastAPI app and to the Flask app, from the same peer."""

    def __init__(self, store):
        self.fastapi = TestClient(fastapi_app(store), client=(PEER, 50000))
        self.flask = flask_app(store).test_client()

    def send(self, method, path, headers=None, body=b""):
        a = self.fastapi.request(method, path, headers=headers, content=body)
        b = self.flask.open(path, method=method, headers=headers, data=body,
                            environ_base={"REMOTE_ADDR": PEER})
        return ((a.status_code, norm(a.headers.multi_items()), a.content),
                (b.status_code, norm(b.headers.items()), b.get_data()))


def norm(headers):
    """Header names are case-insensitive (ASGI sends them in lower case)."""
    return sorted((n.lower(), v) for n, v in headers)


def direct(store, method, path, headers=(), body=b""):
    """What the store itself answers, with the Content-Length a server adds."""
    status, hdrs, content = store.handle_http(method, path, list(headers), body, PEER)
    return status, norm(hdrs + [("Content-Length", str(len(content)))]), content


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("method,path,headers,body", [
    ("GET", "/.well-known/jwks.json", {}, b""),
    ("GET", "/.well-known/oauth-authorization-server", {}, b""),
    ("GET", "/healthz", {"Accept": "application/json"}, b""),
    ("GET", "/no/such/route", {}, b""),                                  # 404
    ("DELETE", "/.well-known/jwks.json", {}, b""),                      # 405, Allow: GET
    ("GET", "/auth/v2/token", {}, b""),                                 # 405, Allow: POST
    ("POST", "/auth/v2/token", FORM, b"grant_type=client_credentials"),  # 401, no client
    ("POST", "/auth/v2/token", FORM, b"x" * (MAX_BODY_BYTES + 1)),      # 413
    ("POST", "/auth/v2/token", FORM, b"x" * (4 * MAX_BODY_BYTES)),      # 413
    ("POST", "/auth/v2/introspect", FORM, b"token=abc"),                 # 401
    ("POST", "/healthz?x=1", {}, b""),                                  # 405 with a query
    ("GET", "/admin/v2/apiKeys", {}, b""),                              # Key Admin API: 401
    ("PUT", "/admin/v2/apiKeys", {}, b""),                              # 405, Allow: GET, POST
    ("PATCH", "/admin/v2/apiKeys/abc", {"Content-Type": "application/json"}, b"{}"),  # 401
    ("DELETE", "/admin/v2/apiKeys/abc", {}, b""),                       # 401
    ("POST", "/admin/v2/apiKeys", {"Content-Type": "application/json"}, b"x" * (MAX_BODY_BYTES + 1)),  # 413
    ("GET", "/admin/", {}, b""),                                        # the key console: HTML
    ("GET", "/admin/console.js", {}, b""),                              # and its script
])
def test_fastapi_and_flask_answer_alike(web_store, method, path, headers, body):
    fa, fl = Both(web_store).send(method, path, headers, body)
    assert fa == fl
    expected = direct(web_store, method, path, headers.items(), body[: MAX_BODY_BYTES + 1])
    assert fa == expected
    if len(body) > MAX_BODY_BYTES:
        assert fa[0] == 413


def test_the_same_secret_check_in_both_frameworks(web_store):
    key, secret = web_store.create_key("svc", grants=["reports:read"])
    both = Both(web_store)
    bad = {**FORM, "Authorization": "Basic " + base64.b64encode(f"{key.id}:{secret}x".encode()).decode()}
    fa, fl = both.send("POST", "/auth/v2/token", bad, b"grant_type=client_credentials")
    assert fa == fl and fa[0] == 401
    assert ("www-authenticate", 'Basic realm="keyscope", charset="UTF-8"') in fa[1]

    good = {**FORM, "Authorization": "Basic " + base64.b64encode(f"{key.id}:{secret}".encode()).decode()}
    fa, fl = both.send("POST", "/auth/v2/token", good, b"grant_type=client_credentials")
    # Each answer has a token of its own (its jti and signature differ): the rest is equal.
    assert fa[0] == fl[0] == 200
    assert [h for h in fa[1] if h[0] != "content-length"] == [h for h in fl[1] if h[0] != "content-length"]
    tokens = []
    for status, headers, content in (fa, fl):
        doc = json.loads(content)
        tokens.append(doc.pop("access_token"))
        assert doc == {"expires_in": 3600, "scope": "reports:read", "token_type": "Bearer"}
    # The tokens work on the app's own route, in both frameworks.
    for tok in tokens:
        auth = {"Authorization": f"Bearer {tok}"}
        assert both.fastapi.get("/reports", headers=auth).json() == {"caller": "svc"}
        assert both.flask.get("/reports", headers=auth).get_json() == {"caller": "svc"}


def test_an_issuer_path_and_the_metadata_outside_it(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, issuer=ISSUER + "/tenant") as s:
        both = Both(s)
        for path in ("/tenant/.well-known/jwks.json", "/.well-known/oauth-authorization-server/tenant",
                     "/.well-known/jwks.json"):
            fa, fl = both.send("GET", path)
            assert fa == fl == direct(s, "GET", path), path
        assert both.send("GET", "/tenant/.well-known/jwks.json")[0][0] == 200
        assert both.send("GET", "/.well-known/jwks.json")[0][0] == 404


def test_fastapi_stops_reading_a_long_body_at_the_limit(web_store):
    """Driven as an ASGI server would: the body arrives in 4 KiB messages, and the
    route stops asking for more one byte past the limit (it never buffers it whole)."""
    app = fastapi_app(web_store)
    chunk, total = 4096, 16 * 1024 * 1024
    received, sent = [0], []

    async def receive():
        received[0] += 1
        more = received[0] * chunk < total
        return {"type": "http.request", "body": b"x" * chunk, "more_body": more}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "https", "path": "/auth/v2/token", "raw_path": b"/auth/v2/token",
             "query_string": b"", "root_path": "", "client": (PEER, 1234), "server": ("auth.example.com", 443),
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"),
                         (b"content-length", str(total).encode())]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert received[0] * chunk <= MAX_BODY_BYTES + chunk, f"read {received[0] * chunk} bytes"


class CountingStream(io.RawIOBase):
    """``size`` bytes of body that count how many were read."""

    def __init__(self, size):
        self.size, self.read_bytes = size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.read_bytes

    def seek(self, offset, whence=0):  # Werkzeug's test client measures the stream
        self.read_bytes = {0: offset, 1: self.read_bytes + offset, 2: self.size + offset}[whence]
        return self.read_bytes

    def readinto(self, buf):
        n = min(len(buf), self.size - self.read_bytes)
        buf[:n] = b"x" * n
        self.read_bytes += n
        return n


def test_flask_stops_reading_a_long_body_at_the_limit(web_store):
    app = flask_app(web_store)
    total = 16 * 1024 * 1024
    stream = CountingStream(total)
    r = app.test_client().post("/auth/v2/token", input_stream=stream,
                               content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413
    assert stream.read_bytes <= MAX_BODY_BYTES + 1, f"read {stream.read_bytes} bytes"


def test_the_apps_own_routes_come_first(web_store):
    both = Both(web_store)
    fa, fl = both.send("GET", "/reports")
    assert fa[0] == fl[0] == 401  # require() answered, not keyscope's 404


def test_the_key_admin_api_through_both_frameworks(web_store):
    admin, secret = web_store.create_key("admin", grants=["admin.apikeys:write"])
    token = web_store.issue_token(admin.id, secret).access_token
    auth = {"Authorization": f"Bearer {token}"}
    both = Both(web_store)
    target, _ = web_store.create_key("target", grants=["reports:read"])
    for path in (f"/admin/v2/apiKeys/{target.id}", "/admin/v2/catalog", "/admin/v2/apiKeys?limit=0"):
        fa, fl = both.send("GET", path, auth)
        assert fa == fl and fa[0] == 200, path
    patch = {**auth, "Content-Type": "application/json"}
    fa = both.fastapi.patch(f"/admin/v2/apiKeys/{target.id}", headers=patch, content=b'{"description": "a"}')
    fl = both.flask.patch(f"/admin/v2/apiKeys/{target.id}", headers=patch, data=b'{"description": "b"}')
    assert fa.status_code == fl.status_code == 200
    assert web_store.get_key(target.id).description == "b" and web_store.get_key(target.id).version == 3
    # DELETE answers 204 with no body in both.
    one, _ = web_store.create_key("one", grants=["reports:read"])
    two, _ = web_store.create_key("two", grants=["reports:read"])
    fa = both.fastapi.delete(f"/admin/v2/apiKeys/{one.id}", headers=auth)
    fl = both.flask.delete(f"/admin/v2/apiKeys/{two.id}", headers=auth)
    assert fa.status_code == fl.status_code == 204
    assert fa.content == fl.get_data() == b""
    assert norm(fa.headers.multi_items()) == norm(fl.headers.items())
    assert web_store.list_keys().items and {k.name for k in web_store.list_keys()} == {"admin", "target"}
