//! The Node binding of keyscope (napi-rs): the `keyscope` npm package. It converts
//! types and errors and does nothing else; every rule lives in `keyscope-core`.

#![deny(clippy::all)]

mod convert;
mod endpoints;
mod errors;
mod fast;
mod key;
mod options;
mod store;
mod task;
mod types;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Runs when the module loads: installs the raw `KeyStore.prototype.authorize`
/// (`fast.rs`).
#[napi(module_exports)]
pub fn install_fast_paths(exports: Object<'_>, env: Env) -> Result<()> {
    fast::install(env.raw(), exports.raw())
}

/// Parses comma-separated networks (`"64.100.10.7, 2001:4860::/32"`) into canonical
/// form; a bad entry is reported by its position.
#[napi(ts_args_type = "text: string, options?: { allowPrivateNetworks?: boolean }")]
pub fn parse_networks(
    env: Env,
    text: String,
    options: Option<ParseNetworksOptions>,
) -> Result<Vec<String>> {
    use errors::OrThrow;
    let allow = options
        .and_then(|o| o.allow_private_networks)
        .unwrap_or(false);
    let nets = keyscope_core::network::parse_network_list(&text, allow).or_throw(&env)?;
    Ok(nets.iter().map(ToString::to_string).collect())
}

/// The client's address given explicit trusted proxies: `peer`, unless it is
/// trusted; then `X-Forwarded-For` (a header value or a list of them, in order) is
/// read right to left. `null` when a malformed entry is met.
#[napi(
    ts_args_type = "peer: string, xForwardedFor: string | string[] | null | undefined, trustedProxies: string[]"
)]
pub fn client_address(
    env: Env,
    peer: String,
    x_forwarded_for: Option<Either<String, Vec<String>>>,
    trusted_proxies: Vec<String>,
) -> Result<Option<String>> {
    use errors::OrThrow;
    let trusted = trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, p)| keyscope_core::Network::parse(p, &format!("trustedProxies[{i}]")))
        .collect::<keyscope_core::Result<Vec<_>>>()
        .or_throw(&env)?;
    let headers: Vec<String> = match x_forwarded_for {
        None => Vec::new(),
        Some(Either::A(s)) => vec![s],
        Some(Either::B(v)) => v,
    };
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    Ok(keyscope_core::http::client_address(&trusted, &peer, &refs).map(|ip| ip.to_string()))
}

/// True when `secret` has keyscope's form for `prefix` (default `"kss"`) and its
/// checksum matches: a mistyped or invented secret is rejected without a store.
#[napi]
pub fn secret_is_well_formed(secret: String, prefix: Option<String>) -> bool {
    keyscope_core::secret::is_well_formed(&secret, prefix.as_deref().unwrap_or("kss"))
}

/// Options of `parseNetworks`.
#[napi(object)]
pub struct ParseNetworksOptions {
    /// Accept networks that are not globally reachable.
    pub allow_private_networks: Option<bool>,
}
