//! The key file of earlier keyscope versions (`<db>.signing-keys`, HS256 secrets next
//! to an SQLite database) and the `kid:base64` list format it shares with the
//! `KEYSCOPE_SIGNING_KEYS` environment variable. A store imports its key file once,
//! when it first opens with this version, and never reads it again.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
#[cfg(test)]
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
#[cfg(test)]
use crate::secret::random_bytes;

/// The environment variable read when no `signing_keys` option is given.
pub const ENV_VAR: &str = "KEYSCOPE_SIGNING_KEYS";
/// Suffix of the key file kept next to the database.
pub const FILE_SUFFIX: &str = ".signing-keys";

/// `(kid, secret)` pairs; the first signs.
pub type KeyPairs = Vec<(String, Vec<u8>)>;

/// The key file of the SQLite database at `db_path`: next to its real
/// (symlink-resolved) path.
fn key_file_path(db_path: &str) -> Result<PathBuf> {
    let real = fs::canonicalize(db_path)
        .map_err(|e| Error::storage(format!("cannot resolve {db_path:?}: {e}")))?;
    let mut file = real.into_os_string();
    file.push(FILE_SUFFIX);
    Ok(PathBuf::from(file))
}

/// The keys of the SQLite database's key file, if it has one (never creates it).
pub(crate) fn existing_key_file_keys(db_path: &str) -> Result<Option<KeyPairs>> {
    let path = key_file_path(db_path)?;
    match read_key_file(&path) {
        Ok(pairs) => Ok(Some(pairs)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::storage(format!(
            "signing key file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
/// The key file's text for `pairs`.
fn key_file_text(pairs: &[(String, Vec<u8>)]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::from(
        "# keyscope signing keys: kid:base64 per line; the first signs. Keep private.\n",
    ));
    for (kid, secret) in pairs {
        text.push_str(&format!("{kid}:{}\n", STANDARD.encode(secret)));
    }
    text
}

#[cfg(test)]
/// Writes `pairs` to a new temporary file beside `path` (`O_EXCL | O_NOFOLLOW`, mode
/// 0600, synced) and returns its path, for the caller to link or rename into place.
fn write_temp_key_file(path: &Path, pairs: &[(String, Vec<u8>)]) -> Result<PathBuf> {
    let contents = key_file_text(pairs);
    let mut suffix = [0u8; 6];
    random_bytes(&mut suffix)?;
    let tmp = path.with_extension(format!(
        "tmp-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(open_flags())
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(Error::storage(format!(
                "cannot create signing key file {}: {e}",
                path.display()
            )))
        }
    }
}

#[cfg(test)]
/// A new `(kid, 32 random bytes)` pair.
pub(crate) fn generate_pair() -> Result<(String, Vec<u8>)> {
    let mut secret = vec![0u8; 32];
    random_bytes(&mut secret)?;
    let mut id = [0u8; 4];
    random_bytes(&mut id)?;
    let kid = format!(
        "ks-{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    Ok((kid, secret))
}

pub(crate) fn check_pairs(pairs: &[(String, Vec<u8>)], what: &str) -> Result<()> {
    let opts = crate::Options {
        signing_keys: pairs.to_vec(),
        ..crate::Options::default()
    };
    opts.validate()
        .map_err(|e| Error::invalid(what, e.message()))
}

/// Parses `kid:base64,kid2:base64` (standard or URL-safe base64, padding optional).
pub fn parse_key_list(text: &str, what: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (i, entry) in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let (kid, b64) = entry
            .split_once(':')
            .ok_or_else(|| Error::invalid(what, format!("entry {} is not kid:base64", i + 1)))?;
        let secret = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(b64.trim()).ok())
            .ok_or_else(|| {
                Error::invalid(what, format!("entry {} ({kid}) is not valid base64", i + 1))
            })?;
        out.push((kid.trim().to_owned(), secret));
    }
    if out.is_empty() {
        return Err(Error::invalid(what, "has no keys"));
    }
    Ok(out)
}

#[cfg(test)]
/// Reads the key file, or creates it atomically: a temporary file made with
/// `O_EXCL | O_NOFOLLOW` and mode 0600 is linked into place, so two processes opening
/// a new store at once end up with one key.
fn load_or_create(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    match read_key_file(path) {
        Ok(pairs) => return Ok(pairs),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::storage(format!(
                "signing key file {}: {e}",
                path.display()
            )));
        }
        Err(_) => {}
    }
    let (kid, secret) = generate_pair()?;
    let tmp = write_temp_key_file(path, &[(kid.clone(), secret.clone())])?;
    let io = |e: std::io::Error| {
        Error::storage(format!(
            "cannot create signing key file {}: {e}",
            path.display()
        ))
    };
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(vec![(kid, secret)]),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path)
            .map_err(|e| Error::storage(format!("signing key file {}: {e}", path.display()))),
        Err(e) => Err(io(e)),
    }
}

