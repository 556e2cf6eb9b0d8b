"""FastAPI / Starlette helpers (optional: needs ``starlette``, which FastAPI brings).

``require(store, resource, permission)`` is a FastAPI dependency that authorizes the
request's ``Authorization: Bearer`` header and returns the :class:`keyscope.Principal`,
or answers 401/403 with the RFC 6750 ``WWW-Authenticate`` challenge.
``token_route(store)`` is an async handler for ``POST /auth/v2/token`` that runs the
exchange (Argon2) in a worker thread, off the event loop::

    app = FastAPI()
    app.add_api_route("/auth/v2/token", token_route(store), methods=["POST"])

    @app.get("/reports")
    def reports(p: Principal = Depends(require(store, "reports", "read"))): ...
"""

from __future__ import annotations

from typing import Awaitable, Callable, Literal, Optional, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from keyscope._keyscope import KeyStore, Principal
from keyscope.errors import KeyscopeError

__all__ = ["require", "token_route", "client_ip"]


def client_ip(store: KeyStore, request: Request) -> Optional[str]:
    """The client address of ``request``, trusting ``X-Forwarded-For`` only from the
    store's ``trusted_proxies``."""
    if request.client is None:
        return None
    forwarded: Sequence[str] = request.headers.getlist("x-forwarded-for")
    return store.client_address(request.client.host, list(forwarded))


def require(
    store: KeyStore, resource: str, permission: Literal["read", "write"] = "read"
) -> Callable[[Request], Principal]:
    """A dependency that authorizes the request for ``permission`` on ``resource``."""

    def dependency(request: Request) -> Principal:
        try:
            return store.authorize_header(
                request.headers.get("authorization"), resource, permission, client_ip(store, request)
            )
        except KeyscopeError as e:
            headers = {"WWW-Authenticate": e.www_authenticate} if e.www_authenticate else None
            raise HTTPException(status_code=e.status or 500, detail=e.code, headers=headers) from None

    return dependency


def token_route(store: KeyStore) -> Callable[[Request], Awaitable[Response]]:
    """An async handler for the OAuth 2.0 token endpoint (client credentials)."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        status, headers, text = await run_in_threadpool(
            store.token_endpoint,
            request.headers.get("authorization"),
            request.headers.get("content-type"),
            body,
            client_ip(store, request),
        )
        return Response(content=text, status_code=status, headers=dict(headers))

    return endpoint
