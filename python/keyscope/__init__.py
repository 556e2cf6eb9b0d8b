"""keyscope: API keys with scoped grants, network restrictions and short-lived tokens.

One Rust core does the work; this package is its native Python binding. Stores are
SQLite files shared with keyscope's Node and C bindings::

    import keyscope

    with keyscope.KeyStore.open("keys.db", catalog="secure_access") as store:
        key, secret = store.create_key("ci-deployer", grants=["reports:read"])
"""

from keyscope._keyscope import (
    ApiKey,
    AuditRecord,
    KeyStore,
    Page,
    Principal,
    SigningKey,
    Summary,
    Token,
    __version__,
    migrate,
    parse_networks,
    secret_is_well_formed,
)
from keyscope.errors import (
    Conflict,
    InsufficientScope,
    InternalError,
    InvalidCredentials,
    InvalidInput,
    InvalidScope,
    InvalidToken,
    KeyDisabled,
    KeyExpired,
    KeyscopeError,
    NetworkDenied,
    NotFound,
    RateLimited,
    StorageError,
    TokenExpired,
    TokenRevoked,
)

__all__ = [
    "ApiKey", "AuditRecord", "KeyStore", "Page", "Principal", "SigningKey", "Summary", "Token", "parse_networks",
    "secret_is_well_formed",
    "migrate", "__version__",
    "KeyscopeError", "InvalidInput", "NotFound", "Conflict", "InvalidCredentials",
    "KeyDisabled", "KeyExpired", "NetworkDenied", "InvalidScope", "RateLimited",
    "InvalidToken", "TokenExpired", "TokenRevoked", "InsufficientScope", "StorageError",
    "InternalError",
]
