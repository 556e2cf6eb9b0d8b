//! `keyscope.KeyStore`: the store handle and its org views. SQLite and Argon2 work
//! runs with the GIL released.

use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::{self as core, KeyUpdate, ListQuery, NewKey, Permission, Secret, StatusFilter};
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::convert::{duration_ms, instant, opt_instant, opt_text, text, texts};
use crate::errors::{IntoPyResult, invalid};
use crate::http;
use crate::key::{ApiKey, AuditRecord, Page, Summary};
use crate::options;
use crate::signing::SigningKey;
use crate::token::{Principal, Token};
use zeroize::Zeroizing;

/// `(status, [(header, value)], body)` of an HTTP helper.
type HttpAnswer = (u16, Vec<(String, String)>, String);

/// `(status, [(header, value)], body bytes)` of `handle_http`.
type HttpReply<'py> = (u16, Vec<(String, String)>, Bound<'py, PyBytes>);

/// An `update_key` argument that distinguishes "omitted" from an explicit `None`.
pub enum Arg<'py> {
    /// Not passed: leave the field unchanged.
    Unset,
    /// Passed, possibly as `None`.
    Value(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Arg<'py> {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Arg::Value(obj.to_owned()))
    }
}

impl<'py> Arg<'py> {
    /// The value, refusing `None` for fields that cannot be cleared.
    fn required(&self, py: Python<'py>, field: &str) -> PyResult<Option<&Bound<'py, PyAny>>> {
        match self {
            Arg::Unset => Ok(None),
            Arg::Value(v) if v.is_none() => Err(invalid(
                py,
                field,
                "cannot be None; omit the argument to leave it unchanged",
            )),
            Arg::Value(v) => Ok(Some(v)),
        }
    }
}

/// A handle on a keyscope store (SQLite file or `":memory:"`), or a view of it limited
/// to one organization. Use as a context manager to close it: closing the store
/// closes its views too; closing a view detaches only that view.
#[pyclass(frozen, module = "keyscope")]
pub struct KeyStore {
    handle: core::KeyStore,
    /// Set when a view is closed: the view refuses every call, the store and its
    /// other views carry on.
    detached: AtomicBool,
}

impl KeyStore {
    fn new(handle: core::KeyStore) -> Self {
        KeyStore {
            handle,
            detached: AtomicBool::new(false),
        }
    }

    /// The core handle, unless this view was closed (`StorageError`).
    fn live(&self, py: Python<'_>) -> PyResult<&core::KeyStore> {
        if self.detached.load(Ordering::Acquire) {
            return Err(core::Error::storage("this organization view is closed")).py_err(py);
        }
        Ok(&self.handle)
    }
}

fn secs_or_default(
    py: Python<'_>,
    within: Option<&Bound<'_, PyAny>>,
    field: &str,
    default_ms: i64,
) -> PyResult<i64> {
    match within {
        Some(w) if !w.is_none() => duration_ms(py, w, field),
        _ => Ok(default_ms),
    }
}

fn key_page<'py>(py: Python<'py>, page: core::Page<core::ApiKey>) -> PyResult<Page> {
    let items = PyList::empty(py);
    for k in page.items {
        items.append(Bound::new(py, ApiKey(k))?)?;
    }
    Ok(Page::new(items, page.next_cursor))
}

