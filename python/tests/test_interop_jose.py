"""Interoperability with JOSE libraries nobody here wrote: a real HTTP server on
127.0.0.1 serves ``store.handle_http``; tokens got from its token endpoint are
verified by PyJWT (``PyJWKClient`` on the JWK Set URL) and by authlib's RFC 9068
``JWTBearerTokenValidator``, for each algorithm the store can generate keys of, and
across a key rotation. The libraries are required: a missing one fails the suite."""

import base64
import json
import threading
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # pyjwt[crypto]
import pytest
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from joserfc import jwt as joserfc_jwt
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet

import keyscope
from conftest import CHEAP
from keyscope._keyscope import MAX_BODY_BYTES

assert jwt.algorithms.has_crypto, "PyJWT needs the cryptography package (pyjwt[crypto]) for ES256, EdDSA and RS256"

ALGS = ["ES256", "EdDSA", "RS256"]


class Handler(BaseHTTPRequestHandler):
    """Hands every request to the server's store, and its answer back unchanged."""

    protocol_version = "HTTP/1.1"

    def serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY_BYTES + 1))
        if length > len(body):
            self.close_connection = True  # the rest is never read
        status, headers, content = self.server.store.handle_http(
            self.command, self.path, self.headers.items(), body, self.client_address[0])
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = serve

    def log_message(self, *args):
        pass


@pytest.fixture
def serve(location):
    """Opens a store whose issuer is a live server's ``http://127.0.0.1:PORT``."""
    servers = []

    def start(**options):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        issuer = f"http://127.0.0.1:{server.server_address[1]}"
        server.store = keyscope.KeyStore.open(location, argon2=CHEAP, issuer=issuer, **options)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.store, issuer

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
        server.store.close()


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


def fetch_token(issuer, key_id, secret, scope=None):
    form = "grant_type=client_credentials" + (f"&scope={scope}" if scope else "")
    req = urllib.request.Request(
        issuer + "/auth/v2/token", data=form.encode(), method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode(),
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        doc = json.loads(r.read())
    assert doc["token_type"] == "Bearer"
    return doc["access_token"]


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def pyjwt_verify(issuer, token, alg):
    """PyJWT as a resource server uses it: the key from the JWK Set URL (a fresh
    client: no cached set), the algorithm pinned, issuer and audience required."""
    client = jwt.PyJWKClient(issuer + "/.well-known/jwks.json", cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=[alg], audience=issuer, issuer=issuer,
                      options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})


class Validator(JWTBearerTokenValidator):
    """authlib's RFC 9068 validator, with the JWK Set found through the RFC 8414
    metadata of the issuer."""

    def get_jwks(self):
        meta = get_json(self.issuer + "/.well-known/oauth-authorization-server")
        assert meta["issuer"] == self.issuer
        return KeySet.import_key_set(get_json(meta["jwks_uri"]))


class PinnedValidator(Validator):
    """The same validator with the algorithm list passed explicitly. authlib's own
    ``authenticate_token`` calls ``joserfc.jwt.decode`` without one, and joserfc then
    takes only the algorithms it recommends; EdDSA is not one of them (RFC 9864
    deprecates the polymorphic "EdDSA" name for "Ed25519"), so authlib/joserfc
    accept an EdDSA token only when told so. Claims are checked by authlib's own
    ``JWTAccessTokenClaims``, with the options of its ``authenticate_token``."""

    def __init__(self, issuer, resource_server, algorithms):
        super().__init__(issuer, resource_server)
        self.algorithms = algorithms

    def authenticate_token(self, token_string):
        try:
            with warnings.catch_warnings():
                # joserfc warns that EdDSA is deprecated (RFC 9864) each time it is used.
                warnings.simplefilter("ignore", SecurityWarning)
                token = joserfc_jwt.decode(token_string, self.get_jwks(), algorithms=self.algorithms)
        except JoseError as exc:
            raise InvalidTokenError(realm=self.realm, extra_attributes=self.extra_attributes) from exc
        essential = {"essential": True}
        options = {"iss": {"essential": True, "validate": self.validate_iss}, "exp": essential,
                   "aud": {"essential": True, "value": self.resource_server}, "sub": essential,
                   "client_id": essential, "iat": essential, "jti": essential}
        return JWTAccessTokenClaims(token.claims, token.header, options)


