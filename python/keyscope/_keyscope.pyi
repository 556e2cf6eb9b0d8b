"""Type stubs of the native module ``keyscope._keyscope`` (checked by mypy.stubtest)."""

import os
from datetime import datetime, timedelta
from typing import (
    Any, Dict, Generic, Iterable, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple, TypeVar, Union, final,
)

from keyscope.errors import KeyscopeError

__all__ = [
    "ApiKey", "AuditRecord", "KeyStore", "Page", "Summary", "Token", "Principal", "SigningKey", "parse_networks",
    "secret_is_well_formed", "migrate", "error_codes", "_exception_for_code", "__version__", "MAX_BODY_BYTES",
]

__version__: str
MAX_BODY_BYTES: int
"""The largest request body ``KeyStore.handle_http`` reads (64 KiB): a longer one is 413."""

_T = TypeVar("_T")
_Seconds = Union[int, float, timedelta]
"""A duration: seconds as a number, or a ``timedelta``."""
_Status = Literal["all", "active", "expired", "expiring", "disabled"]
_Alg = Literal["ES256", "EdDSA", "RS256", "HS256"]
_HeaderText = Union[str, bytes]
_Headers = Union[Iterable[Tuple[_HeaderText, _HeaderText]], Mapping[str, str]]
"""Request headers: ``(name, value)`` pairs of ``str`` or ``bytes`` (bytes read as ISO-8859-1), or a mapping."""
_Body = Union[bytes, bytearray, memoryview, None]

