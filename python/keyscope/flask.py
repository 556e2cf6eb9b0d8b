"""Flask helpers (optional: needs ``flask``).

``blueprint(store)`` serves every keyscope route (token, metadata, JWK Set,
introspection, revocation, health: see ``KeyStore.handle_http``) on one catch-all
rule; the application's own rules, being more specific, still win::

    app.register_blueprint(blueprint(store))

``require(store, resource, permission)`` decorates a view: it authorizes the request's
``Authorization: Bearer`` header, puts the :class:`keyscope.Principal` on
``flask.g.keyscope``, or answers 401/403 with the RFC 6750 challenge.
``token_view(store)`` is a view for ``POST /auth/v2/token`` alone::

    app.add_url_rule("/auth/v2/token", view_func=token_view(store), methods=["POST"])

    @app.get("/reports")
    @require(store, "reports", "read")
    def reports(): return {"caller": g.keyscope.key_name}
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Literal, Optional, TypeVar

from flask import Blueprint, Response, g, request

from keyscope._keyscope import MAX_BODY_BYTES, KeyStore
from keyscope.errors import KeyscopeError

__all__ = ["require", "token_view", "client_ip", "http_view", "blueprint"]

#: Every method the catch-all rule takes, so that the store (not Flask) answers 405.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]

F = TypeVar("F", bound=Callable[..., Any])


def client_ip(store: KeyStore) -> Optional[str]:
    """The current request's client address, trusting ``X-Forwarded-For`` only from
    the store's ``trusted_proxies``."""
    if not request.remote_addr:
        return None
    return store.client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"))


def require(store: KeyStore, resource: str, permission: Literal["read", "write"] = "read") -> Callable[[F], F]:
    """Authorizes the request for ``permission`` on ``resource`` before the view runs."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                g.keyscope = store.authorize_header(
                    request.headers.get("Authorization"), resource, permission, client_ip(store)
                )
            except KeyscopeError as e:
                headers = {"WWW-Authenticate": e.www_authenticate} if e.www_authenticate else {}
                return Response(json.dumps({"error": e.code}), status=e.status or 500,
                                headers=headers, mimetype="application/json")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def token_view(store: KeyStore) -> Callable[[], Response]:
    """A view for the OAuth 2.0 token endpoint (client credentials)."""

    def view() -> Response:
        status, headers, body = store.token_endpoint(
            request.headers.get("Authorization"), request.headers.get("Content-Type"),
            request.get_data(), client_ip(store))
        return Response(body, status=status, headers=headers)

    return view


class _Verbatim(Response):
    """A response that adds no Content-Type of its own: the store's headers go out as
    they are (Werkzeug adds Content-Length only)."""

    default_mimetype = None


def _read_body() -> bytearray:
    """The request body, read from the stream and no further than one byte past
    ``MAX_BODY_BYTES``: the store then answers 413 itself, and a huge body is never
    buffered whole."""
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES:
        chunk = request.stream.read(MAX_BODY_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return body


def http_view(store: KeyStore) -> Callable[..., Response]:
    """A view that answers any request with ``store.handle_http``: method, path and
    query, the headers, the peer address and the body (read with the size limit) go
    to the store; its status, headers and body come back unchanged."""

    def view(**_path: Any) -> Response:
        body = _read_body()
        target = request.script_root + request.path
        if request.query_string:
            target += "?" + request.query_string.decode("latin-1")
        try:
            status, headers, content = store.handle_http(
                request.method, target, list(request.headers.items()), body, request.remote_addr)
        finally:
            body[:] = bytes(len(body))  # the form may hold a client secret
        return _Verbatim(content, status=status, headers=headers)

    return view


def blueprint(store: KeyStore, name: str = "keyscope") -> Blueprint:
    """A blueprint with one catch-all rule (every path, every method in ``METHODS``)
    served by ``http_view(store)``. Register it without a ``url_prefix``: the store
    routes by the full path, relative to its issuer's path."""
    bp = Blueprint(name, __name__)
    view = http_view(store)
    for rule in ("/", "/<path:keyscope_path>"):
        bp.add_url_rule(rule, endpoint="handle_http", view_func=view, methods=METHODS,
                        provide_automatic_options=False)
    return bp