#[pymethods]
impl KeyStore {
    /// Opens (creating if missing) the store at `path`; `":memory:"` gives a private
    /// in-memory store. Options are keywords (see the README for the list).
    #[staticmethod]
    #[pyo3(signature = (path, **options))]
    fn open(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<KeyStore> {
        let path = py.import("os")?.call_method1("fspath", (path,))?;
        let path = text(py, &path, "path")?;
        let options = options::parse(py, options)?;
        let inner = py
            .detach(|| core::KeyStore::open(&path, options))
            .py_err(py)?;
        Ok(KeyStore::new(inner))
    }

    /// The organization this handle manages (`"default"` for the store itself).
    #[getter]
    fn org_name(&self) -> &str {
        self.handle.org_name()
    }

    /// A view limited to organization `name`, with every method of the store.
    fn org(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<KeyStore> {
        let name = text(py, name, "org")?;
        Ok(KeyStore::new(self.live(py)?.org(&name).py_err(py)?))
    }

    /// Creates a key; returns `(ApiKey, secret)`. The secret is shown only here and by
    /// `refresh_key`: store it safely.
    #[pyo3(signature = (name, grants, *, description=None, expires_at=None, networks=None, enabled=true, actor=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_key(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        grants: &Bound<'_, PyAny>,
        description: Option<&Bound<'_, PyAny>>,
        expires_at: Option<&Bound<'_, PyAny>>,
        networks: Option<&Bound<'_, PyAny>>,
        enabled: bool,
        actor: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(ApiKey, String)> {
        let inner = self.live(py)?;
        let new = NewKey {
            name: text(py, name, "name")?,
            description: opt_text(py, description, "description")?,
            expires_at: opt_instant(py, expires_at, "expires_at")?,
            grants: texts(py, grants, "grants")?,
            networks: match networks {
                Some(n) if !n.is_none() => texts(py, n, "networks")?,
                _ => Vec::new(),
            },
            enabled: Some(enabled),
            actor: opt_text(py, actor, "actor")?,
            now: opt_instant(py, now, "now")?,
        };
        let (key, secret) = py.detach(|| inner.create_key(new)).py_err(py)?;
        Ok((ApiKey(key), secret.expose().to_owned()))
    }

    /// The key with this id.
    #[pyo3(signature = (id, *, now=None))]
    fn get_key(
        &self,
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ApiKey> {
        let inner = self.live(py)?;
        let id = text(py, id, "id")?;
        let now = opt_instant(py, now, "now")?;
        Ok(ApiKey(py.detach(|| inner.get_key(&id, now)).py_err(py)?))
    }

    /// One page of keys in creation order. `status` is `"all"`, `"active"`,
    /// `"expired"`, `"expiring"` (active and expiring within `within`) or `"disabled"`.
    #[pyo3(signature = (status="all", search=None, limit=50, cursor=None, *, within=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn list_keys(
        &self,
        py: Python<'_>,
        status: &str,
        search: Option<&Bound<'_, PyAny>>,
        limit: i64,
        cursor: Option<&Bound<'_, PyAny>>,
        within: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Page> {
        let inner = self.live(py)?;
        let q = ListQuery {
            status: status.parse::<StatusFilter>().py_err(py)?,
            search: opt_text(py, search, "search")?,
            limit,
            cursor: opt_text(py, cursor, "cursor")?,
            within_ms: secs_or_default(py, within, "within", DEFAULT_WITHIN_MS)?,
            now: opt_instant(py, now, "now")?,
        };
        let page = py.detach(|| inner.list_keys(&q)).py_err(py)?;
        key_page(py, page)
    }

    /// Changes the given fields. Omitted arguments leave a field unchanged;
    /// `description=None` and `expires_at=None` clear it. Grants and networks are
    /// replaced whole. `enabled=False` revokes outstanding tokens for good.
    #[pyo3(signature = (id, *, name=Arg::Unset, description=Arg::Unset, expires_at=Arg::Unset, grants=Arg::Unset, networks=Arg::Unset, enabled=Arg::Unset, expected_version=None, actor=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn update_key<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
        name: Arg<'py>,
        description: Arg<'py>,
        expires_at: Arg<'py>,
        grants: Arg<'py>,
        networks: Arg<'py>,
        enabled: Arg<'py>,
        expected_version: Option<i64>,
        actor: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<ApiKey> {
        let inner = self.live(py)?;
        let id = text(py, id, "id")?;
        let update = KeyUpdate {
            name: name
                .required(py, "name")?
                .map(|v| text(py, v, "name"))
                .transpose()?,
            description: match &description {
                Arg::Unset => None,
                Arg::Value(v) => Some(opt_text(py, Some(v), "description")?),
            },
            expires_at: match &expires_at {
                Arg::Unset => None,
                Arg::Value(v) if v.is_none() => Some(None),
                Arg::Value(v) => Some(Some(instant(py, v, "expires_at")?)),
            },
            grants: grants
                .required(py, "grants")?
                .map(|v| texts(py, v, "grants"))
                .transpose()?,
            networks: networks
                .required(py, "networks")?
                .map(|v| texts(py, v, "networks"))
                .transpose()?,
            enabled: enabled
                .required(py, "enabled")?
                .map(|v| {
                    v.extract::<bool>()
                        .map_err(|_| invalid(py, "enabled", "must be True or False"))
                })
                .transpose()?,
            expected_version,
            actor: opt_text(py, actor, "actor")?,
            now: opt_instant(py, now, "now")?,
        };
        Ok(ApiKey(
            py.detach(|| inner.update_key(&id, update)).py_err(py)?,
        ))
    }

    /// Issues a new secret for the same key id; returns `(ApiKey, secret)`. With
    /// `grace` (seconds or timedelta, up to 7 days) the old secret keeps working until
    /// then.
    #[pyo3(signature = (id, grace=None, *, actor=None, now=None))]
    fn refresh_key(
        &self,
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        grace: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(ApiKey, String)> {
        let inner = self.live(py)?;
        let id = text(py, id, "id")?;
        let grace = secs_or_default(py, grace, "grace", 0)?;
        let actor = opt_text(py, actor, "actor")?;
        let now = opt_instant(py, now, "now")?;
        let (key, secret) = py
            .detach(|| inner.refresh_key(&id, grace, actor, now))
            .py_err(py)?;
        Ok((ApiKey(key), secret.expose().to_owned()))
    }

    /// Deletes a key; it and its tokens stop working. Its audit records are kept.
    #[pyo3(signature = (id, *, actor=None, now=None))]
    fn delete_key(
        &self,
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let inner = self.live(py)?;
        let id = text(py, id, "id")?;
        let actor = opt_text(py, actor, "actor")?;
        let now = opt_instant(py, now, "now")?;
        py.detach(|| inner.delete_key(&id, actor, now)).py_err(py)
    }

    /// Counts of this organization's keys: total, active, expired, expiring_soon
    /// (active, expiring within `within`, default 30 days), never_expires, disabled.
    #[pyo3(signature = (within=None, now=None))]
    fn summary(
        &self,
        py: Python<'_>,
        within: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Summary> {
        let inner = self.live(py)?;
        let within = secs_or_default(py, within, "within", DEFAULT_WITHIN_MS)?;
        let now = opt_instant(py, now, "now")?;
        Ok(py.detach(|| inner.summary(within, now)).py_err(py)?.into())
    }

    /// Audit records, newest first; of one key if `key_id` is given.
    #[pyo3(signature = (key_id=None, limit=50, cursor=None))]
    fn audit_log(
        &self,
        py: Python<'_>,
        key_id: Option<&Bound<'_, PyAny>>,
        limit: i64,
        cursor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Page> {
        let inner = self.live(py)?;
        let key_id = opt_text(py, key_id, "key_id")?;
        let cursor = opt_text(py, cursor, "cursor")?;
        let page = py
            .detach(|| inner.audit_log(key_id.as_deref(), limit, cursor.as_deref()))
            .py_err(py)?;
        let items = PyList::empty(py);
        for r in page.items {
            items.append(Bound::new(py, AuditRecord(r))?)?;
        }
        Ok(Page::new(items, page.next_cursor))
    }

    /// Parses the comma-separated networks an administrator types
    /// (`"64.100.10.7, 2001:4860::/32"`) with this store's rules; returns them in
    /// canonical form. A bad entry is reported by its position.
    fn parse_networks(&self, py: Python<'_>, text_: PyBackedStr) -> PyResult<Vec<String>> {
        let inner = self.live(py)?;
        let nets = inner.parse_networks(&text_).py_err(py)?;
        Ok(nets.iter().map(ToString::to_string).collect())
    }

    /// Exchanges a key id and secret for an access token (OAuth client credentials).
    /// Runs Argon2 (unless the secret was verified before) with the GIL released.
    #[pyo3(signature = (key_id, secret, client_ip=None, scope=None, *, now=None))]
    fn issue_token(
        &self,
        py: Python<'_>,
        key_id: &Bound<'_, PyAny>,
        secret: &Bound<'_, PyAny>,
        client_ip: Option<&Bound<'_, PyAny>>,
        scope: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Token> {
        let inner = self.live(py)?;
        let key_id = text(py, key_id, "key_id")?;
        let secret = Secret::new(text(py, secret, "secret")?);
        let client_ip = opt_text(py, client_ip, "client_ip")?;
        let scope = opt_text(py, scope, "scope")?;
        let now = opt_instant(py, now, "now")?;
        let tok = py
            .detach(|| {
                inner.issue_token(
                    &key_id,
                    &secret,
                    client_ip.as_deref(),
                    scope.as_deref(),
                    now,
                )
            })
            .py_err(py)?;
        Ok(Token(tok))
    }

    /// Authorizes a request bearing `token` for `permission` (`"read"` or `"write"`)
    /// on `resource` (`scope` or `scope.resource`) from `client_ip`. Returns the
    /// Principal or raises the error of the first check that fails.
    #[pyo3(signature = (token, resource, permission="read", client_ip=None, *, now=None))]
    fn authorize(
        &self,
        py: Python<'_>,
        token: &str,
        resource: &str,
        permission: &str,
        client_ip: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Principal> {
        let inner = self.live(py)?;
        let permission = permission.parse::<Permission>().py_err(py)?;
        let now = opt_instant(py, now, "now")?;
        // From memory with the GIL held (the common case, well under a microsecond);
        // when the store must be read, without it, so other threads run meanwhile.
        let p = match inner
            .try_authorize_in_memory(token, resource, permission, client_ip, now)
            .py_err(py)?
        {
            Some(p) => p,
            None => py
                .detach(|| inner.authorize(token, resource, permission, client_ip, now))
                .py_err(py)?,
        };
        Ok(Principal(p))
    }

    /// The OAuth 2.0 token endpoint: returns `(status, headers, body)` with headers a
    /// list of `(name, value)` pairs and body JSON text. Never raises for a bad
    /// request: the answer says what was wrong.
    #[pyo3(signature = (authorization, content_type, body, client_ip, *, now=None))]
    fn token_endpoint(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        content_type: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        client_ip: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<HttpAnswer> {
        let inner = self.live(py)?;
        let authorization = opt_text(py, authorization, "authorization")?;
        let content_type = opt_text(py, content_type, "content_type")?;
        let body: Vec<u8> = if let Ok(b) = body.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else if body.is_none() {
            Vec::new()
        } else {
            text(py, body, "body")?.into_bytes()
        };
        let client_ip = opt_text(py, client_ip, "client_ip")?;
        let now = opt_instant(py, now, "now")?;
        let r = py.detach(|| {
            inner.token_endpoint(
                authorization.as_deref(),
                content_type.as_deref(),
                &body,
                client_ip.as_deref(),
                now,
            )
        });
        Ok((r.status, r.headers, r.body))
    }

    /// Authorizes a request from its `Authorization` header (`Bearer <token>`). Errors
    /// carry `status` and `www_authenticate` to answer the request with.
    #[pyo3(signature = (authorization, resource, permission="read", client_ip=None, *, now=None))]
    fn authorize_header(
        &self,
        py: Python<'_>,
        authorization: Option<&str>,
        resource: &str,
        permission: &str,
        client_ip: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Principal> {
        let inner = self.live(py)?;
        let permission = keyscope_core::http::header_permission(permission).py_err(py)?;
        let now = opt_instant(py, now, "now")?;
        // It may read the store: never with the GIL held.
        let p = py
            .detach(|| inner.authorize_header(authorization, resource, permission, client_ip, now))
            .py_err(py)?;
        Ok(Principal(p))
    }

    /// The client's address: `peer`, unless it is one of the store's
    /// `trusted_proxies`; then `X-Forwarded-For` (one header value or a list of them,
    /// in order) is read right to left. None when a malformed entry is met.
    #[pyo3(signature = (peer, x_forwarded_for=None))]
    fn client_address(
        &self,
        py: Python<'_>,
        peer: &str,
        x_forwarded_for: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<String>> {
        let inner = self.live(py)?;
        let headers: Vec<String> = match x_forwarded_for {
            None => Vec::new(),
            Some(v) if v.is_none() => Vec::new(),
            Some(v) if v.is_instance_of::<PyString>() => vec![text(py, v, "x_forwarded_for")?],
            Some(v) => texts(py, v, "x_forwarded_for")?,
        };
        let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        Ok(inner.client_address(peer, &refs).map(|ip| ip.to_string()))
    }

    /// Serves one HTTP request with every route keyscope answers: `POST
    /// /auth/v2/token`, `GET /.well-known/oauth-authorization-server` (with an https
    /// issuer, or http on a loopback host), `GET /.well-known/jwks.json`, `POST
    /// /auth/v2/introspect`, `POST /auth/v2/revoke` and `GET /healthz`, relative to the
    /// issuer's path. Mount it on one catch-all route of any server or framework
    /// (`keyscope.fastapi.mount`, `keyscope.flask.blueprint`).
    ///
    /// `headers` are `(name, value)` pairs (or a mapping) of `str` or `bytes`, names in
    /// any case, a name may repeat; bytes are read as ISO-8859-1, as WSGI and ASGI
    /// do, so Starlette's `request.headers.raw` goes in as it is. `body` is bytes (a
    /// bytearray or memoryview is copied once and the copy wiped after); `client_ip`
    /// is the connection's peer address (`X-Forwarded-For` counts only from
    /// `trusted_proxies`).
    ///
    /// Returns `(status, headers, body)`: headers a list of `(str, str)` and body the
    /// bytes to send, unchanged. Never raises for a bad request: an unknown path is
    /// 404, a known one with another method 405 with `Allow`, a body over 64 KiB 413.
    /// Runs with the GIL released (the token route may run Argon2).
    #[pyo3(signature = (method, path, headers, body, client_ip=None, *, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn handle_http<'py>(
        &self,
        py: Python<'py>,
        method: &Bound<'py, PyAny>,
        path: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
        client_ip: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<HttpReply<'py>> {
        let inner = self.live(py)?;
        let method = http::borrowed_str(py, method, "method")?;
        let path = http::borrowed_str(py, path, "path")?;
        let header_objects = http::header_objects(py, headers)?;
        let header_texts = http::header_texts(py, &header_objects)?;
        let pairs: Vec<(&str, &str)> = header_texts
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = http::body(py, body)?;
        let client_ip = opt_text(py, client_ip, "client_ip")?;
        let now = opt_instant(py, now, "now")?;
        let request = core::HttpRequest {
            method,
            path,
            headers: &pairs,
            body: body.as_bytes(),
            client_ip: client_ip.as_deref(),
            now,
        };
        let r = py.detach(|| inner.handle_http(&request));
        // The answer may carry an access token: wipe core's copy once Python has its own.
        let answer = Zeroizing::new(r.body);
        Ok((r.status, r.headers, PyBytes::new(py, answer.as_bytes())))
    }

    /// The JWK Set (RFC 7517) of the public keys that verify this store's tokens, as
    /// JSON text: what `GET /.well-known/jwks.json` serves. `{"keys": []}` when every
    /// key is HS256 (secrets are never published).
    #[pyo3(signature = (now=None))]
    fn jwks(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let inner = self.live(py)?;
        let now = opt_instant(py, now, "now")?;
        py.detach(|| inner.jwks(now)).py_err(py)
    }

    /// The RFC 8414 authorization-server metadata, as JSON text. `InvalidInput` unless
    /// the issuer is an https URL (or http on a loopback host).
    fn metadata(&self, py: Python<'_>) -> PyResult<String> {
        let inner = self.live(py)?;
        py.detach(|| inner.metadata()).py_err(py)
    }

    /// Revokes an access token (the administrator's call: any client's token). Its id
    /// is refused from now until it expires, at once on this handle and within
    /// `revocation_staleness` on every other. Returns True when it was an unexpired
    /// token of this store (of this organization, on a view); anything else is left
    /// alone and gives False.
    #[pyo3(signature = (token, now=None))]
    fn revoke_token(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let inner = self.live(py)?;
        let token = http::borrowed_str(py, token, "token")?;
        let now = opt_instant(py, now, "now")?;
        py.detach(|| inner.revoke_token(token, now)).py_err(py)
    }

    /// The store's signing keys: the current one, then the next, then the retired
    /// keys that still verify; never their private halves. With keys from the
    /// `signing_keys` option, those keys (the first current, the others retired).
    /// On an organization view: `InvalidInput` (signing keys belong to the store).
    #[pyo3(signature = (now=None))]
    fn signing_keys(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<SigningKey>> {
        let inner = self.live(py)?;
        let now = opt_instant(py, now, "now")?;
        let keys = py.detach(|| inner.signing_keys(now)).py_err(py)?;
        Ok(keys.into_iter().map(SigningKey).collect())
    }

    /// Rotates the signing keys: the `next` key starts signing, the `current` one
    /// retires (its tokens stay valid until they expire), and a new `next` key of
    /// `alg` (`"ES256"`, `"EdDSA"`, `"RS256"` or `"HS256"`; default the `token_alg`
    /// option) is published. Returns the key that now signs. Audited. `InvalidInput`
    /// on a view or with keys from the `signing_keys` option.
    #[pyo3(signature = (alg=None, *, actor=None, now=None))]
    fn rotate_signing_key(
        &self,
        py: Python<'_>,
        alg: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SigningKey> {
        let inner = self.live(py)?;
        let alg = opt_text(py, alg, "alg")?
            .map(|a| core::Alg::parse(&a, "alg"))
            .transpose()
            .py_err(py)?;
        let actor = opt_text(py, actor, "actor")?;
        let now = opt_instant(py, now, "now")?;
        let key = py
            .detach(|| inner.rotate_signing_key(alg, actor.as_deref(), now))
            .py_err(py)?;
        Ok(SigningKey(key))
    }

    /// Retires signing key `kid`: it stops signing (retiring the current key rotates
    /// first) and verifies until its tokens have expired. With `immediately=True` it
    /// never verifies again: every token it signed is refused at once on this handle
    /// and within `revocation_staleness` elsewhere, and it leaves the JWK Set.
    /// Audited. `InvalidInput` on a view or with keys from the `signing_keys` option.
    #[pyo3(signature = (kid, immediately=false, *, actor=None, now=None))]
    fn retire_signing_key(
        &self,
        py: Python<'_>,
        kid: &Bound<'_, PyAny>,
        immediately: bool,
        actor: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let inner = self.live(py)?;
        let kid = text(py, kid, "kid")?;
        let actor = opt_text(py, actor, "actor")?;
        let now = opt_instant(py, now, "now")?;
        py.detach(|| inner.retire_signing_key(&kid, immediately, actor.as_deref(), now))
            .py_err(py)
    }

    /// Forgets the verified secrets and tokens this handle remembers (frees memory;
    /// never needed for correctness).
    fn clear_caches(&self) {
        self.handle.clear_caches();
    }

    /// Closes the store and its views: every later call fails with `StorageError`.
    /// On a view, detaches only that view: the store and its other views stay open.
    fn close(&self, py: Python<'_>) {
        if self.handle.is_view() {
            self.detached.store(true, Ordering::Release);
        } else {
            py.detach(|| self.handle.close());
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("KeyStore(org={:?})", self.handle.org_name())
    }
}