@final
class ApiKey:
    """An API key. The secret is never part of it."""

    @property
    def id(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> Optional[str]: ...
    @property
    def expires_at(self) -> Optional[datetime]: ...
    @property
    def grants(self) -> List[str]: ...
    @property
    def networks(self) -> List[str]: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def status(self) -> Literal["active", "expired", "disabled"]: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def last_refreshed_at(self) -> Optional[datetime]: ...
    @property
    def last_used_at(self) -> Optional[datetime]: ...

@final
class AuditRecord:
    """One audit record: who did what to which key, and which fields changed."""

    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> Optional[str]: ...
    @property
    def action(
        self,
    ) -> Literal["create", "update", "refresh", "delete", "signing_key_rotated", "signing_key_retired"]: ...
    @property
    def key_id(self) -> str: ...
    @property
    def key_name(self) -> str: ...
    @property
    def changes(self) -> List[str]: ...

@final
class Page(Generic[_T]):
    """One page of a listing."""

    @property
    def items(self) -> List[_T]: ...
    @property
    def next_cursor(self) -> Optional[str]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[_T]: ...

@final
class Summary:
    """The counts behind the key list's expired and expiring markers."""

    @property
    def total(self) -> int: ...
    @property
    def active(self) -> int: ...
    @property
    def expired(self) -> int: ...
    @property
    def expiring_soon(self) -> int: ...
    @property
    def never_expires(self) -> int: ...
    @property
    def disabled(self) -> int: ...

@final
class Token:
    """An access token from ``issue_token``; its repr shows only the token's start."""

    @property
    def access_token(self) -> str: ...
    @property
    def token_type(self) -> Literal["Bearer"]: ...
    @property
    def expires_in(self) -> int: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def scope(self) -> str: ...

@final
class Principal:
    """Who made an authorized request."""

    @property
    def key_id(self) -> str: ...
    @property
    def key_name(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def scope(self) -> List[str]: ...
    @property
    def token_id(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...

@final
class SigningKey:
    """A token signing key of the store (never its private half)."""

    @property
    def kid(self) -> str: ...
    @property
    def alg(self) -> _Alg: ...
    @property
    def state(self) -> Literal["next", "current", "retired"]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def retired_at(self) -> Optional[datetime]: ...
    @property
    def public_jwk(self) -> Optional[Dict[str, Any]]: ...

@final
class KeyStore:
    """A handle on a keyscope store, or a view of it limited to one organization."""

    @staticmethod
    def open(path: Union[str, os.PathLike[str]], **options: Any) -> KeyStore: ...
    @property
    def org_name(self) -> str: ...
    def org(self, name: str) -> KeyStore: ...
    def create_key(
        self,
        name: str,
        grants: Sequence[str],
        *,
        description: Optional[str] = None,
        expires_at: Optional[datetime] = None,
        networks: Optional[Sequence[str]] = None,
        enabled: bool = True,
        actor: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> Tuple[ApiKey, str]: ...
    def get_key(self, id: str, *, now: Optional[datetime] = None) -> ApiKey: ...
    def list_keys(
        self,
        status: _Status = "all",
        search: Optional[str] = None,
        limit: int = 50,
        cursor: Optional[str] = None,
        *,
        within: Optional[_Seconds] = None,
        now: Optional[datetime] = None,
    ) -> Page[ApiKey]: ...
    def update_key(
        self,
        id: str,
        *,
        name: str = ...,
        description: Optional[str] = ...,
        expires_at: Optional[datetime] = ...,
        grants: Sequence[str] = ...,
        networks: Sequence[str] = ...,
        enabled: bool = ...,
        expected_version: Optional[int] = None,
        actor: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> ApiKey: ...
    def refresh_key(
        self,
        id: str,
        grace: Optional[_Seconds] = None,
        *,
        actor: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> Tuple[ApiKey, str]: ...
    def delete_key(self, id: str, *, actor: Optional[str] = None, now: Optional[datetime] = None) -> None: ...
    def summary(self, within: Optional[_Seconds] = None, now: Optional[datetime] = None) -> Summary: ...
    def audit_log(
        self, key_id: Optional[str] = None, limit: int = 50, cursor: Optional[str] = None
    ) -> Page[AuditRecord]: ...
    def parse_networks(self, text_: str) -> List[str]: ...
    def issue_token(
        self,
        key_id: str,
        secret: str,
        client_ip: Optional[str] = None,
        scope: Optional[str] = None,
        *,
        now: Optional[datetime] = None,
    ) -> Token: ...
    def authorize(
        self,
        token: str,
        resource: str,
        permission: Literal["read", "write"] = "read",
        client_ip: Optional[str] = None,
        *,
        now: Optional[datetime] = None,
    ) -> Principal: ...
    def token_endpoint(
        self,
        authorization: Optional[str],
        content_type: Optional[str],
        body: Union[bytes, str, None],
        client_ip: Optional[str],
        *,
        now: Optional[datetime] = None,
    ) -> Tuple[int, List[Tuple[str, str]], str]: ...
    def authorize_header(
        self,
        authorization: Optional[str],
        resource: str,
        permission: Literal["read", "write"] = "read",
        client_ip: Optional[str] = None,
        *,
        now: Optional[datetime] = None,
    ) -> Principal: ...
    def client_address(
        self, peer: str, x_forwarded_for: Union[str, Sequence[str], None] = None
    ) -> Optional[str]: ...
    def handle_http(
        self,
        method: str,
        path: str,
        headers: _Headers,
        body: _Body,
        client_ip: Optional[str] = None,
        *,
        now: Optional[datetime] = None,
    ) -> Tuple[int, List[Tuple[str, str]], bytes]: ...
    def jwks(self, now: Optional[datetime] = None) -> str: ...
    def metadata(self) -> str: ...
    def revoke_token(self, token: str, now: Optional[datetime] = None) -> bool: ...
    def signing_keys(self, now: Optional[datetime] = None) -> List[SigningKey]: ...
    def rotate_signing_key(
        self, alg: Optional[_Alg] = None, *, actor: Optional[str] = None, now: Optional[datetime] = None
    ) -> SigningKey: ...
    def retire_signing_key(
        self, kid: str, immediately: bool = False, *, actor: Optional[str] = None, now: Optional[datetime] = None
    ) -> None: ...
    def clear_caches(self) -> None: ...
    def close(self) -> None:
        """Closes the store and its views; on a view, detaches only that view."""
    def __enter__(self) -> KeyStore: ...
    def __exit__(self, *_args: object) -> Literal[False]: ...

def parse_networks(text: str, *, allow_private_networks: bool = False) -> List[str]: ...
def secret_is_well_formed(secret: str, prefix: str = "kss") -> bool: ...
def migrate(source: str, dest: str, *, source_schema: Optional[str] = None,
            dest_schema: Optional[str] = None) -> Dict[str, int]: ...
def error_codes() -> List[str]: ...
def _exception_for_code(code: str, message: str) -> KeyscopeError: ...