/// Flags for every open of the key file: never follow a symbolic link, and never
/// block (a FIFO planted at the path would otherwise hang `open` until a writer came).
fn open_flags() -> i32 {
    libc::O_NOFOLLOW | libc::O_NONBLOCK
}

/// Checks the open key file by its descriptor (no race with the path): a regular
/// file, owned by the effective user, not readable or writable by group or others.
fn check_key_file(meta: &fs::Metadata) -> std::io::Result<()> {
    let bad = |why: String| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why);
    if !meta.file_type().is_file() {
        return Err(bad("is not a regular file".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(bad(format!(
            "is owned by uid {}, not by this process's effective uid {euid}",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "is readable or writable by group or others (mode {:o}); run chmod 600 on it",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

fn read_key_file(path: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut f: File = OpenOptions::new()
        .read(true)
        .custom_flags(open_flags())
        .open(path)?;
    // `File::metadata` is fstat on the descriptor just opened.
    check_key_file(&f.metadata()?)?;
    let mut text = Zeroizing::new(String::new());
    f.read_to_string(&mut text)?;
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let body = Zeroizing::new(body);
    let pairs = parse_key_list(&body, "signing key file").map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.message().to_owned())
    })?;
    check_pairs(&pairs, "signing key file").map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.message().to_owned())
    })?;
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_environment_format() {
        let v = parse_key_list(
            &format!(
                "k1:{},k2:{}",
                STANDARD.encode([7; 32]),
                URL_SAFE_NO_PAD.encode([8; 40])
            ),
            "env",
        )
        .unwrap();
        assert_eq!(v[0], ("k1".to_owned(), vec![7; 32]));
        assert_eq!(v[1].1.len(), 40);
        assert!(parse_key_list("nokid", "env").is_err());
        assert!(parse_key_list("k:!!!", "env").is_err());
        assert!(parse_key_list("", "env").is_err());
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db.signing-keys");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a, b);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db.signing-keys");
        load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(e.message().contains("group or others"), "{e}");
    }

    #[test]
    fn key_file_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        load_or_create(&real).unwrap();
        let link = dir.path().join("k.db.signing-keys");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(load_or_create(&link).is_err());
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db.signing-keys");
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn key_file_owned_by_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db.signing-keys");
        load_or_create(&path).unwrap();
        // SAFETY: geteuid has no preconditions.
        let other = unsafe { libc::geteuid() }.wrapping_add(4242);
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        if unsafe { libc::chown(c.as_ptr(), other, u32::MAX) } != 0 {
            eprintln!("skipped: cannot chown (not root)");
            return;
        }
        let e = load_or_create(&path).unwrap_err();
        assert!(e.message().contains("owned by uid"), "{e}");
    }

    #[test]
    fn key_file_fifo_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db.signing-keys");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(load_or_create(&p).map(|_| ()));
        });
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(r) => {
                let e = r.unwrap_err();
                assert!(e.message().contains("not a regular file"), "{e}");
            }
            Err(_) => {
                // Unblock the stuck open so the test process can exit, then fail.
                let _ = OpenOptions::new().write(true).open(&path);
                panic!("opening a FIFO key file hangs");
            }
        }
    }

    #[test]
    fn key_file_open_flags_are_the_platform_constants() {
        assert_ne!(open_flags() & libc::O_NOFOLLOW, 0);
        assert_ne!(open_flags() & libc::O_NONBLOCK, 0);
    }
}
