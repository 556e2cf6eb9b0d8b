//! The Node binding of keyscope (napi-rs): the `keyscope` npm package. It converts
//! types and errors and does nothing else; every rule lives in `keyscope-core`.

#![deny(clippy::all)]

mod convert;
mod errors;
mod key;
mod options;
mod store;
mod task;
mod types;

use napi::bindgen_prelude::*;
use napi_derive::napi;

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

/// Options of `parseNetworks`.
#[napi(object)]
pub struct ParseNetworksOptions {
    /// Accept networks that are not globally reachable.
    pub allow_private_networks: Option<bool>,
}
