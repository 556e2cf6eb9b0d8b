//! The backend harness shared by the integration suites: every suite runs against
//! the backend named by `KEYSCOPE_TEST_BACKEND` — `sqlite` (the default) or
//! `postgres`, on the server at `KEYSCOPE_TEST_DATABASE_URL` (default
//! `postgresql://postgres@127.0.0.1:5432/test`), each store in a schema of its own
//! with a random name, dropped afterwards. `make test` runs both. A PostgreSQL run
//! without a reachable server fails loudly; it never skips.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use keyscope_core::{KeyStore, Options, Result};

/// The backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SQLite files and `:memory:`.
    Sqlite,
    /// One PostgreSQL server, a schema per store.
    Postgres,
}

/// The backend named by `KEYSCOPE_TEST_BACKEND`.
pub fn kind() -> Kind {
    match std::env::var("KEYSCOPE_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Kind::Sqlite,
        Ok("postgres") => Kind::Postgres,
        Ok(other) => panic!("KEYSCOPE_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

/// The PostgreSQL server the suites use.
pub fn database_url() -> String {
    std::env::var("KEYSCOPE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:5432/test".to_owned())
}

/// A plain client on the test server (for setup and cleanup), or a panic saying how
/// to provide one.
pub fn admin_client() -> postgres::Client {
    let url = database_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL suites need a server: cannot connect to {url}: {e}\n\
             Start one (pg_ctlcluster --skip-systemctl-redirect 15 main start) or point \
             KEYSCOPE_TEST_DATABASE_URL at one."
        )
    })
}

/// A fresh schema name.
pub fn new_schema() -> String {
    let mut b = [0u8; 6];
    getrandom(&mut b);
    format!(
        "kst_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("random bytes");
}

/// One store location that several handles can open: an SQLite file in a temporary
/// directory, or a PostgreSQL schema. Removed when the last user drops it.
pub struct Db {
    location: String,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// A new, empty location on the backend under test.
    pub fn new() -> Arc<Db> {
        match kind() {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let path = dir.path().join("keys.db");
                Arc::new(Db {
                    location: path.to_str().expect("UTF-8 path").to_owned(),
                    schema: None,
                    _dir: Some(dir),
                })
            }
            Kind::Postgres => Db::new_postgres(),
        }
    }

    /// A new schema on the PostgreSQL server, whatever the backend under test.
    pub fn new_postgres() -> Arc<Db> {
        drop(admin_client());
        Arc::new(Db {
            location: database_url(),
            schema: Some(new_schema()),
            _dir: None,
        })
    }

    /// The path or URL given to `KeyStore::open`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The PostgreSQL schema, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// `options` pointed at this location.
    pub fn options(&self, mut options: Options) -> Options {
        if let Some(s) = &self.schema {
            options.store.schema = Some(s.clone());
        }
        options
    }

    /// A handle on this location.
    pub fn open(self: &Arc<Self>, options: Options) -> Result<Store> {
        Ok(Store {
            store: KeyStore::open(&self.location, self.options(options))?,
            _db: Arc::clone(self),
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            let mut c = admin_client();
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .expect("drop the test schema");
        }
    }
}

/// A handle that keeps its location alive; derefs to the [`KeyStore`].
pub struct Store {
    store: KeyStore,
    _db: Arc<Db>,
}

impl Store {
    /// The location this handle is on.
    pub fn db(&self) -> &Arc<Db> {
        &self._db
    }
}

impl Deref for Store {
    type Target = KeyStore;
    fn deref(&self) -> &KeyStore {
        &self.store
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.store.close();
    }
}

/// A private store: `:memory:` on SQLite, a schema of its own on PostgreSQL.
pub fn private(options: Options) -> Result<Store> {
    match kind() {
        Kind::Sqlite => Ok(Store {
            store: KeyStore::open(":memory:", options)?,
            _db: Arc::new(Db {
                location: ":memory:".into(),
                schema: None,
                _dir: None,
            }),
        }),
        Kind::Postgres => Db::new().open(options),
    }
}

/// Turns the SQLite store at `db_path` into what the previous version of keyscope
/// left: schema version 3 (no signing-key, settings or revoked-token tables, no creator
/// columns) and its HS256 keys in `<db_path>.signing-keys` (mode 0600).
#[allow(dead_code)]
pub fn make_previous_version_store(db_path: &str, pairs: &[(String, Vec<u8>)]) {
    use base64::Engine;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    rusqlite::Connection::open(db_path)
        .expect("open the SQLite file")
        .execute_batch(
            "DROP TABLE signing_keys; DROP TABLE settings; DROP TABLE revoked_tokens;
             ALTER TABLE keys DROP COLUMN creator; ALTER TABLE keys DROP COLUMN creator_key_id;
             PRAGMA user_version = 3;",
        )
        .expect("downgrade the schema");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(format!("{db_path}.signing-keys"))
        .expect("create the key file");
    writeln!(
        f,
        "# keyscope signing keys: kid:base64 per line; the first signs."
    )
    .unwrap();
    for (kid, secret) in pairs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        writeln!(f, "{kid}:{b64}").unwrap();
    }
}
