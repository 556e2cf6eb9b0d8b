//! Audit records (`keyscope_audit_list`) and summaries (`keyscope_summary`).

use std::ffi::{CString, c_char};
use std::ptr;

use keyscope_core::{AuditRecord, Summary};

use crate::boundary::{c_string, free_box, opt_ptr};

/// The counts behind the key list's expired and expiring markers.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct keyscope_summary {
    /// Every key.
    pub total: u64,
    /// Enabled and not expired.
    pub active: u64,
    /// Enabled and expired.
    pub expired: u64,
    /// Active and expiring within the horizon.
    pub expiring_soon: u64,
    /// No expiry date, whatever the status.
    pub never_expires: u64,
    /// Disabled.
    pub disabled: u64,
}

impl From<Summary> for keyscope_summary {
    fn from(s: Summary) -> Self {
        keyscope_summary {
            total: s.total,
            active: s.active,
            expired: s.expired,
            expiring_soon: s.expiring_soon,
            never_expires: s.never_expires,
            disabled: s.disabled,
        }
    }
}

/// One audit record, borrowed from its list.
pub struct keyscope_audit_record {
    at: i64,
    actor: Option<CString>,
    action: CString,
    key_id: CString,
    key_name: CString,
    changes: Vec<CString>,
}

impl From<AuditRecord> for keyscope_audit_record {
    fn from(r: AuditRecord) -> Self {
        keyscope_audit_record {
            at: r.at.unix_seconds(),
            actor: r.actor.as_deref().map(c_string),
            action: c_string(r.action.as_str()),
            key_id: c_string(&r.key_id),
            key_name: c_string(&r.key_name),
            changes: r.changes.iter().map(|c| c_string(c)).collect(),
        }
    }
}

/// A page of audit records, newest first.
pub struct keyscope_audit_list {
    pub(crate) items: Vec<keyscope_audit_record>,
    pub(crate) next_cursor: Option<CString>,
}

/// The number of records in the page.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_list_len(list: *const keyscope_audit_list) -> usize {
    ffi_value!(0, { unsafe { list.as_ref() }.map_or(0, |l| l.items.len()) })
}

/// Record `index`, borrowed from the list, or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_list_item(
    list: *const keyscope_audit_list,
    index: usize,
) -> *const keyscope_audit_record {
    ffi_value!(ptr::null(), {
        unsafe { list.as_ref() }
            .and_then(|l| l.items.get(index))
            .map_or(ptr::null(), |r| r as *const _)
    })
}

/// The cursor of the next page, or NULL on the last page.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_list_next_cursor(
    list: *const keyscope_audit_list,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { list.as_ref() }.map_or(ptr::null(), |l| opt_ptr(&l.next_cursor))
    })
}

/// Frees a page of audit records. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_list_free(list: *mut keyscope_audit_list) {
    ffi_free!({ unsafe { free_box(list) } })
}

/// When it happened (Unix seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_at(record: *const keyscope_audit_record) -> i64 {
    ffi_value!(0, { unsafe { record.as_ref() }.map_or(0, |r| r.at) })
}

/// Who did it, or NULL if the caller did not say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_actor(
    record: *const keyscope_audit_record,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { record.as_ref() }.map_or(ptr::null(), |r| opt_ptr(&r.actor))
    })
}

/// `"create"`, `"update"`, `"refresh"` or `"delete"`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_action(
    record: *const keyscope_audit_record,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { record.as_ref() }.map_or(ptr::null(), |r| r.action.as_ptr())
    })
}

/// The key acted on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_key_id(
    record: *const keyscope_audit_record,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { record.as_ref() }.map_or(ptr::null(), |r| r.key_id.as_ptr())
    })
}

/// The key's name at the time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_key_name(
    record: *const keyscope_audit_record,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { record.as_ref() }.map_or(ptr::null(), |r| r.key_name.as_ptr())
    })
}

/// The number of changed fields.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_change_count(
    record: *const keyscope_audit_record,
) -> usize {
    ffi_value!(0, {
        unsafe { record.as_ref() }.map_or(0, |r| r.changes.len())
    })
}

/// Changed field `index` (`"networks"`), or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_audit_record_change(
    record: *const keyscope_audit_record,
    index: usize,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { record.as_ref() }
            .and_then(|r| r.changes.get(index))
            .map_or(ptr::null(), |c| c.as_ptr())
    })
}
