//! `keyscope_key_params`: the builder of a key's fields for create and update. For
//! update, only the fields set (or cleared) change.

use std::ffi::c_char;

use keyscope_core::{Error, KeyUpdate, NewKey, Result, Timestamp};

use crate::boundary::{arg_str, check_out, free_box, write_out};
use crate::error::keyscope_status;

/// A key's fields, for `keyscope_store_create_key` and `keyscope_store_update_key`.
#[derive(Default)]
pub struct keyscope_key_params {
    name: Option<String>,
    description: Option<Option<String>>,
    expires_at: Option<Option<Timestamp>>,
    grants: Option<Vec<String>>,
    networks: Option<Vec<String>>,
    enabled: Option<bool>,
    expected_version: Option<i64>,
    actor: Option<String>,
}

impl keyscope_key_params {
    pub(crate) fn to_new_key(&self, now: Option<Timestamp>) -> Result<NewKey> {
        if self.expected_version.is_some() {
            return Err(Error::invalid(
                "expected_version",
                "applies to updates only",
            ));
        }
        Ok(NewKey {
            name: self
                .name
                .clone()
                .ok_or_else(|| Error::invalid("name", "is required"))?,
            description: self.description.clone().flatten(),
            expires_at: self.expires_at.flatten(),
            grants: self.grants.clone().unwrap_or_default(),
            networks: self.networks.clone().unwrap_or_default(),
            enabled: self.enabled,
            actor: self.actor.clone(),
            now,
        })
    }

    pub(crate) fn to_update(&self, now: Option<Timestamp>) -> KeyUpdate {
        KeyUpdate {
            name: self.name.clone(),
            description: self.description.clone(),
            expires_at: self.expires_at,
            grants: self.grants.clone(),
            networks: self.networks.clone(),
            enabled: self.enabled,
            expected_version: self.expected_version,
            actor: self.actor.clone(),
            now,
        }
    }
}

fn with(
    params: *mut keyscope_key_params,
    f: impl FnOnce(&mut keyscope_key_params) -> Result<()>,
) -> Result<()> {
    let p =
        unsafe { params.as_mut() }.ok_or_else(|| Error::invalid("params", "must not be NULL"))?;
    f(p)
}

/// Creates an empty key-params builder. Free it with `keyscope_key_params_free`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_new(
    out: *mut *mut keyscope_key_params,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        unsafe { write_out(out, keyscope_key_params::default()) };
        Ok(())
    })
}

/// Frees a key-params builder. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_free(params: *mut keyscope_key_params) {
    ffi_free!({ unsafe { free_box(params) } })
}

/// Sets the name (1–255 characters, unique within the organization).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_set_name(
    params: *mut keyscope_key_params,
    name: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let name = unsafe { arg_str(name, "name") }?.to_owned();
        with(params, |p| {
            p.name = Some(name);
            Ok(())
        })
    })
}

/// Sets the description (up to 1024 characters).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_set_description(
    params: *mut keyscope_key_params,
    description: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let d = unsafe { arg_str(description, "description") }?.to_owned();
        with(params, |p| {
            p.description = Some(Some(d));
            Ok(())
        })
    })
}

/// Clears the description (update).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_clear_description(
    params: *mut keyscope_key_params,
) -> keyscope_status {
    ffi_status!({
        with(params, |p| {
            p.description = Some(None);
            Ok(())
        })
    })
}

/// Sets the expiry (Unix seconds; must be in the future).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_set_expires_at(
    params: *mut keyscope_key_params,
    unix_seconds: i64,
) -> keyscope_status {
    ffi_status!({
        let t = Timestamp::from_unix_seconds(unix_seconds, "expires_at")?;
        with(params, |p| {
            p.expires_at = Some(Some(t));
            Ok(())
        })
    })
}

/// Clears the expiry: the key never expires (update).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_clear_expires_at(
    params: *mut keyscope_key_params,
) -> keyscope_status {
    ffi_status!({
        with(params, |p| {
            p.expires_at = Some(None);
            Ok(())
        })
    })
}

/// Adds a grant (`"reports:read"`, `"deployments.networks:write"`). For update, the
/// grants added replace the key's grants whole.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_add_grant(
    params: *mut keyscope_key_params,
    grant: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let g = unsafe { arg_str(grant, "grant") }?.to_owned();
        with(params, |p| {
            p.grants.get_or_insert_with(Vec::new).push(g);
            Ok(())
        })
    })
}

/// Forgets the grants added so far, so the builder can start over. It never asks for
/// an empty grant list (a key holds at least one grant): after it, an update leaves
/// the key's grants as they are unless grants are added again.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_clear_grants(
    params: *mut keyscope_key_params,
) -> keyscope_status {
    ffi_status!({
        with(params, |p| {
            p.grants = None;
            Ok(())
        })
    })
}

/// Adds a network (an address or CIDR). For update, the networks added replace the
/// key's networks whole.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_add_network(
    params: *mut keyscope_key_params,
    network: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let n = unsafe { arg_str(network, "network") }?.to_owned();
        with(params, |p| {
            p.networks.get_or_insert_with(Vec::new).push(n);
            Ok(())
        })
    })
}

/// Clears the networks: for update, the key is usable from any address.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_clear_networks(
    params: *mut keyscope_key_params,
) -> keyscope_status {
    ffi_status!({
        with(params, |p| {
            p.networks = Some(Vec::new());
            Ok(())
        })
    })
}

/// Enables or disables the key (disabling revokes outstanding tokens for good).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_set_enabled(
    params: *mut keyscope_key_params,
    enabled: bool,
) -> keyscope_status {
    ffi_status!({
        with(params, |p| {
            p.enabled = Some(enabled);
            Ok(())
        })
    })
}

/// Update only: refuse with `KEYSCOPE_CONFLICT` unless the key is at this version.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_set_expected_version(
    params: *mut keyscope_key_params,
    version: i64,
) -> keyscope_status {
    ffi_status!({
        with(params, |p| {
            p.expected_version = Some(version);
            Ok(())
        })
    })
}

/// Who makes the change, for the audit log.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_params_set_actor(
    params: *mut keyscope_key_params,
    actor: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let a = unsafe { arg_str(actor, "actor") }?.to_owned();
        with(params, |p| {
            p.actor = Some(a);
            Ok(())
        })
    })
}
