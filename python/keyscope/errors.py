"""The keyscope exceptions: one class per stable error code (docs/errors.md).

Every exception raised by keyscope is a :class:`KeyscopeError` with a ``code``
attribute (``"not_found"``, ...). :class:`InvalidInput` is also a ``ValueError`` and
:class:`NotFound` also a ``LookupError``, so generic handlers keep working.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "KeyscopeError", "InvalidInput", "NotFound", "Conflict", "InvalidCredentials",
    "KeyDisabled", "KeyExpired", "NetworkDenied", "InvalidScope", "RateLimited",
    "InvalidToken", "TokenExpired", "TokenRevoked", "InsufficientScope", "StorageError",
    "InternalError", "BY_CODE",
]


class KeyscopeError(Exception):
    """Base class of every keyscope error.

    Attributes:
        code: the stable error code, the same in every language.
        message: a readable explanation.
        field: for ``invalid_input``, the argument at fault (``"networks[2]"``).
        status: for errors of ``authorize_header``, the HTTP status to answer with.
        www_authenticate: for errors of ``authorize_header``, the
            ``WWW-Authenticate`` header to send (None when there is none).
        retry_after: for ``rate_limited``, seconds before another attempt.
        required_scope: for ``insufficient_scope``, the grant that was needed.
    """

    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        field: Optional[str] = None,
        status: Optional[int] = None,
        www_authenticate: Optional[str] = None,
        retry_after: Optional[int] = None,
        required_scope: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.www_authenticate = www_authenticate
        self.retry_after = retry_after
        self.required_scope = required_scope

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidInput(KeyscopeError, ValueError):
    """An argument breaks a rule; ``field`` names it and the message says why."""

    code = "invalid_input"


class NotFound(KeyscopeError, LookupError):
    """No key with that id (in this organization)."""

    code = "not_found"


class Conflict(KeyscopeError):
    """A stale ``expected_version``, or a duplicate name."""

    code = "conflict"


class InvalidCredentials(KeyscopeError):
    """Unknown key id, malformed or wrong secret."""

    code = "invalid_credentials"


class KeyDisabled(KeyscopeError):
    """The key is disabled."""

    code = "key_disabled"


class KeyExpired(KeyscopeError):
    """The key is past its expiry."""

    code = "key_expired"


class NetworkDenied(KeyscopeError):
    """The client address is outside the key's networks."""

    code = "network_denied"


class InvalidScope(KeyscopeError):
    """A token exchange asked for scopes the key lacks."""

    code = "invalid_scope"


class RateLimited(KeyscopeError):
    """Too many failed exchanges for this key just now."""

    code = "rate_limited"


class InvalidToken(KeyscopeError):
    """The access token is malformed, badly signed or not for this service."""

    code = "invalid_token"


class TokenExpired(KeyscopeError):
    """The access token is past its expiry."""

    code = "token_expired"


class TokenRevoked(KeyscopeError):
    """The access token was revoked (key deleted, refreshed or disabled)."""

    code = "token_revoked"


class InsufficientScope(KeyscopeError):
    """The token or the key lacks the permission."""

    code = "insufficient_scope"


class StorageError(KeyscopeError):
    """The database failed, stayed locked, is newer than this build, or is closed."""

    code = "storage"


class InternalError(KeyscopeError):
    """A bug in keyscope."""

    code = "internal"


BY_CODE: Dict[str, Type[KeyscopeError]] = {
    cls.code: cls
    for cls in (
        InvalidInput, NotFound, Conflict, InvalidCredentials, KeyDisabled, KeyExpired,
        NetworkDenied, InvalidScope, RateLimited, InvalidToken, TokenExpired, TokenRevoked,
        InsufficientScope, StorageError, InternalError,
    )
}
"""Exception class by error code."""
