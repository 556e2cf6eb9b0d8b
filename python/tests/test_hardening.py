"""Regression tests for the findings of the security review (issue 12)."""

import json
from datetime import timedelta

import pytest

import keyscope
from keyscope.cli import main
from conftest import CHEAP, T0


def test_closing_an_org_view_detaches_only_that_view(store):
    acme = store.org("acme")
    key, _ = acme.create_key("a", grants=["reports:read"], now=T0)
    with store.org("acme") as view:
        assert view.get_key(key.id, now=T0).id == key.id
    with pytest.raises(keyscope.StorageError):
        view.get_key(key.id, now=T0)
    with pytest.raises(keyscope.StorageError):
        view.org("acme")
    # The store and the other views carry on.
    assert store.summary(now=T0).total == 0
    assert acme.get_key(key.id, now=T0).name == "a"
    other = store.org("other")
    other.close()
    other.close()  # twice is fine
    assert acme.list_keys(now=T0).items[0].id == key.id
    assert store.org("acme").get_key(key.id, now=T0).id == key.id


def test_closing_the_store_still_closes_its_views(location):
    s = keyscope.KeyStore.open(location, argon2=CHEAP)
    view = s.org("acme")
    s.close()
    with pytest.raises(keyscope.StorageError):
        view.summary(now=T0)
    with pytest.raises(keyscope.StorageError):
        s.summary(now=T0)


def test_a_closed_view_refuses_authorize_too(store):
    key, secret = store.create_key("a", grants=["reports:read"], now=T0)
    tok = store.issue_token(key.id, secret, now=T0)
    view = store.org("default")
    assert view.authorize(tok.access_token, "reports", now=T0).key_id == key.id
    view.close()
    with pytest.raises(keyscope.StorageError):
        view.authorize(tok.access_token, "reports", now=T0)
    assert store.authorize(tok.access_token, "reports", now=T0).key_id == key.id


@pytest.mark.parametrize("where", ["before", "after"])
def test_cli_global_options_are_accepted_after_the_subcommand(tmp_path, capsys, monkeypatch, where):
    monkeypatch.delenv("KEYSCOPE_DB", raising=False)
    db = str(tmp_path / "cli.db")
    glob = ["--db", db, "--json"]

    def run(*argv):
        args = [*glob, *argv] if where == "before" else [argv[0], *glob, *argv[1:]]
        code = main(args)
        out, _ = capsys.readouterr()
        return code, json.loads(out)

    code, created = run("create", "ci", "--grant", "reports:read")
    assert code == 0 and created["secret"].startswith("kss_")
    code, listing = run("list")
    assert code == 0 and [k["name"] for k in listing["items"]] == ["ci"]
    code, _ = run("summary")
    assert code == 0


def test_cli_flag_after_subcommand_does_not_undo_one_before(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    assert main(["--db", db, "--json", "--org", "acme", "create", "ci", "--grant", "reports:read"]) == 0
    capsys.readouterr()
    assert main(["--json", "--org", "acme", "list", "--db", db]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [k["org"] for k in listing["items"]] == ["acme"]


def test_token_endpoint_never_echoes_a_badly_encoded_secret(store):
    key, secret = store.create_key("a", grants=["reports:read"], now=T0)
    body = f"grant_type=client_credentials&client_id={key.id}&client_secret={secret}%zz"
    status, _, answer = store.token_endpoint(None, "application/x-www-form-urlencoded", body, None, now=T0)
    assert status == 400
    assert secret not in answer and secret[4:20] not in answer
    assert json.loads(answer)["error"] == "invalid_request"


def test_www_authenticate_is_short_ascii_for_any_token(store):
    import base64

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    header = json.dumps({"alg": "\u00e9" * 2000, "typ": "at+jwt", "kid": "k"}).encode()
    token = f"{b64(header)}.{b64(b'{}')}.{b64(bytes(32))}"
    with pytest.raises(keyscope.InvalidToken) as info:
        store.authorize_header(f"Bearer {token}", "reports", now=T0)
    w = info.value.www_authenticate
    assert w.isascii() and w.isprintable() and len(w) <= 256, w


def test_principal_scope_follows_narrowed_grants(store):
    key, secret = store.create_key("a", grants=["deployments:write", "reports:read"], now=T0)
    tok = store.issue_token(key.id, secret, now=T0)
    store.update_key(key.id, grants=["reports:read"], now=T0)
    p = store.authorize(tok.access_token, "reports", now=T0 + timedelta(seconds=1))
    assert p.scope == ["reports:read"]