def authlib_verify(issuer, token, alg, scope="reports:read"):
    validators = [PinnedValidator(issuer, issuer, [alg])]
    if alg != "EdDSA":
        validators.append(Validator(issuer, issuer))  # authlib exactly as shipped
    for v in validators:
        claims = v.authenticate_token(token)
        v.validate_token(claims, [scope], None)  # typ at+jwt, iss, aud, exp, iat, scope
        assert claims["iss"] == issuer
    return claims


@pytest.mark.parametrize("alg", ALGS)
def test_pyjwt_and_authlib_verify_tokens_from_the_token_endpoint(serve, alg):
    store, issuer = serve(token_alg=alg)
    key, secret = store.create_key("svc", grants=["reports:read", "deployments.networks:write"])
    token = fetch_token(issuer, key.id, secret)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg and header["typ"] == "at+jwt"

    claims = pyjwt_verify(issuer, token, alg)
    assert claims["sub"] == claims["client_id"] == key.id
    assert claims["iss"] == claims["aud"] == issuer
    assert sorted(claims["scope"].split(" ")) == ["deployments.networks:write", "reports:read"]

    claims = authlib_verify(issuer, token, alg)
    assert claims["sub"] == key.id

    # A narrowed token carries only its scope, and authlib enforces it.
    narrow = fetch_token(issuer, key.id, secret, scope="reports:read")
    assert pyjwt_verify(issuer, narrow, alg)["scope"] == "reports:read"
    v = PinnedValidator(issuer, issuer, [alg])
    with pytest.raises(InsufficientScopeError):
        v.validate_token(v.authenticate_token(narrow), ["deployments.networks:write"], None)

    # Another audience, or a signature that does not match, is refused by both.
    with pytest.raises(jwt.InvalidAudienceError):
        client = jwt.PyJWKClient(issuer + "/.well-known/jwks.json")
        jwt.decode(token, client.get_signing_key_from_jwt(token).key, algorithms=[alg],
                   audience="https://other.example.com", issuer=issuer)
    head, body, sig = token.split(".")
    forged = ".".join([head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_verify(issuer, forged, alg)
    for v in [PinnedValidator(issuer, issuer, [alg])] + ([Validator(issuer, issuer)] if alg != "EdDSA" else []):
        with pytest.raises(InvalidTokenError):
            v.authenticate_token(forged)


@pytest.mark.parametrize("alg", ALGS)
def test_tokens_verify_across_a_rotation(serve, alg):
    store, issuer = serve(token_alg=alg)
    key, secret = store.create_key("svc", grants=["reports:read"])
    old_token = fetch_token(issuer, key.id, secret)

    # The set a verifier fetched before the rotation already holds the next key.
    before = get_json(issuer + "/.well-known/jwks.json")
    next_kid = next(k.kid for k in store.signing_keys() if k.state == "next")
    assert {k["kid"] for k in before["keys"]} == {kid_of(old_token), next_kid}

    current = store.rotate_signing_key()
    assert current.kid == next_kid
    new_token = fetch_token(issuer, key.id, secret)
    assert kid_of(new_token) == next_kid

    # Verified with the set fetched before the rotation: no refetch was needed.
    old_set = jwt.PyJWKSet.from_dict(before)
    assert jwt.decode(new_token, old_set[next_kid].key, algorithms=[alg], audience=issuer,
                      issuer=issuer)["sub"] == key.id
    # The token signed before the rotation still verifies after it (fresh clients).
    for token in (old_token, new_token):
        assert pyjwt_verify(issuer, token, alg)["sub"] == key.id
        assert authlib_verify(issuer, token, alg)["sub"] == key.id
        assert store.authorize(token, "reports").key_id == key.id

    # Retired at once, the old key leaves the set and its token stops verifying.
    store.retire_signing_key(kid_of(old_token), immediately=True)
    kids = {k["kid"] for k in get_json(issuer + "/.well-known/jwks.json")["keys"]}
    assert kid_of(old_token) not in kids and next_kid in kids
    with pytest.raises(jwt.PyJWKClientError):
        pyjwt_verify(issuer, old_token, alg)
    assert pyjwt_verify(issuer, new_token, alg)["sub"] == key.id
