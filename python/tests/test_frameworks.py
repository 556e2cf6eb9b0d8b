"""The FastAPI/Starlette dependency and the Flask decorator, against real apps."""

import pytest

import keyscope
from conftest import CHEAP


@pytest.fixture
def store(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP) as s:
        yield s


def test_fastapi_token_route_and_dependency(store):
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

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
    flask = pytest.importorskip("flask")
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
