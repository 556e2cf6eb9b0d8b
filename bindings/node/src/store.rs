//! `KeyStore`: the store handle and its org views, in camelCase. `createKey`,
//! `refreshKey`, `issueToken` and `tokenEndpoint` return Promises and run on the
//! libuv pool; the rest are synchronous. Signing keys and `handleHttp` are in
//! `endpoints.rs`, as in the core.

use std::sync::atomic::{AtomicBool, Ordering};

use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::{
    self as core, Error, KeyUpdate, ListQuery, NewKey, Result as CoreResult, Secret, StatusFilter,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{JsDate, Nullable};
use crate::convert::{Opts, boolean, date, integer, is_null, seconds_ms, text, texts};
use crate::errors::OrThrow;
use crate::key::{
    ApiKey, AuditPage, AuditRecord, HttpResponse, KeyPage, KeyWithSecret, Principal, Summary, Token,
};
use crate::options;
use crate::task::Job;

/// A handle on a keyscope store (SQLite file or `":memory:"`), or a view of it
/// limited to one organization. Closing the store closes its views too; closing a
/// view detaches only that view.
#[napi]
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

    /// The core handle, unless this view was closed (`KEYSCOPE_STORAGE`).
    pub(crate) fn live(&self) -> CoreResult<&core::KeyStore> {
        if self.detached.load(Ordering::Acquire) {
            return Err(Error::storage("this organization view is closed"));
        }
        Ok(&self.handle)
    }
}

pub(crate) fn now_of(o: &Opts<'_>) -> CoreResult<Option<core::Timestamp>> {
    o.get("now")?.map(|v| date(&v, "now")).transpose()
}

pub(crate) fn opt_text(o: &Opts<'_>, name: &str) -> CoreResult<Option<String>> {
    o.get(name)?.map(|v| text(&v, name)).transpose()
}

pub(crate) type Work<T> = Box<dyn FnOnce() -> CoreResult<T> + Send>;

#[napi]
impl KeyStore {
    /// Opens (creating if missing) the store at `path`; `":memory:"` gives a private
    /// in-memory store.
    #[napi(factory, ts_args_type = "path: string, options?: KeyStoreOptions")]
    pub fn open(env: Env, path: Unknown<'_>, options: Option<Unknown<'_>>) -> Result<KeyStore> {
        let path = text(&path, "path").or_throw(&env)?;
        let options = options::parse(options).or_throw(&env)?;
        let inner = core::KeyStore::open(&path, options).or_throw(&env)?;
        Ok(KeyStore::new(inner))
    }

    /// The organization this handle manages (`"default"` for the store itself).
    #[napi(getter)]
    pub fn org_name(&self) -> String {
        self.handle.org_name().to_owned()
    }

    /// A view limited to organization `name`, with every method of the store.
    #[napi(ts_args_type = "name: string")]
    pub fn org(&self, env: Env, name: Unknown<'_>) -> Result<KeyStore> {
        let name = text(&name, "org").or_throw(&env)?;
        let view = self.live().and_then(|s| s.org(&name)).or_throw(&env)?;
        Ok(KeyStore::new(view))
    }

