//! Authorization of a request (docs/authorization.md): token, resource, permission and client
//! address, checked in the specified order against the key's current state.

use crate::authz::KeyAuth;
use crate::error::{Error, ErrorKind, Result};
use crate::grant::{
    Permission, held_scope_covers, intersect_scope_into, list_covers, split_target,
};
use crate::keystore::KeyStore;
use crate::network::{allows, parse_client_ip};
use crate::secret::is_key_id;
use crate::time::{Timestamp, coarse_now};
use crate::token::{MAX_TOKEN_BYTES, Principal, PrincipalBuilder};
use crate::token_cache::{Cached, VerifiedToken};

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;

fn err(kind: ErrorKind, message: &str) -> Error {
    Error::new(kind, message)
}

impl KeyStore {
    /// Authorizes a request bearing `token` for `permission` on `resource`
    /// (`scope` or `scope.resource`) from `client_ip`. Every check of
    /// docs/authorization.md runs in order; narrowing, disabling, expiring, refreshing
    /// or deleting a key takes effect on tokens already issued — at once through this
    /// handle, and within `revocation_staleness` through every other.
    pub fn authorize(
        &self,
        token: &str,
        resource: &str,
        permission: Permission,
        client_ip: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<Principal> {
        self.authorize_inner(token, resource, permission, client_ip, now, true)
            .map(|p| p.expect("authorize may wait, so it always answers"))
    }

    /// [`KeyStore::authorize`] from memory only: `Ok(None)` when answering would read
    /// the store (a refresh is due, or the key's state is not in memory). A binding
    /// that holds a lock of its own — Python's GIL — tries this first and calls
    /// `authorize` after letting go of it, so no waiting happens while it is held.
    pub fn try_authorize_in_memory(
        &self,
        token: &str,
        resource: &str,
        permission: Permission,
        client_ip: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<Option<Principal>> {
        self.authorize_inner(token, resource, permission, client_ip, now, false)
    }

    fn authorize_inner(
        &self,
        token: &str,
        resource: &str,
        permission: Permission,
        client_ip: Option<&str>,
        now: Option<Timestamp>,
        may_wait: bool,
    ) -> Result<Option<Principal>> {
        // At most the longest token accepted: a longer one is refused unread.
        let bytes = token.as_bytes();
        crate::token_cache::prefetch_lines(&bytes[..bytes.len().min(MAX_TOKEN_BYTES)]);
        let (scope, res) = split_target(resource).ok_or_else(|| {
            Error::invalid(
                "resource",
                format!("{resource:?} must be `scope` or `scope.resource`"),
            )
        })?;
        let client = client_ip.map(parse_client_ip).transpose()?;
        let target = Target {
            resource,
            scope,
            res,
            permission,
        };
        Ok(self
            .check_token(token, Some(&target), Some(client), now, may_wait)?
            .map(|(p, _)| p))
    }

    /// The checks of an authorization (docs/authorization.md): steps 1–9 always;
    /// step 10 (networks) when `client` is given (`Some(None)`: no address known);
    /// step 11 (scope) when `target` is. Returns the principal and the verified token,
    /// or `Ok(None)` when `may_wait` is false and answering would read the store.
    pub(crate) fn check_token(
        &self,
        token: &str,
        target: Option<&Target<'_>>,
        client: Option<Option<IpAddr>>,
        now: Option<Timestamp>,
        may_wait: bool,
    ) -> Result<Option<(Principal, Verified)>> {
        // Without a `now` from the caller, the kernel's coarse clock (src/time.rs).
        let (now, coarse) = match now {
            Some(now) => (now, false),
            None => (coarse_now(), true),
        };
        self.check_open()?;
        let shared = self.shared();
        let opts = &shared.options;
        // The in-memory state (keys, signing keys, revoked tokens) first: polled
        // inline when due, and refused once too old.
        if !shared
            .auth
            .refresh_if_due(shared.backend.as_ref(), may_wait)?
        {
            return Ok(None);
        }

        // 1–3. Form, header, signature (or a token verified before under the same
        // signing keys, compared in constant time). `token` is read here several
        // times — the cache lookup, the signature, the claims, the cached copy — so it
        // must be memory nobody else writes: an `&str` the caller owns. The bindings
        // whose callers hand in their own memory (C, Node Buffers and views) copy it
        // once first.
        let (keys, epoch) = shared.auth.signing();
        let verified = match shared.auth.tokens.get(token).filter(|v| v.epoch == epoch) {
            Some(v) => Verified::Cached(v),
            None => {
                let v =
                    (shared.auth.tokens).verify_and_insert(token, &keys, now.as_millis(), epoch)?;
                Verified::Fresh(v)
            }
        };
        drop(keys);
        let claims = &verified.claims();
        // 4. Issuer, audience, and the org of a view.
        if claims.iss != opts.issuer.as_str() || claims.aud != opts.audience() {
            return Err(err(
                ErrorKind::InvalidToken,
                "the token was issued for another service",
            ));
        }
        if self.is_view() && claims.org != self.org_name() {
            return Err(err(
                ErrorKind::InvalidToken,
                "the token belongs to another organization",
            ));
        }
        if claims.sub != claims.client_id || !is_key_id(&claims.sub) {
            return Err(err(
                ErrorKind::InvalidToken,
                "the token's subject is malformed",
            ));
        }
        // 5. Expiry and issue time, with leeway; then the deny list of revoked tokens.
        let leeway_ms = opts.leeway * 1000;
        let now_ms = now.as_millis();
        if claims.exp.saturating_mul(1000) <= now_ms - leeway_ms {
            return Err(err(ErrorKind::TokenExpired, "the token has expired"));
        }
        // The coarse clock may lag the precise one that stamped the token by up to
        // a tick, and show the previous second just after a token was issued: a
        // token that looks issued in the future is judged by the precise clock.
        let iat_ms = claims.iat.saturating_mul(1000);
        let now_ms = if coarse && iat_ms > now_ms + leeway_ms {
            Timestamp::now().as_millis()
        } else {
            now_ms
        };
        if iat_ms > now_ms + leeway_ms {
            return Err(err(
                ErrorKind::InvalidToken,
                "the token was issued in the future",
            ));
        }
        if shared.auth.is_revoked(&claims.jti) {
            return Err(err(ErrorKind::TokenRevoked, "the token was revoked"));
        }

        // 6–11. The key's current state, from memory.
        let check = |state: Option<&KeyAuth>| -> Result<Principal> {
            let Some(key) = state else {
                return Err(err(ErrorKind::TokenRevoked, "the key was deleted"));
            };
            if key.org != claims.org {
                return Err(err(
                    ErrorKind::InvalidToken,
                    "the token's organization does not match its key",
                ));
            }
            if !key.enabled {
                return Err(err(ErrorKind::KeyDisabled, "the key is disabled"));
            }
            let current = claims.r#gen == key.generation;
            let in_grace =
                claims.r#gen == key.generation - 1 && key.prev_until.is_some_and(|u| now < u);
            if !current && !in_grace {
                return Err(err(
                    ErrorKind::TokenRevoked,
                    "the token was revoked (the key's secret was refreshed or the key disabled)",
                ));
            }
            if key.expires_at.is_some_and(|e| e <= now) {
                return Err(err(ErrorKind::KeyExpired, "the key has expired"));
            }
            if let Some(client) = client
                && !allows(&key.networks, client)
            {
                return Err(err(
                    ErrorKind::NetworkDenied,
                    "the client address is outside the key's networks",
                ));
            }
            let expires_at = || Timestamp::from_unix_seconds(claims.exp, "exp");
            let mut p = PrincipalBuilder::new(
                &claims.sub,
                &key.name,
                &key.org,
                &claims.jti,
                claims.scope.len() + 1,
            );
            let insufficient = |t: &Target<'_>| {
                Error::new(
                    ErrorKind::InsufficientScope,
                    format!(
                        "the token does not allow {} on {}",
                        t.permission, t.resource
                    ),
                )
                .with_required_scope(format!("{}:{}", t.resource, t.permission))
            };
            // 11. The scope: in one pass when the key holds each of the token's grants
            // as written (the usual case), else in general. Either way the Principal's
            // scope is what the token allows now: its scope within the key's current
            // grants.
            if let Some(t) = target {
                match held_scope_covers(
                    &claims.scope,
                    &key.grants,
                    &key.grant_texts,
                    &key.grants_spaced,
                    key.grants_cover_free,
                    (t.scope, t.res, t.permission),
                    &mut p,
                ) {
                    Some(true) => return Ok(p.finish(expires_at()?)),
                    Some(false) => return Err(insufficient(t)),
                    None => {
                        if !list_covers(&claims.scope, t.scope, t.res, t.permission)
                            || !key
                                .grants
                                .iter()
                                .any(|g| g.covers_parts(t.scope, t.res, t.permission))
                        {
                            return Err(insufficient(t));
                        }
                    }
                }
            }
            intersect_scope_into(
                &claims.scope,
                &key.grants,
                &key.grant_texts,
                key.grants_cover_free,
                &mut p,
            );
            Ok(p.finish(expires_at()?))
        };
        let principal = if may_wait {
            shared
                .auth
                .with(shared.backend.as_ref(), &claims.sub, check)??
        } else {
            match shared.auth.with_cached(&claims.sub, check) {
                Some(p) => p?,
                None => return Ok(None),
            }
        };
        Ok(Some((principal, verified)))
    }
}

/// A verified token: found in the cache (held without a reference count) or just
/// verified.
pub(crate) enum Verified {
    Cached(Cached),
    Fresh(Arc<VerifiedToken>),
}

impl Deref for Verified {
    type Target = VerifiedToken;
    fn deref(&self) -> &VerifiedToken {
        match self {
            Verified::Cached(c) => c,
            Verified::Fresh(v) => v,
        }
    }
}

/// What a request asks for: a permission on `scope` or `scope.resource`.
pub(crate) struct Target<'a> {
    /// The resource as the caller wrote it.
    pub resource: &'a str,
    /// Its scope part.
    pub scope: &'a str,
    /// Its resource part.
    pub res: Option<&'a str>,
    /// The permission needed.
    pub permission: Permission,
}
