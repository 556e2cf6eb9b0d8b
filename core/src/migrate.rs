//! Moving a store between backends: `migrate(SOURCE, DEST)` copies, from one snapshot,
//! every key (hashes, generations, graces), the audit log and the store's own signing
//! keys into an empty destination, then reads the destination back and checks the
//! copy — counts and a digest per key — before it reports success. Tokens issued
//! before the move stay valid after it.

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::store::{self, KeyRecord, Snapshot, StoreOptions};

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Keys copied.
    pub keys: usize,
    /// Audit records copied.
    pub audit_records: usize,
    /// Signing keys copied (0 when the source keeps none of its own: its processes
    /// take theirs from the option or the environment, and so must the destination's).
    pub signing_keys: usize,
}

/// A digest of everything a key is, apart from its position in the store.
fn key_digest(k: &KeyRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    let opt_ms = |t: Option<crate::Timestamp>| t.map_or(i64::MIN, |t| t.as_millis());
    field(k.id.as_bytes());
    field(k.org.as_bytes());
    field(k.name.as_bytes());
    field(k.description.as_deref().unwrap_or("\u{0}none").as_bytes());
    field(&opt_ms(k.expires_at).to_be_bytes());
    for g in &k.grants {
        field(g.to_string().as_bytes());
    }
    field(b"|");
    for n in &k.networks {
        field(n.to_string().as_bytes());
    }
    field(b"|");
    field(&[k.enabled as u8]);
    field(&k.version.to_be_bytes());
    field(&k.created_at.as_millis().to_be_bytes());
    field(&k.updated_at.as_millis().to_be_bytes());
    field(&opt_ms(k.last_refreshed_at).to_be_bytes());
    field(&opt_ms(k.last_used_at).to_be_bytes());
    field(k.secret_hash.as_bytes());
    field(&k.generation.to_be_bytes());
    match &k.previous {
        Some(p) => {
            field(p.hash.as_bytes());
            field(&p.until.as_millis().to_be_bytes());
        }
        None => field(b"\0no previous"),
    }
    h.finalize().into()
}

fn check_copy(source: &Snapshot, copy: &Snapshot) -> Result<()> {
    let fail = |what: String| {
        Err(Error::storage(format!(
            "the copy does not match its source ({what}); the destination holds a partial \
             copy: drop it before trying again"
        )))
    };
    if copy.keys.len() != source.keys.len() {
        return fail(format!(
            "{} keys instead of {}",
            copy.keys.len(),
            source.keys.len()
        ));
    }
    for (a, b) in source.keys.iter().zip(&copy.keys) {
        if key_digest(a) != key_digest(b) {
            return fail(format!("key {} differs", a.id));
        }
    }
    if copy.audit != source.audit {
        return fail(format!(
            "{} audit records instead of {}",
            copy.audit.len(),
            source.audit.len()
        ));
    }
    let sorted = |t: &crate::signing::SigningTable| {
        let mut keys = t.keys.clone();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        (keys, t.kek_check.clone())
    };
    if !source.signing.keys.is_empty() && sorted(&copy.signing) != sorted(&source.signing) {
        return fail("the signing keys differ".into());
    }
    if copy.revoked != source.revoked {
        return fail("the revoked tokens differ".into());
    }
    Ok(())
}

/// Copies the store at `source` into the empty store at `dest` (each an SQLite path
/// or a PostgreSQL URL, with its own storage options), and verifies the copy.
pub fn migrate(
    source: &str,
    source_options: &StoreOptions,
    dest: &str,
    dest_options: &StoreOptions,
) -> Result<MigrateReport> {
    if source == dest && source_options.schema == dest_options.schema {
        return Err(Error::invalid(
            "dest",
            "is the source itself; give another path, URL or schema",
        ));
    }
    if source == ":memory:" || dest == ":memory:" {
        return Err(Error::invalid(
            "path",
            "an in-memory store cannot be migrated to or from",
        ));
    }
    if !store::is_postgres_url(source) && !std::path::Path::new(source).exists() {
        return Err(Error::invalid(
            "source",
            format!("{source:?} does not exist"),
        ));
    }
    let from = store::open(source, source_options)?;
    let to = store::open(dest, dest_options)?;
    let mut snapshot = from.export()?;
    // A store a previous version made, never opened by this one: its key file comes
    // along (imported as when it opens: the first key current, the others retired).
    if snapshot.signing.keys.is_empty()
        && let Some(pairs) = from.legacy_signing_keys()?
    {
        crate::signing::bootstrap(
            &mut snapshot.signing,
            None,
            crate::jose::Alg::Es256,
            || Ok(Some(pairs)),
            crate::time::Timestamp::now().as_millis(),
        )?;
    }
    from.close();
    to.import(&snapshot).map_err(|e| {
        if e.kind() == ErrorKind::Conflict {
            Error::new(
                ErrorKind::Conflict,
                format!("{}: migrate copies into an empty store only", e.message()),
            )
        } else {
            e
        }
    })?;
    let copy = to.export()?;
    to.close();
    check_copy(&snapshot, &copy)?;
    Ok(MigrateReport {
        keys: snapshot.keys.len(),
        audit_records: snapshot.audit.len(),
        signing_keys: snapshot.signing.keys.len(),
    })
}
