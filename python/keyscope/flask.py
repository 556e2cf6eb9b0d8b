"""Flask helpers (optional: needs ``flask``).

``require(store, resource, permission)`` decorates a view: it authorizes the request's
``Authorization: Bearer`` header, puts the :class:`keyscope.Principal` on
``flask.g.keyscope``, or answers 401/403 with the RFC 6750 challenge.
``token_view(store)`` is a view for ``POST /auth/v2/token``::

    app.add_url_rule("/auth/v2/token", view_func=token_view(store), methods=["POST"])

    @app.get("/reports")
    @require(store, "reports", "read")
    def reports(): return {"caller": g.keyscope.key_name}
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Literal, Optional, TypeVar

from flask import Response, g, request

from keyscope._keyscope import KeyStore
from keyscope.errors import KeyscopeError

__all__ = ["require", "token_view", "client_ip"]

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
