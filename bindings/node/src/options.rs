//! `KeyStore.open(path, options)`: camelCase options to core `Options`.

use std::collections::BTreeMap;

use keyscope_core::{Alg, Argon2Params, Catalog, Error, Options, Permission, Result};
use napi::ValueType;
use napi::bindgen_prelude::*;

use crate::convert::{Opts, boolean, bytes, integer, number, text, texts};

const KNOWN: &[&str] = &[
    "signingKeys",
    "tokenAlg",
    "keyEncryptionKey",
    "catalog",
    "tokenTtl",
    "issuer",
    "audience",
    "leeway",
    "allowPrivateNetworks",
    "argon2",
    "secretPrefix",
    "maxFailedExchangesPerMinute",
    "revocationStaleness",
    "trustedProxies",
    "busyTimeout",
    "offlineGrace",
    "schema",
    "poolSize",
    "listen",
];

fn u32_of(v: &Unknown<'_>, field: &str) -> Result<u32> {
    let n = integer(v, field)?;
    u32::try_from(n).map_err(|_| Error::invalid(field, "must be 0 to 4294967295"))
}

fn catalog(v: &Unknown<'_>) -> Result<Catalog> {
    if v.get_type().ok() == Some(ValueType::String) {
        return Catalog::named(&text(v, "catalog")?);
    }
    let top = Opts::new(Some(*v), "catalog")?;
    let scopes = top.get("scopes")?.ok_or_else(|| {
        Error::invalid("catalog", "must be \"secure_access\" or { scopes: {...} }")
    })?;
    let scopes = Opts::new(Some(scopes), "catalog.scopes")?;
    let mut map = BTreeMap::new();
    let obj = scopes
        .object()
        .ok_or_else(|| Error::invalid("catalog.scopes", "must be an object"))?;
    for scope in Object::keys(obj).map_err(|e| Error::invalid("catalog.scopes", e.reason))? {
        let field = format!("catalog.scopes.{scope}");
        let resources = Opts::new(scopes.get(&scope)?, "catalog.scopes.*")?;
        let mut inner = BTreeMap::new();
        if let Some(r) = resources.object() {
            for res in Object::keys(r).map_err(|e| Error::invalid(field.as_str(), e.reason))? {
                let perm_field = format!("{field}.{res}");
                let perm = resources
                    .get(&res)?
                    .ok_or_else(|| Error::invalid(perm_field.as_str(), "is missing"))?;
                inner.insert(
                    res,
                    text(&perm, &perm_field)?
                        .parse::<Permission>()
                        .map_err(|_| {
                            Error::invalid(perm_field.as_str(), "must be \"read\" or \"write\"")
                        })?,
                );
            }
        }
        map.insert(scope, inner);
    }
    Catalog::from_map(map)
}

/// Reads the options object of `KeyStore.open`; an unknown option is `invalid_input`.
pub fn parse(v: Option<Unknown<'_>>) -> Result<Options> {
    let o = Opts::new(v, "options")?;
    o.only(KNOWN)?;
    let mut out = Options::default();
    if let Some(v) = o.get("signingKeys")? {
        if !v.is_array().unwrap_or(false) {
            return Err(Error::invalid(
                "signingKeys",
                "must be an array of { kid, secret }",
            ));
        }
        let arr: Array =
            unsafe { v.cast() }.map_err(|e| Error::invalid("signingKeys", e.reason))?;
        for i in 0..arr.len() {
            let field = format!("signingKeys[{i}]");
            let item: Option<Unknown<'_>> = arr
                .get(i)
                .map_err(|e| Error::invalid(field.as_str(), e.reason))?;
            let entry = Opts::new(item, "signingKeys[]")?;
            let kid = entry
                .get("kid")?
                .ok_or_else(|| Error::invalid(format!("{field}.kid"), "is required"))?;
            let secret = entry
                .get("secret")?
                .ok_or_else(|| Error::invalid(format!("{field}.secret"), "is required"))?;
            if !secret.is_buffer().unwrap_or(false) {
                return Err(Error::invalid(
                    format!("{field}.secret"),
                    "must be a Buffer",
                ));
            }
            let buf: Buffer = unsafe { secret.cast() }
                .map_err(|e| Error::invalid(format!("{field}.secret"), e.reason))?;
            out.signing_keys
                .push((text(&kid, &format!("{field}.kid"))?, buf.to_vec()));
        }
    }
    if let Some(v) = o.get("tokenAlg")? {
        out.token_alg = Some(Alg::parse(&text(&v, "tokenAlg")?, "tokenAlg")?);
    }
    if let Some(v) = o.get("keyEncryptionKey")? {
        out.key_encryption_key = Some(bytes(&v, "keyEncryptionKey")?.into());
    }
    if let Some(v) = o.get("catalog")? {
        out.catalog = Some(catalog(&v)?);
    }
    if let Some(v) = o.get("tokenTtl")? {
        out.token_ttl = integer(&v, "tokenTtl")?;
    }
    if let Some(v) = o.get("issuer")? {
        out.issuer = text(&v, "issuer")?;
    }
    if let Some(v) = o.get("audience")? {
        out.audience = Some(text(&v, "audience")?);
    }
    if let Some(v) = o.get("leeway")? {
        out.leeway = integer(&v, "leeway")?;
    }
    if let Some(v) = o.get("allowPrivateNetworks")? {
        out.allow_private_networks = boolean(&v, "allowPrivateNetworks")?;
    }
    if let Some(v) = o.get("argon2")? {
        let a = Opts::new(Some(v), "argon2")?;
        a.only(&["memoryKib", "iterations", "parallelism"])?;
        let mut p = Argon2Params::default();
        if let Some(v) = a.get("memoryKib")? {
            p.memory_kib = u32_of(&v, "argon2.memoryKib")?;
        }
        if let Some(v) = a.get("iterations")? {
            p.iterations = u32_of(&v, "argon2.iterations")?;
        }
        if let Some(v) = a.get("parallelism")? {
            p.parallelism = u32_of(&v, "argon2.parallelism")?;
        }
        out.argon2 = p;
    }
    if let Some(v) = o.get("secretPrefix")? {
        out.secret_prefix = text(&v, "secretPrefix")?;
    }
    if let Some(v) = o.get("maxFailedExchangesPerMinute")? {
        out.max_failed_exchanges_per_minute = u32_of(&v, "maxFailedExchangesPerMinute")?;
    }
    if let Some(v) = o.get("revocationStaleness")? {
        out.revocation_staleness = number(&v, "revocationStaleness")?;
    }
    if let Some(v) = o.get("trustedProxies")? {
        out.trusted_proxies = texts(&v, "trustedProxies")?;
    }
    if let Some(v) = o.get("busyTimeout")? {
        let secs = number(&v, "busyTimeout")?;
        if secs < 0.0 {
            return Err(Error::invalid("busyTimeout", "must not be negative"));
        }
        out.store.busy_timeout_ms = (secs * 1000.0) as u64;
    }
    if let Some(v) = o.get("offlineGrace")? {
        out.offline_grace = number(&v, "offlineGrace")?;
    }
    if let Some(v) = o.get("schema")? {
        out.store.schema = Some(text(&v, "schema")?);
    }
    if let Some(v) = o.get("poolSize")? {
        out.store.pool_size = Some(u32_of(&v, "poolSize")?);
    }
    if let Some(v) = o.get("listen")? {
        out.store.listen = Some(boolean(&v, "listen")?);
    }
    out.validate()?;
    Ok(out)
}