    /// Creates a key. Resolves to `{ key, secret }`; the secret is never shown again.
    #[napi(
        ts_args_type = "params: CreateKeyParams",
        ts_return_type = "Promise<KeyWithSecret>"
    )]
    pub fn create_key(
        &self,
        params: Unknown<'_>,
    ) -> AsyncTask<Job<(core::ApiKey, Secret), KeyWithSecret>> {
        let parse = || -> CoreResult<Work<(core::ApiKey, Secret)>> {
            let o = Opts::new(Some(params), "params")?;
            o.only(&[
                "name",
                "grants",
                "description",
                "expiresAt",
                "networks",
                "enabled",
                "actor",
                "now",
            ])?;
            let new = NewKey {
                name: text(
                    &o.get("name")?
                        .ok_or_else(|| Error::invalid("name", "is required"))?,
                    "name",
                )?,
                grants: texts(
                    &o.get("grants")?
                        .ok_or_else(|| Error::invalid("grants", "is required"))?,
                    "grants",
                )?,
                description: opt_text(&o, "description")?,
                expires_at: o
                    .get("expiresAt")?
                    .map(|v| date(&v, "expiresAt"))
                    .transpose()?,
                networks: o
                    .get("networks")?
                    .map(|v| texts(&v, "networks"))
                    .transpose()?
                    .unwrap_or_default(),
                enabled: o
                    .get("enabled")?
                    .map(|v| boolean(&v, "enabled"))
                    .transpose()?,
                actor: opt_text(&o, "actor")?,
                now: now_of(&o)?,
            };
            let store = self.live()?.clone();
            Ok(Box::new(move || store.create_key(new)))
        };
        Job::new(parse(), |(key, secret)| KeyWithSecret {
            key: key.into(),
            secret: secret.expose().to_owned(),
        })
    }

    /// The key with this id.
    #[napi(ts_args_type = "id: string, options?: { now?: Date }")]
    pub fn get_key(
        &self,
        env: Env,
        id: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<ApiKey> {
        let run = || -> CoreResult<ApiKey> {
            let id = text(&id, "id")?;
            let o = Opts::new(options, "options")?;
            Ok(self.live()?.get_key(&id, now_of(&o)?)?.into())
        };
        run().or_throw(&env)
    }

    /// One page of keys in creation order, filtered by status and search text.
    #[napi(ts_args_type = "options?: ListKeysOptions")]
    pub fn list_keys(&self, env: Env, options: Option<Unknown<'_>>) -> Result<KeyPage> {
        let run = || -> CoreResult<KeyPage> {
            let o = Opts::new(options, "options")?;
            o.only(&["status", "search", "limit", "cursor", "within", "now"])?;
            let q = ListQuery {
                status: opt_text(&o, "status")?
                    .as_deref()
                    .unwrap_or("all")
                    .parse::<StatusFilter>()?,
                search: opt_text(&o, "search")?,
                limit: o
                    .get("limit")?
                    .map(|v| integer(&v, "limit"))
                    .transpose()?
                    .unwrap_or(50),
                cursor: opt_text(&o, "cursor")?,
                within_ms: o
                    .get("within")?
                    .map(|v| seconds_ms(&v, "within"))
                    .transpose()?
                    .unwrap_or(DEFAULT_WITHIN_MS),
                now: now_of(&o)?,
            };
            let page = self.live()?.list_keys(&q)?;
            Ok(KeyPage {
                items: page.items.into_iter().map(Into::into).collect(),
                next_cursor: Nullable(page.next_cursor),
            })
        };
        run().or_throw(&env)
    }

    /// Changes the given fields: `undefined` leaves a field unchanged, `null` clears
    /// `description` or `expiresAt`. Grants and networks are replaced whole.
    #[napi(ts_args_type = "id: string, changes: UpdateKeyParams")]
    pub fn update_key(&self, env: Env, id: Unknown<'_>, changes: Unknown<'_>) -> Result<ApiKey> {
        let run = || -> CoreResult<ApiKey> {
            let id = text(&id, "id")?;
            let o = Opts::new(Some(changes), "changes")?;
            o.only(&[
                "name",
                "description",
                "expiresAt",
                "grants",
                "networks",
                "enabled",
                "expectedVersion",
                "actor",
                "now",
            ])?;
            let no_null = |name: &str| -> CoreResult<Option<Unknown<'_>>> {
                match o.raw(name)? {
                    Some(v) if is_null(&v) => Err(Error::invalid(
                        name,
                        "cannot be null; leave it undefined to keep it",
                    )),
                    other => Ok(other),
                }
            };
            let update = KeyUpdate {
                name: no_null("name")?.map(|v| text(&v, "name")).transpose()?,
                description: o
                    .raw("description")?
                    .map(|v| {
                        if is_null(&v) {
                            Ok(None)
                        } else {
                            text(&v, "description").map(Some)
                        }
                    })
                    .transpose()?,
                expires_at: o
                    .raw("expiresAt")?
                    .map(|v| {
                        if is_null(&v) {
                            Ok(None)
                        } else {
                            date(&v, "expiresAt").map(Some)
                        }
                    })
                    .transpose()?,
                grants: no_null("grants")?
                    .map(|v| texts(&v, "grants"))
                    .transpose()?,
                networks: no_null("networks")?
                    .map(|v| texts(&v, "networks"))
                    .transpose()?,
                enabled: no_null("enabled")?
                    .map(|v| boolean(&v, "enabled"))
                    .transpose()?,
                expected_version: o
                    .get("expectedVersion")?
                    .map(|v| integer(&v, "expectedVersion"))
                    .transpose()?,
                actor: opt_text(&o, "actor")?,
                now: now_of(&o)?,
            };
            Ok(self.live()?.update_key(&id, update)?.into())
        };
        run().or_throw(&env)
    }

    /// Issues a new secret for the same key id. Resolves to `{ key, secret }`. With
    /// `grace` (seconds, up to 7 days) the old secret keeps working until then.
    #[napi(
        ts_args_type = "id: string, options?: { grace?: number, actor?: string, now?: Date }",
        ts_return_type = "Promise<KeyWithSecret>"
    )]
    pub fn refresh_key(
        &self,
        id: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<(core::ApiKey, Secret), KeyWithSecret>> {
        let parse = || -> CoreResult<Work<(core::ApiKey, Secret)>> {
            let id = text(&id, "id")?;
            let o = Opts::new(options, "options")?;
            o.only(&["grace", "actor", "now"])?;
            let grace = o
                .get("grace")?
                .map(|v| seconds_ms(&v, "grace"))
                .transpose()?
                .unwrap_or(0);
            let actor = opt_text(&o, "actor")?;
            let now = now_of(&o)?;
            let store = self.live()?.clone();
            Ok(Box::new(move || store.refresh_key(&id, grace, actor, now)))
        };
        Job::new(parse(), |(key, secret)| KeyWithSecret {
            key: key.into(),
            secret: secret.expose().to_owned(),
        })
    }

    /// Deletes a key; it and every token issued for it stop working.
    #[napi(ts_args_type = "id: string, options?: { actor?: string, now?: Date }")]
    pub fn delete_key(
        &self,
        env: Env,
        id: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<()> {
        let run = || -> CoreResult<()> {
            let id = text(&id, "id")?;
            let o = Opts::new(options, "options")?;
            self.live()?
                .delete_key(&id, opt_text(&o, "actor")?, now_of(&o)?)
        };
        run().or_throw(&env)
    }

    /// Counts of this organization's keys; `within` (seconds, default 30 days) is the
    /// "expiring soon" horizon.
    #[napi(ts_args_type = "options?: { within?: number, now?: Date }")]
    pub fn summary(&self, env: Env, options: Option<Unknown<'_>>) -> Result<Summary> {
        let run = || -> CoreResult<Summary> {
            let o = Opts::new(options, "options")?;
            let within = o
                .get("within")?
                .map(|v| seconds_ms(&v, "within"))
                .transpose()?
                .unwrap_or(DEFAULT_WITHIN_MS);
            Ok(self.live()?.summary(within, now_of(&o)?)?.into())
        };
        run().or_throw(&env)
    }

    /// Audit records, newest first; of one key if `keyId` is given.
    #[napi(ts_args_type = "options?: { keyId?: string, limit?: number, cursor?: string }")]
    pub fn audit_log(&self, env: Env, options: Option<Unknown<'_>>) -> Result<AuditPage> {
        let run = || -> CoreResult<AuditPage> {
            let o = Opts::new(options, "options")?;
            o.only(&["keyId", "limit", "cursor"])?;
            let key_id = opt_text(&o, "keyId")?;
            let limit = o
                .get("limit")?
                .map(|v| integer(&v, "limit"))
                .transpose()?
                .unwrap_or(50);
            let cursor = opt_text(&o, "cursor")?;
            let page = self
                .live()?
                .audit_log(key_id.as_deref(), limit, cursor.as_deref())?;
            Ok(AuditPage {
                items: page.items.into_iter().map(AuditRecord::from).collect(),
                next_cursor: Nullable(page.next_cursor),
            })
        };
        run().or_throw(&env)
    }

    /// Exchanges a key id and secret for an access token (OAuth client credentials),
    /// with Argon2 on the libuv pool.
    #[napi(
        ts_args_type = "keyId: string, secret: string, options?: { clientIp?: string, scope?: string, now?: Date }",
        ts_return_type = "Promise<Token>"
    )]
    pub fn issue_token(
        &self,
        key_id: Unknown<'_>,
        secret: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<core::AccessToken, Token>> {
        let parse = || -> CoreResult<Work<core::AccessToken>> {
            let key_id = text(&key_id, "keyId")?;
            let secret = Secret::new(text(&secret, "secret")?);
            let o = Opts::new(options, "options")?;
            o.only(&["clientIp", "scope", "now"])?;
            let client_ip = opt_text(&o, "clientIp")?;
            let scope = opt_text(&o, "scope")?;
            let now = now_of(&o)?;
            let store = self.live()?.clone();
            Ok(Box::new(move || {
                store.issue_token(
                    &key_id,
                    &secret,
                    client_ip.as_deref(),
                    scope.as_deref(),
                    now,
                )
            }))
        };
        Job::new(parse(), Token::from)
    }

    /// Authorizes a request bearing `token` (a string or a Buffer) for `permission`
    /// (`"read"` or `"write"`) on `resource` (`scope` or `scope.resource`).
    // This method declares the signature (and the TypeScript type); at load,
    // `fast::install` puts a plain N-API function that does the same in its place on
    // the prototype.
    #[napi(
        ts_args_type = "token: string | Buffer, resource: string, permission?: 'read' | 'write', options?: { clientIp?: string, now?: Date }",
        ts_return_type = "Principal"
    )]
    pub fn authorize(
        &self,
        env: Env,
        token: Unknown<'_>,
        resource: Unknown<'_>,
        permission: Option<Unknown<'_>>,
        options: Option<Unknown<'_>>,
    ) -> Result<Principal> {
        // Only reached if the method is called through another route than the
        // prototype's (the installed method answers alike, faster).
        let store = self.live().or_throw(&env)?;
        let raw = env.raw();
        let args = crate::fast::Args {
            token,
            resource,
            permission: permission.unwrap_or_else(|| crate::fast::undefined(raw)),
            client_ip: crate::fast::option(raw, options.as_ref(), c"clientIp"),
            now: crate::fast::option(raw, options.as_ref(), c"now"),
        };
        crate::fast::run(env.raw(), store, &args)
            .map(Principal::from)
            .or_throw(&env)
    }

    /// The OAuth 2.0 token endpoint (RFC 6749 §4.4). Resolves to
    /// `{ status, headers, body }`; never rejects for a bad request.
    #[napi(
        ts_args_type = "authorization: string | null | undefined, contentType: string | null | undefined, body: Buffer | string, clientIp?: string | null, options?: { now?: Date }",
        ts_return_type = "Promise<HttpResponse>"
    )]
    pub fn token_endpoint(
        &self,
        authorization: Option<String>,
        content_type: Option<String>,
        body: Either<String, Buffer>,
        client_ip: Option<String>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<core::http::HttpResponse, HttpResponse>> {
        let parse = || -> CoreResult<Work<core::http::HttpResponse>> {
            let body = match body {
                Either::A(s) => s.into_bytes(),
                Either::B(b) => b.to_vec(),
            };
            let now = now_of(&Opts::new(options, "options")?)?;
            let store = self.live()?.clone();
            Ok(Box::new(move || {
                Ok(store.token_endpoint(
                    authorization.as_deref(),
                    content_type.as_deref(),
                    &body,
                    client_ip.as_deref(),
                    now,
                ))
            }))
        };
        Job::new(parse(), |r| HttpResponse {
            status: r.status as u32,
            headers: r.headers.into_iter().collect(),
            body: r.body,
        })
    }

    /// Authorizes a request from its `Authorization` header (`Bearer <token>`). Errors
    /// carry `status` and `wwwAuthenticate` to answer the request with.
    #[napi(
        ts_args_type = "authorization: string | null | undefined, resource: string, permission?: 'read' | 'write', options?: { clientIp?: string, now?: Date }"
    )]
    pub fn authorize_header(
        &self,
        env: Env,
        authorization: Option<String>,
        resource: String,
        permission: Option<String>,
        options: Option<AuthorizeOptions>,
    ) -> Result<Principal> {
        let run = || -> CoreResult<Principal> {
            let (client_ip, now) = match &options {
                Some(o) => (o.client_ip.as_deref(), o.now.map(|d| d.0)),
                None => (None, None),
            };
            let perm = core::http::header_permission(permission.as_deref().unwrap_or("read"))?;
            Ok(self
                .live()?
                .authorize_header(authorization.as_deref(), &resource, perm, client_ip, now)?
                .into())
        };
        run().or_throw(&env)
    }

    /// The client's address: `peer`, unless it is one of the store's
    /// `trustedProxies`; then `X-Forwarded-For` (a header value or a list of them, in
    /// order) is read right to left. `null` when a malformed entry is met.
    #[napi(ts_args_type = "peer: string, xForwardedFor?: string | string[] | null")]
    pub fn client_address(
        &self,
        peer: String,
        x_forwarded_for: Option<Either<String, Vec<String>>>,
    ) -> Option<String> {
        let headers: Vec<String> = match x_forwarded_for {
            None => Vec::new(),
            Some(Either::A(s)) => vec![s],
            Some(Either::B(v)) => v,
        };
        let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        self.handle
            .client_address(&peer, &refs)
            .map(|ip| ip.to_string())
    }

    /// Parses the comma-separated networks an administrator types with this store's
    /// rules; returns them in canonical form.
    #[napi]
    pub fn parse_networks(&self, env: Env, text: String) -> Result<Vec<String>> {
        let nets = self
            .live()
            .and_then(|s| s.parse_networks(&text))
            .or_throw(&env)?;
        Ok(nets.iter().map(ToString::to_string).collect())
    }

    /// Forgets the verified secrets and tokens this handle remembers.
    #[napi]
    pub fn clear_caches(&self) {
        self.handle.clear_caches();
    }

    /// Closes the store and its views: every later call fails with `KEYSCOPE_STORAGE`.
    /// On a view, detaches only that view: the store and its other views stay open.
    #[napi]
    pub fn close(&self) {
        if self.handle.is_view() {
            self.detached.store(true, Ordering::Release);
        } else {
            self.handle.close();
        }
    }
}

/// Options of `authorize` and `authorizeHeader`.
#[napi(object)]
pub struct AuthorizeOptions {
    /// The client's address (one IPv4 or IPv6 address).
    pub client_ip: Option<String>,
    /// The instant that drives every check.
    pub now: Option<JsDate>,
}
