"""FastAPI / Starlette helpers (optional: needs ``starlette``, which FastAPI brings).

``mount(app, store)`` serves every keyscope route (token, metadata, JWK Set,
introspection, revocation, health: see ``KeyStore.handle_http``) on one catch-all
route, added last so that the application's own routes come first::

    app = FastAPI()

    @app.get("/reports")
    def reports(p: Principal = Depends(require(store, "reports", "read"))): ...

    mount(app, store)

``require(store, resource, permission)`` is a FastAPI dependency that authorizes the
request's ``Authorization: Bearer`` header and returns the :class:`keyscope.Principal`,
or answers 401/403 with the RFC 6750 ``WWW-Authenticate`` challenge.
``token_route(store)`` is an async handler for ``POST /auth/v2/token`` alone that runs
the exchange (Argon2) in a worker thread, off the event loop::

    app.add_api_route("/auth/v2/token", token_route(store), methods=["POST"])
"""

from __future__ import annotations

from typing import Awaitable, Callable, Literal, Optional, Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from keyscope._keyscope import MAX_BODY_BYTES, KeyStore, Principal
from keyscope.errors import KeyscopeError

__all__ = ["require", "token_route", "client_ip", "http_endpoint", "mount"]


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


async def _read_body(request: Request) -> bytearray:
    """The request body, read as it streams in and no further than one byte past
    ``MAX_BODY_BYTES``: the store then answers 413 itself, and a huge body is never
    buffered whole."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk[: MAX_BODY_BYTES + 1 - len(body)]
        if len(body) > MAX_BODY_BYTES:
            break
    return body


def http_endpoint(store: KeyStore) -> Callable[[Request], Awaitable[Response]]:
    """An async handler that answers any request with ``store.handle_http``: method,
    path and query, the raw headers, the peer address and the body (read with the
    size limit) go to the store, run in a worker thread off the event loop; its
    status, headers and body come back unchanged."""

    async def endpoint(request: Request) -> Response:
        body = await _read_body(request)
        target = request.url.path + ("?" + request.url.query if request.url.query else "")
        try:
            status, headers, content = await run_in_threadpool(
                store.handle_http, request.method, target, request.headers.raw, body,
                request.client.host if request.client else None,
            )
        finally:
            body[:] = bytes(len(body))  # the form may hold a client secret
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return Response(content=content, status_code=status, headers=Headers(raw=raw))

    return endpoint


class _AnyMethod:
    """``http_endpoint`` as an ASGI app: Starlette routes every method to an ASGI app
    (a plain function would get GET alone), so the store answers 405 itself."""

    def __init__(self, store: KeyStore) -> None:
        self.endpoint = http_endpoint(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


def mount(app: Starlette, store: KeyStore, path: str = "/{keyscope_path:path}") -> None:
    """Adds one route, for every path and every method, answered by
    ``store.handle_http``. Add it after the application's own routes: it also
    answers every path they do not (with keyscope's 404 and 405)."""
    app.router.routes.append(Route(path, _AnyMethod(store), include_in_schema=False))
