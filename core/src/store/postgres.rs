//! The PostgreSQL backend, for fleets: every host opens one database.
//!
//! - Tables live in their own schema (option `schema`, default `keyscope`), created
//!   and migrated in one transaction under an advisory lock named after the schema.
//! - Writes are single transactions. Each one that changes what a key's tokens may do
//!   increments the counter row `meta.access_rev` — a row lock held to commit, so
//!   revisions are gap-free in commit order — logs the key under that revision with a
//!   random nonce, and notifies the channel `keyscope_<schema>` at commit.
//! - A handle follows the log from a thread of its own: LISTEN on a dedicated
//!   connection for speed, and a read of the log at least every half
//!   `revocation_staleness` for the guarantee (a notification can be lost). A handle
//!   that falls behind the log's retention, or sees it go backwards, reloads
//!   everything.
//! - Lifecycle calls use a pool of `pool_size` connections; `busy_timeout` bounds the
//!   wait for a connection and for row locks.
//! - TLS is rustls, with libpq's `sslmode` meanings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement, Transaction};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use scheduled_thread_pool::ScheduledThreadPool;
use sha2::{Digest, Sha256};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pgurl::{PgUrl, SslMode};
use super::{
    AccessChanges, AuditEntry, Backend, KeyRecord, KeyScan, Mutation, PreviousSecret, Snapshot,
    StoreOptions, SyncPoint, classify_changes, new_nonce,
};
use crate::error::{Error, ErrorKind, Result};
use crate::grant::Grant;
use crate::key::{AuditAction, AuditRecord, StatusFilter, Summary};
use crate::network::Network;
use crate::signing::{SigningRow, SigningTable};
use crate::text::fold;
use crate::time::Timestamp;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Rows of the access log kept; a handle further behind reloads every key.
const ACCESS_LOG_KEEP: i64 = 10_000;

/// Forward migrations; entry `i` takes the schema from version `i` to `i + 1`. `{s}`
/// is the quoted schema name.
const MIGRATIONS: &[&str] = &[
    // 1: keys, the audit log, the access log, signing keys, the fleet-wide throttle.
    "CREATE TABLE {s}.keys (
        seq               BIGSERIAL PRIMARY KEY,
        id                TEXT NOT NULL UNIQUE,
        org               TEXT NOT NULL,
        name              TEXT NOT NULL,
        description       TEXT,
        expires_at        BIGINT,
        grants            TEXT NOT NULL,
        networks          TEXT NOT NULL,
        enabled           BOOLEAN NOT NULL,
        version           BIGINT NOT NULL,
        created_at        BIGINT NOT NULL,
        updated_at        BIGINT NOT NULL,
        last_refreshed_at BIGINT,
        last_used_at      BIGINT,
        secret_hash       TEXT NOT NULL,
        generation        BIGINT NOT NULL,
        prev_secret_hash  TEXT,
        prev_until        BIGINT,
        name_folded       TEXT NOT NULL,
        desc_folded       TEXT
    );
    CREATE UNIQUE INDEX keys_org_name ON {s}.keys (org, name);
    CREATE INDEX keys_org_seq ON {s}.keys (org, seq);
    CREATE TABLE {s}.audit (
        seq      BIGSERIAL PRIMARY KEY,
        org      TEXT NOT NULL,
        at       BIGINT NOT NULL,
        actor    TEXT,
        action   TEXT NOT NULL,
        key_id   TEXT NOT NULL,
        key_name TEXT NOT NULL,
        changes  TEXT NOT NULL
    );
    CREATE INDEX audit_org_key ON {s}.audit (org, key_id, seq);
    CREATE TABLE {s}.access_log (
        rev    BIGINT PRIMARY KEY,
        key_id TEXT NOT NULL,
        nonce  BIGINT NOT NULL
    );
    CREATE TABLE {s}.signing_keys (
        kid      TEXT PRIMARY KEY,
        secret   BYTEA NOT NULL,
        position INTEGER NOT NULL
    );
    CREATE TABLE {s}.failures (
        key_id TEXT NOT NULL,
        at     BIGINT NOT NULL
    );
    CREATE INDEX failures_key_at ON {s}.failures (key_id, at);",
    // 2: signing keys with algorithms and states (the first key of version 1 signs
    // on as `current`, the others verify on as `retired`), settings, and the
    // revoked-token deny list.
    "ALTER TABLE {s}.signing_keys RENAME COLUMN secret TO private;
    ALTER TABLE {s}.signing_keys ALTER COLUMN private DROP NOT NULL;
    ALTER TABLE {s}.signing_keys
        ADD COLUMN alg        TEXT NOT NULL DEFAULT 'HS256',
        ADD COLUMN state      TEXT NOT NULL DEFAULT 'retired',
        ADD COLUMN created_at BIGINT NOT NULL
            DEFAULT (extract(epoch FROM now()) * 1000)::bigint,
        ADD COLUMN retired_at BIGINT,
        ADD COLUMN sealed     BOOLEAN NOT NULL DEFAULT FALSE,
        ADD COLUMN public     BYTEA NOT NULL DEFAULT ''::bytea,
        ADD COLUMN public_jwk TEXT;
    UPDATE {s}.signing_keys SET state = 'current'
        WHERE kid = (SELECT kid FROM {s}.signing_keys ORDER BY position, kid LIMIT 1);
    UPDATE {s}.signing_keys SET retired_at = created_at WHERE state = 'retired';
    ALTER TABLE {s}.signing_keys DROP COLUMN position;
    CREATE TABLE {s}.settings (
        name  TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE {s}.revoked_tokens (
        jti      TEXT PRIMARY KEY,
        until_ms BIGINT NOT NULL
    );",
    // 3: who created each key (the Key Admin API reports it).
    "ALTER TABLE {s}.keys ADD COLUMN creator TEXT, ADD COLUMN creator_key_id TEXT;",
];

const KEY_COLUMNS: &str = "seq, id, org, name, description, expires_at, grants, networks, enabled, \
     version, created_at, updated_at, last_refreshed_at, last_used_at, secret_hash, generation, \
     prev_secret_hash, prev_until, creator, creator_key_id";

/// A pooled connection and the statements prepared on it: each SQL text is parsed
/// once per connection, and every later call is one round trip.
struct Conn {
    client: Client,
    stmts: HashMap<String, Statement>,
}

/// Makes the pool's connections.
struct Manager {
    config: postgres::Config,
    tls: MakeRustlsConnect,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.config.connect(self.tls.clone())?,
            stmts: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// A connection, or a transaction on one, with its connection's prepared statements.
/// Its methods are those of `postgres::Client` it uses, over cached statements.
struct Db<'a, C: GenericClient> {
    c: &'a mut C,
    stmts: &'a mut HashMap<String, Statement>,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];
type PgResult<T> = std::result::Result<T, postgres::Error>;

impl<C: GenericClient> Db<'_, C> {
    fn stmt(&mut self, sql: &str) -> PgResult<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.stmts.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn on_stmt<T>(
        &mut self,
        sql: &str,
        run: impl FnOnce(&mut C, &Statement) -> PgResult<T>,
    ) -> PgResult<T> {
        let s = self.stmt(sql)?;
        run(self.c, &s)
    }

    fn query(&mut self, sql: &str, params: &Params<'_>) -> PgResult<Vec<Row>> {
        self.on_stmt(sql, |c, s| c.query(s, params))
    }

    fn query_one(&mut self, sql: &str, params: &Params<'_>) -> PgResult<Row> {
        self.on_stmt(sql, |c, s| c.query_one(s, params))
    }

    fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> PgResult<Option<Row>> {
        self.on_stmt(sql, |c, s| c.query_opt(s, params))
    }

    fn execute(&mut self, sql: &str, params: &Params<'_>) -> PgResult<u64> {
        self.on_stmt(sql, |c, s| c.execute(s, params))
    }
}

type Tx<'a, 'b> = Db<'a, Transaction<'b>>;

/// The columns every key write sets, in the order of [`KeyValues::params`].
const WRITE_COLUMNS: &str = "id, org, name, description, expires_at, grants, networks, enabled, \
     version, created_at, updated_at, last_refreshed_at, last_used_at, secret_hash, generation, \
     prev_secret_hash, prev_until, name_folded, desc_folded, creator, creator_key_id";
const WRITE_VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21";

/// A key's column values as stored (JSON lists, milliseconds, folded text).
struct KeyValues<'r> {
    rec: &'r KeyRecord,
    expires_at: Option<i64>,
    grants: String,
    networks: String,
    created_at: i64,
    updated_at: i64,
    last_refreshed_at: Option<i64>,
    last_used_at: Option<i64>,
    prev_hash: Option<&'r str>,
    prev_until: Option<i64>,
    name_folded: String,
    desc_folded: Option<String>,
}

impl<'r> KeyValues<'r> {
    fn new(rec: &'r KeyRecord) -> Self {
        KeyValues {
            rec,
            expires_at: rec.expires_at.map(Timestamp::as_millis),
            grants: strings_json(&rec.grants),
            networks: strings_json(&rec.networks),
            created_at: rec.created_at.as_millis(),
            updated_at: rec.updated_at.as_millis(),
            last_refreshed_at: rec.last_refreshed_at.map(Timestamp::as_millis),
            last_used_at: rec.last_used_at.map(Timestamp::as_millis),
            prev_hash: rec.previous.as_ref().map(|p| p.hash.as_str()),
            prev_until: rec.previous.as_ref().map(|p| p.until.as_millis()),
            name_folded: fold(&rec.name),
            desc_folded: rec.description.as_deref().map(fold),
        }
    }

    /// The values of [`WRITE_COLUMNS`], in order.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.rec.id,
            &self.rec.org,
            &self.rec.name,
            &self.rec.description,
            &self.expires_at,
            &self.grants,
            &self.networks,
            &self.rec.enabled,
            &self.rec.version,
            &self.created_at,
            &self.updated_at,
            &self.last_refreshed_at,
            &self.last_used_at,
            &self.rec.secret_hash,
            &self.rec.generation,
            &self.prev_hash,
            &self.prev_until,
            &self.name_folded,
            &self.desc_folded,
            &self.rec.creator,
            &self.rec.creator_key_id,
        ]
    }
}

/// A key store in a PostgreSQL database, shared by every host of a fleet.
pub struct PostgresBackend {
    target: String,
    config: postgres::Config,
    tls: MakeRustlsConnect,
    schema: String,
    channel: String,
    listen: bool,
    lock_key: i64,
    pool: Mutex<Option<r2d2::Pool<Manager>>>,
    /// The connection that reads the access log, apart from the pool so that
    /// refreshes never queue behind writers.
    sync_conn: Mutex<Option<Client>>,
    closed: Arc<AtomicBool>,
}

fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

fn storage(what: &str, e: &postgres::Error) -> Error {
    Error::storage(format!("PostgreSQL: {what}: {}", pg_error(e)))
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        storage("query failed", &e)
    }
}

/// Rewrites `:name` parameters to PostgreSQL's `$n`, returning the SQL and the names
/// in `$n` order.
fn bind_names(sql: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_ident = sql[i + 1..]
            .chars()
            .next()
            .is_some_and(|n| n.is_ascii_lowercase());
        let prev_colon = i > 0 && sql.as_bytes()[i - 1] == b':';
        if c == ':' && next_is_ident && !prev_colon {
            let mut name = String::new();
            while let Some((_, n)) = chars.peek() {
                if n.is_ascii_alphanumeric() || *n == '_' {
                    name.push(*n);
                    chars.next();
                } else {
                    break;
                }
            }
            let pos = match names.iter().position(|n| *n == name) {
                Some(p) => p,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            out.push_str(&format!("${}", pos + 1));
        } else {
            out.push(c);
        }
    }
    (out, names)
}

/// Runs `sql` with named parameters taken from `values`.
fn query_named(
    client: &mut Db<'_, Client>,
    sql: &str,
    values: &HashMap<&str, &(dyn ToSql + Sync)>,
) -> Result<Vec<Row>> {
    let (sql, names) = bind_names(sql);
    let params = names
        .iter()
        .map(|n| {
            values.get(n.as_str()).copied().ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!("SQL parameter :{n} has no value"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(client.query(sql.as_str(), &params)?)
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `require` and `prefer`: encrypt, check nothing about the certificate (libpq's
/// meaning); handshake signatures are still verified.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must reach a trusted root; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Trusted roots: `sslrootcert`, else `~/.postgresql/root.crt` (libpq's default),
/// else the system's.
fn roots(url: &PgUrl) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    let default = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".postgresql/root.crt"))
        .filter(|p| p.exists());
    let file = url.sslrootcert.clone().or(default);
    match file {
        Some(path) if path.as_os_str() != "system" => {
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::storage(format!(
                        "PostgreSQL: cannot read sslrootcert {}: {e}",
                        path.display()
                    ))
                })?;
            store.add_parsable_certificates(certs);
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
    }
    if store.is_empty() {
        return Err(Error::storage(format!(
            "PostgreSQL: sslmode={} needs trusted root certificates and none were found \
             (give sslrootcert=/path/to/ca.pem)",
            url.sslmode.as_str()
        )));
    }
    Ok(store)
}

fn tls_for(url: &PgUrl) -> Result<MakeRustlsConnect> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS setup: {e}")))?;
    let config = match url.sslmode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
            .with_no_client_auth(),
        SslMode::VerifyFull => builder
            .with_root_certificates(roots(url)?)
            .with_no_client_auth(),
        SslMode::VerifyCa => {
            let inner = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(url)?),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| Error::storage(format!("PostgreSQL: TLS roots: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
                .with_no_client_auth()
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

fn config_for(url: &PgUrl, busy_timeout: Duration) -> postgres::Config {
    let mut c = postgres::Config::new();
    c.host(&url.host)
        .port(url.port)
        .user(&url.user)
        .dbname(&url.dbname)
        .application_name(&url.application_name)
        .connect_timeout(
            url.connect_timeout
                .unwrap_or(busy_timeout.max(Duration::from_secs(1))),
        )
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .ssl_mode(match url.sslmode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
    if let Some(p) = &url.password {
        c.password(p);
    }
    // Row locks wait at most the busy timeout, like SQLite's.
    c.options(&format!(
        "-c lock_timeout={}",
        busy_timeout.as_millis().max(1)
    ));
    c
}

fn schema_ok(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// The pool's helper threads, shared by every handle of the process.
fn pool_threads() -> Arc<ScheduledThreadPool> {
    static THREADS: OnceLock<Arc<ScheduledThreadPool>> = OnceLock::new();
    Arc::clone(THREADS.get_or_init(|| {
        Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("keyscope-pg-pool-{}")
                .build(),
        )
    }))
}

impl PostgresBackend {
    /// Connects to the database at `url`, creating or migrating keyscope's schema.
    pub fn open(url: &str, options: &StoreOptions) -> Result<Self> {
        let parsed = PgUrl::parse(url)?;
        let schema = options
            .schema
            .clone()
            .unwrap_or_else(|| "keyscope".to_owned());
        if !schema_ok(&schema) {
            return Err(Error::invalid("schema", "must match [a-z_][a-z0-9_]{0,62}"));
        }
        let pool_size = options.pool_size.unwrap_or(4);
        if !(1..=64).contains(&pool_size) {
            return Err(Error::invalid("pool_size", "must be 1 to 64"));
        }
        let busy_timeout = Duration::from_millis(options.busy_timeout_ms.max(1));
        let tls = tls_for(&parsed)?;
        let config = config_for(&parsed, busy_timeout);
        let target = parsed.to_string();
        let lock_key = {
            let d = Sha256::digest(format!("keyscope schema {schema}").as_bytes());
            i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
        };
        let mut backend = PostgresBackend {
            target,
            config,
            tls,
            channel: format!("keyscope_{schema}"),
            schema,
            listen: options.listen.unwrap_or(true),
            lock_key,
            pool: Mutex::new(None),
            sync_conn: Mutex::new(None),
            closed: Arc::new(AtomicBool::new(false)),
        };
        // The first connection reports a refused login or an unreachable server with
        // the server's own reason; it then reads the access log.
        let mut first = backend.connect()?;
        backend.migrate(&mut first)?;
        *backend
            .sync_conn
            .get_mut()
            .unwrap_or_else(|p| p.into_inner()) = Some(first);
        let manager = Manager {
            config: backend.config.clone(),
            tls: backend.tls.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(busy_timeout)
            .test_on_check_out(false)
            .thread_pool(pool_threads())
            .build_unchecked(manager);
        *backend.pool.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(pool);
        Ok(backend)
    }

    fn connect(&self) -> Result<Client> {
        self.config
            .connect(self.tls.clone())
            .map_err(|e| storage(&format!("cannot connect to {}", self.target), &e))
    }

    /// `{s}` in `sql` becomes the quoted schema.
    fn sql(&self, sql: &str) -> String {
        sql.replace("{s}", &format!("\"{}\"", self.schema))
    }

    fn migrate(&self, client: &mut Client) -> Result<()> {
        // The common case, a current schema, takes no lock and needs no privilege to
        // create anything.
        let meta = format!("\"{}\".meta", self.schema);
        let exists: Option<String> = client
            .query_one("SELECT to_regclass($1)::text", &[&meta])?
            .get(0);
        if exists.is_some() {
            let v: i32 = client
                .query_one(&self.sql("SELECT schema_version FROM {s}.meta"), &[])?
                .get(0);
            if v == SCHEMA_VERSION {
                return Ok(());
            }
        }
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock_key])?;
        tx.batch_execute(&self.sql("CREATE SCHEMA IF NOT EXISTS {s}"))?;
        let meta: Option<String> = tx
            .query_one(
                "SELECT to_regclass($1)::text",
                &[&format!("\"{}\".meta", self.schema)],
            )?
            .get(0);
        let current: i32 = if meta.is_some() {
            tx.query_one(&self.sql("SELECT schema_version FROM {s}.meta"), &[])?
                .get(0)
        } else {
            tx.batch_execute(&self.sql(
                "CREATE TABLE {s}.meta (
                    one            BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
                    schema_version INTEGER NOT NULL,
                    access_rev     BIGINT NOT NULL
                 );
                 INSERT INTO {s}.meta (schema_version, access_rev) VALUES (0, 0);",
            ))?;
            0
        };
        if current > SCHEMA_VERSION {
            return Err(Error::storage(format!(
                "the database schema {:?} has version {current}, newer than this keyscope \
                 supports ({SCHEMA_VERSION}); upgrade keyscope to open it",
                self.schema
            )));
        }
        if current < SCHEMA_VERSION {
            for sql in MIGRATIONS.iter().skip(current as usize) {
                tx.batch_execute(&self.sql(sql))?;
            }
            tx.execute(
                &self.sql("UPDATE {s}.meta SET schema_version = $1"),
                &[&SCHEMA_VERSION],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn pooled(&self) -> Result<r2d2::PooledConnection<Manager>> {
        let pool = self
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::storage("the store is closed"))?;
        pool.get().map_err(|e| {
            Error::storage(format!(
                "PostgreSQL: no connection to {} within the busy timeout: {e}",
                self.target
            ))
        })
    }

    /// Runs a read (or an idempotent single statement) on a pooled connection. A
    /// connection the server dropped (a restart, a failover) is replaced and the call
    /// runs once more on a new one.
    fn with_client<T>(&self, mut f: impl FnMut(&mut Db<'_, Client>) -> Result<T>) -> Result<T> {
        let mut conn = self.pooled()?;
        let run = |conn: &mut Conn, f: &mut dyn FnMut(&mut Db<'_, Client>) -> Result<T>| {
            let Conn { client, stmts } = conn;
            f(&mut Db { c: client, stmts })
        };
        match run(&mut conn, &mut f) {
            Err(_) if conn.client.is_closed() => {
                drop(conn); // the pool discards a closed connection
                run(&mut *self.pooled()?, &mut f)
            }
            other => other,
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Tx<'_, '_>, &Self) -> Result<T>) -> Result<T> {
        let mut conn = self.pooled()?;
        let Conn { client, stmts } = &mut *conn;
        let mut tx = client.transaction()?;
        let out = f(&mut Db { c: &mut tx, stmts }, self)?;
        tx.commit().map_err(|e| storage("commit failed", &e))?;
        Ok(out)
    }

    /// Stamps a change of `key_id`'s access in the log, in the caller's transaction.
    fn log_access(&self, tx: &mut Tx<'_, '_>, key_id: &str) -> Result<()> {
        let rev: i64 = tx
            .query_one(
                &self.sql("UPDATE {s}.meta SET access_rev = access_rev + 1 RETURNING access_rev"),
                &[],
            )?
            .get(0);
        tx.execute(
            &self.sql("INSERT INTO {s}.access_log (rev, key_id, nonce) VALUES ($1, $2, $3)"),
            &[&rev, &key_id, &new_nonce()?],
        )?;
        if rev % 1000 == 0 {
            tx.execute(
                &self.sql("DELETE FROM {s}.access_log WHERE rev <= $1"),
                &[&(rev - ACCESS_LOG_KEEP)],
            )?;
        }
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&self.channel, &rev.to_string()],
        )?;
        Ok(())
    }

    /// The signing-key table.
    fn read_signing<C: GenericClient>(&self, c: &mut Db<'_, C>) -> Result<SigningTable> {
        let keys = c
            .query(
                &self.sql(
                    "SELECT kid, alg, state, created_at, retired_at, private, sealed, public,
                        public_jwk FROM {s}.signing_keys",
                ),
                &[],
            )?
            .iter()
            .map(|r| SigningRow {
                kid: r.get(0),
                alg: r.get(1),
                state: r.get(2),
                created_at: r.get(3),
                retired_at: r.get(4),
                private: r.get(5),
                sealed: r.get(6),
                public: r.get(7),
                public_jwk: r.get(8),
            })
            .collect();
        let kek_check = c
            .query_opt(
                &self.sql("SELECT value FROM {s}.settings WHERE name = 'kek_check'"),
                &[],
            )?
            .map(|r| r.get(0));
        Ok(SigningTable { keys, kek_check })
    }

    /// Replaces the signing-key table with `table` and tells every handle.
    fn write_signing(&self, tx: &mut Tx<'_, '_>, table: &SigningTable) -> Result<()> {
        tx.execute(&self.sql("DELETE FROM {s}.signing_keys"), &[])?;
        for k in &table.keys {
            tx.execute(
                &self.sql(
                    "INSERT INTO {s}.signing_keys (kid, alg, state, created_at, retired_at,
                        private, sealed, public, public_jwk)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                ),
                &[
                    &k.kid,
                    &k.alg,
                    &k.state,
                    &k.created_at,
                    &k.retired_at,
                    &k.private,
                    &k.sealed,
                    &k.public,
                    &k.public_jwk,
                ],
            )?;
        }
        match &table.kek_check {
            Some(v) => tx.execute(
                &self.sql(
                    "INSERT INTO {s}.settings (name, value) VALUES ('kek_check', $1)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                ),
                &[v],
            )?,
            None => tx.execute(
                &self.sql("DELETE FROM {s}.settings WHERE name = 'kek_check'"),
                &[],
            )?,
        };
        self.log_access(tx, super::SIGNING_CHANGED)
    }

    /// Inserts a key row, credentials included; sets `rec.seq`.
    fn insert_key_row(&self, tx: &mut Tx<'_, '_>, rec: &mut KeyRecord) -> Result<()> {
        let values = KeyValues::new(rec);
        let row = tx
            .query_one(
                &self.sql(&format!(
                    "INSERT INTO {{s}}.keys ({WRITE_COLUMNS}) VALUES ({WRITE_VALUES}) RETURNING seq"
                )),
                &values.params(),
            )
            .map_err(|e| db_error(&e, &rec.org, &rec.name))?;
        rec.seq = row.get(0);
        Ok(())
    }

    fn insert_audit(&self, tx: &mut Tx<'_, '_>, org: &str, a: &AuditEntry) -> Result<()> {
        self.log_access(tx, &a.key_id)?;
        self.insert_audit_row(tx, org, a)
    }

    fn insert_audit_row(&self, tx: &mut Tx<'_, '_>, org: &str, a: &AuditEntry) -> Result<()> {
        tx.execute(
            &self.sql(
                "INSERT INTO {s}.audit (org, at, actor, action, key_id, key_name, changes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ),
            &[
                &org,
                &a.at.as_millis(),
                &a.actor,
                &a.action.as_str(),
                &a.key_id,
                &a.key_name,
                &strings_json(&a.changes),
            ],
        )?;
        Ok(())
    }

    fn select_key(
        &self,
        client: &mut Db<'_, impl GenericClient>,
        org: Option<&str>,
        id: &str,
        for_update: bool,
    ) -> Result<Option<KeyRecord>> {
        let sql = self.sql(&format!(
            "SELECT {KEY_COLUMNS} FROM {{s}}.keys WHERE id = $1 AND ($2::text IS NULL OR org = $2){}",
            if for_update { " FOR UPDATE" } else { "" }
        ));
        client
            .query_opt(sql.as_str(), &[&id, &org])
            .map_err(|e| db_error(&e, "", ""))?
            .map(|r| row_to_key(&r))
            .transpose()
    }

    fn head(&self, client: &mut Client) -> Result<SyncPoint> {
        Ok(client
            .query_opt(
                &self.sql("SELECT rev, nonce FROM {s}.access_log ORDER BY rev DESC LIMIT 1"),
                &[],
            )?
            .map(|r| SyncPoint {
                rev: r.get(0),
                nonce: r.get(1),
            })
            .unwrap_or_default())
    }

    fn with_sync_conn<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::storage("the store is closed"));
        }
        let mut guard = self.sync_conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = Some(self.connect()?);
        }
        let result = f(guard.as_mut().expect("connected above"));
        if result.is_err() && guard.as_ref().is_some_and(|c| c.is_closed()) {
            *guard = None;
        }
        result
    }
}

fn db_error(e: &postgres::Error, org: &str, name: &str) -> Error {
    match e.code() {
        Some(c) if *c == postgres::error::SqlState::UNIQUE_VIOLATION => Error::new(
            ErrorKind::Conflict,
            format!("a key named {name:?} already exists in org {org:?}"),
        )
        .with_field("name"),
        Some(c) if *c == postgres::error::SqlState::LOCK_NOT_AVAILABLE => Error::storage(format!(
            "PostgreSQL: a row stayed locked past the busy timeout: {}",
            pg_error(e)
        )),
        _ => storage("query failed", e),
    }
}

fn strings_json<T: ToString>(items: &[T]) -> String {
    serde_json::to_string(&items.iter().map(T::to_string).collect::<Vec<_>>())
        .expect("strings serialize")
}

fn parse_list<T>(json: &str, what: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let corrupt = |why: String| Error::storage(format!("stored {what} are corrupt: {why}"));
    let items: Vec<String> = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    items
        .iter()
        .map(|s| parse(s).map_err(|e| corrupt(e.to_string())))
        .collect()
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(|m| Timestamp::from_millis(m, "stored instant").unwrap_or(Timestamp::MAX))
}

fn ts1(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms, "stored instant").unwrap_or(Timestamp::MAX)
}

/// An audit record from columns 1–6 (`at, actor, action, key_id, key_name, changes`).
fn audit_from_row(r: &Row) -> Result<AuditRecord> {
    let action: String = r.get(3);
    Ok(AuditRecord {
        at: ts1(r.get(1)),
        actor: r.get(2),
        action: AuditAction::parse(&action)?,
        key_id: r.get(4),
        key_name: r.get(5),
        changes: parse_list(r.get(6), "changes", |s| Ok(s.to_owned()))?,
    })
}

fn row_to_key(r: &Row) -> Result<KeyRecord> {
    let prev_hash: Option<String> = r.get(16);
    let prev_until: Option<i64> = r.get(17);
    Ok(KeyRecord {
        seq: r.get(0),
        id: r.get(1),
        org: r.get(2),
        name: r.get(3),
        description: r.get(4),
        expires_at: ts(r.get(5)),
        grants: parse_list(r.get(6), "grants", |s| Grant::parse(s, "grant"))?,
        networks: parse_list(r.get(7), "networks", |s| Network::parse(s, "network"))?,
        enabled: r.get(8),
        version: r.get(9),
        created_at: ts1(r.get(10)),
        updated_at: ts1(r.get(11)),
        last_refreshed_at: ts(r.get(12)),
        last_used_at: ts(r.get(13)),
        secret_hash: r.get(14),
        generation: r.get(15),
        previous: match (prev_hash, prev_until) {
            (Some(hash), Some(until)) => Some(PreviousSecret {
                hash,
                until: ts1(until),
            }),
            _ => None,
        },
        creator: r.get(18),
        creator_key_id: r.get(19),
    })
}

impl Backend for PostgresBackend {
    fn insert_key(&self, rec: &mut KeyRecord, audit: &AuditEntry) -> Result<()> {
        self.write(|tx, me| {
            me.insert_key_row(tx, rec)?;
            me.insert_audit(tx, &rec.org, audit)
        })
    }

    fn get_key(&self, org: Option<&str>, id: &str) -> Result<Option<KeyRecord>> {
        self.with_client(|c| self.select_key(c, org, id, false))
    }

    fn update_key(&self, org: &str, id: &str, change: &mut Mutation<'_>) -> Result<KeyRecord> {
        self.write(|tx, me| {
            let mut rec = me
                .select_key(tx, Some(org), id, true)?
                .ok_or_else(|| Error::not_found(id))?;
            let audit = change(&mut rec)?;
            let values = KeyValues::new(&rec);
            let mut params = values.params();
            params.push(&rec.seq);
            tx.execute(
                &me.sql(&format!(
                    "UPDATE {{s}}.keys SET ({WRITE_COLUMNS}) = ({WRITE_VALUES}) WHERE seq = $22"
                )),
                &params,
            )
            .map_err(|e| db_error(&e, org, &rec.name))?;
            me.insert_audit(tx, org, &audit)?;
            Ok(rec)
        })
    }

    fn delete_key(
        &self,
        org: &str,
        id: &str,
        audit: &dyn Fn(&KeyRecord) -> Result<AuditEntry>,
    ) -> Result<()> {
        self.write(|tx, me| {
            let rec = me
                .select_key(tx, Some(org), id, true)?
                .ok_or_else(|| Error::not_found(id))?;
            let entry = audit(&rec)?;
            tx.execute(&me.sql("DELETE FROM {s}.keys WHERE seq = $1"), &[&rec.seq])?;
            me.insert_audit(tx, org, &entry)
        })
    }

    fn scan_keys(&self, scan: &KeyScan<'_>) -> Result<Vec<KeyRecord>> {
        let sql = self.sql(&format!(
            "SELECT {KEY_COLUMNS} FROM {{s}}.keys WHERE org = :org AND seq > :after AND {}
               AND (CAST(:search AS TEXT) IS NULL OR strpos(name_folded, :search) > 0
                    OR strpos(COALESCE(desc_folded, ''), :search) > 0)
             ORDER BY seq LIMIT :limit",
            scan.status.sql_condition()
        ));
        let (now, until) = (scan.now.as_millis(), scan.expiring_until.as_millis());
        let values: HashMap<&str, &(dyn ToSql + Sync)> = HashMap::from([
            ("org", &scan.org as &(dyn ToSql + Sync)),
            ("after", &scan.after_seq),
            ("search", &scan.search),
            ("limit", &scan.limit),
            ("now", &now),
            ("until", &until),
        ]);
        self.with_client(|c| {
            query_named(c, &sql, &values)?
                .iter()
                .map(row_to_key)
                .collect()
        })
    }

    fn summary(&self, org: &str, now: Timestamp, expiring_until: Timestamp) -> Result<Summary> {
        let sql = self.sql(&format!(
            "SELECT {} FROM {{s}}.keys WHERE org = :org",
            StatusFilter::summary_sql_columns()
        ));
        let (now, until) = (now.as_millis(), expiring_until.as_millis());
        let values: HashMap<&str, &(dyn ToSql + Sync)> = HashMap::from([
            ("org", &org as &(dyn ToSql + Sync)),
            ("now", &now),
            ("until", &until),
        ]);
        self.with_client(|c| {
            let rows = query_named(c, &sql, &values)?;
            let r = rows
                .first()
                .ok_or_else(|| Error::storage("PostgreSQL: the summary returned no row"))?;
            let (total, disabled, expired, expiring, never): (i64, i64, i64, i64, i64) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            Ok(Summary {
                total: total as u64,
                active: (total - disabled - expired) as u64,
                expired: expired as u64,
                expiring_soon: expiring as u64,
                never_expires: never as u64,
                disabled: disabled as u64,
            })
        })
    }

    fn audit_log(
        &self,
        org: &str,
        key_id: Option<&str>,
        before_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AuditRecord)>> {
        self.with_client(|c| {
            let rows = c.query(
                &self.sql(
                    "SELECT seq, at, actor, action, key_id, key_name, changes FROM {s}.audit
                     WHERE org = $1 AND ($2::text IS NULL OR key_id = $2) AND seq < $3
                     ORDER BY seq DESC LIMIT $4",
                ),
                &[&org, &key_id, &before_seq, &limit],
            )?;
            rows.iter()
                .map(|r| Ok((r.get::<_, i64>(0), audit_from_row(r)?)))
                .collect()
        })
    }

    fn touch_last_used(&self, id: &str, at: Timestamp) -> Result<()> {
        self.with_client(|c| {
            c.execute(
                &self.sql("UPDATE {s}.keys SET last_used_at = $2 WHERE id = $1"),
                &[&id, &at.as_millis()],
            )
            .map_err(|e| db_error(&e, "", ""))?;
            Ok(())
        })
    }

    fn replace_hash(&self, id: &str, old: &str, new: &str) -> Result<()> {
        self.with_client(|c| {
            c.execute(
                &self
                    .sql("UPDATE {s}.keys SET secret_hash = $3 WHERE id = $1 AND secret_hash = $2"),
                &[&id, &old, &new],
            )
            .map_err(|e| db_error(&e, "", ""))?;
            Ok(())
        })
    }

    fn sync_point(&self) -> Result<SyncPoint> {
        self.with_sync_conn(|c| self.head(c))
    }

    fn access_changes(&self, since: SyncPoint) -> Result<AccessChanges> {
        self.with_sync_conn(|c| {
            let rows = c.query(
                &self.sql(
                    "SELECT rev, key_id, nonce FROM {s}.access_log WHERE rev >= $1 ORDER BY rev",
                ),
                &[&since.rev],
            )?;
            let rows: Vec<(i64, String, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let head = match rows.last() {
                Some(_) => SyncPoint::default(),
                None => self.head(c)?,
            };
            Ok(classify_changes(since, head, rows))
        })
    }

    fn signing_table(&self) -> Result<SigningTable> {
        self.with_client(|c| self.read_signing(c))
    }

    fn update_signing_table(
        &self,
        audit_org: &str,
        change: &mut super::SigningChange<'_>,
    ) -> Result<()> {
        self.write(|tx, me| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&me.lock_key])?;
            let mut table = me.read_signing(tx)?;
            if let Some(entries) = change(&mut table)? {
                me.write_signing(tx, &table)?;
                for a in &entries {
                    me.insert_audit_row(tx, audit_org, a)?;
                }
            }
            Ok(())
        })
    }

    fn revoke_token_id(&self, jti: &str, until: i64, now: Timestamp) -> Result<()> {
        self.write(|tx, me| {
            tx.execute(
                &me.sql(
                    "INSERT INTO {s}.revoked_tokens (jti, until_ms) VALUES ($1, $2)
                     ON CONFLICT (jti) DO UPDATE
                     SET until_ms = GREATEST({s}.revoked_tokens.until_ms, excluded.until_ms)",
                ),
                &[&jti, &until],
            )?;
            tx.execute(
                &me.sql("DELETE FROM {s}.revoked_tokens WHERE until_ms <= $1"),
                &[&now.as_millis()],
            )?;
            me.log_access(tx, super::TOKENS_REVOKED)
        })
    }

    fn revoked_token_ids(&self, now: Timestamp) -> Result<Vec<String>> {
        self.with_client(|c| {
            Ok(c.query(
                &self.sql("SELECT jti FROM {s}.revoked_tokens WHERE until_ms > $1"),
                &[&now.as_millis()],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn syncs_in_background(&self) -> bool {
        true
    }

    fn watch(&self, interval: Duration, on_change: Box<dyn Fn() -> bool + Send>) {
        let config = self.config.clone();
        let tls = self.tls.clone();
        let channel = self.channel.clone();
        let listen = self.listen;
        let closed = Arc::clone(&self.closed);
        let spawned = std::thread::Builder::new()
            .name("keyscope-pg-listen".into())
            .spawn(move || {
                let mut client: Option<Client> = None;
                let mut backoff = Duration::from_millis(10);
                loop {
                    if closed.load(Ordering::Relaxed) {
                        return;
                    }
                    if listen && client.as_ref().is_none_or(|c| c.is_closed()) {
                        client = config.connect(tls.clone()).ok().and_then(|mut c| {
                            c.batch_execute(&format!("LISTEN \"{channel}\"")).ok()?;
                            Some(c)
                        });
                        if client.is_some() {
                            backoff = Duration::from_millis(10);
                        } else {
                            // Reconnect with backoff; the poll below still runs.
                            std::thread::sleep(backoff.min(interval));
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                        }
                    }
                    let broken = match client.as_mut() {
                        Some(c) => {
                            let mut n = c.notifications();
                            let got = n.timeout_iter(interval).next();
                            match got {
                                Err(_) => true,
                                Ok(Some(_)) => {
                                    // Drain what else arrived: one catch-up covers all.
                                    while let Ok(Some(_)) = n.iter().next() {}
                                    false
                                }
                                Ok(None) => false,
                            }
                        }
                        None => {
                            if !listen {
                                std::thread::sleep(interval);
                            }
                            false
                        }
                    };
                    if broken {
                        client = None;
                    }
                    // After every notification, timeout or reconnection: catch up.
                    if !on_change() {
                        return;
                    }
                }
            });
        if spawned.is_err() {
            // Without the thread the handle's state ages out and `authorize` fails
            // closed after `offline_grace`; lifecycle calls keep working.
        }
    }

    fn counts_failures(&self) -> bool {
        true
    }

    fn record_failure(&self, key_id: &str, at: Timestamp, forget_before: Timestamp) -> Result<()> {
        self.write(|tx, me| {
            tx.execute(
                &me.sql("DELETE FROM {s}.failures WHERE key_id = $1 AND at <= $2"),
                &[&key_id, &forget_before.as_millis()],
            )?;
            tx.execute(
                &me.sql("INSERT INTO {s}.failures (key_id, at) VALUES ($1, $2)"),
                &[&key_id, &at.as_millis()],
            )?;
            Ok(())
        })
    }

    fn recent_failures(&self, key_id: &str, since: Timestamp, max: u32) -> Result<Vec<i64>> {
        self.with_client(|c| {
            let rows = c.query(
                &self.sql(
                    "SELECT at FROM (SELECT at FROM {s}.failures WHERE key_id = $1 AND at > $2
                       ORDER BY at DESC LIMIT $3) newest ORDER BY at",
                ),
                &[&key_id, &since.as_millis(), &i64::from(max)],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn export(&self) -> Result<Snapshot> {
        self.with_client(|c| {
            // One snapshot for keys, audit records and signing keys.
            let mut tx =
                c.c.build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
            let keys = tx
                .query(
                    &self.sql(&format!(
                        "SELECT {KEY_COLUMNS} FROM {{s}}.keys ORDER BY seq"
                    )),
                    &[],
                )?
                .iter()
                .map(row_to_key)
                .collect::<Result<Vec<_>>>()?;
            let audit = tx
                .query(
                    &self.sql(
                        "SELECT org, at, actor, action, key_id, key_name, changes
                         FROM {s}.audit ORDER BY seq",
                    ),
                    &[],
                )?
                .iter()
                .map(|r| Ok((r.get::<_, String>(0), audit_from_row(r)?)))
                .collect::<Result<Vec<_>>>()?;
            let signing = {
                let mut db = Db {
                    c: &mut tx,
                    stmts: &mut HashMap::new(),
                };
                self.read_signing(&mut db)?
            };
            let revoked = tx
                .query(
                    &self.sql("SELECT jti, until_ms FROM {s}.revoked_tokens ORDER BY jti"),
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            tx.commit()?;
            Ok(Snapshot {
                keys,
                audit,
                signing,
                revoked,
            })
        })
    }

    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        self.write(|tx, me| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&me.lock_key])?;
            let held: i64 = tx
                .query_one(&me.sql("SELECT COUNT(*) FROM {s}.keys"), &[])?
                .get(0);
            if held > 0 {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("the destination already holds {held} keys"),
                ));
            }
            for rec in &snapshot.keys {
                me.insert_key_row(tx, &mut rec.clone())?;
                me.log_access(tx, &rec.id)?;
            }
            for (org, a) in &snapshot.audit {
                me.insert_audit_row(tx, org, a)?;
            }
            if !snapshot.signing.keys.is_empty() {
                me.write_signing(tx, &snapshot.signing)?;
            }
            for (jti, until) in &snapshot.revoked {
                tx.execute(
                    &me.sql(
                        "INSERT INTO {s}.revoked_tokens (jti, until_ms) VALUES ($1, $2)
                         ON CONFLICT (jti) DO NOTHING",
                    ),
                    &[jti, until],
                )?;
            }
            if !snapshot.revoked.is_empty() {
                me.log_access(tx, super::TOKENS_REVOKED)?;
            }
            Ok(())
        })
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.sync_conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_parameters_become_numbered_in_first_use_order() {
        let (sql, names) = bind_names("a = :org AND b > :now AND c <= :until AND d = :now::text");
        assert_eq!(sql, "a = $1 AND b > $2 AND c <= $3 AND d = $2::text");
        assert_eq!(names, ["org", "now", "until"]);
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(schema_ok("keyscope"));
        assert!(schema_ok("_a9"));
        for bad in ["", "9a", "Key", "a-b", "a\"b", &"a".repeat(64)] {
            assert!(!schema_ok(bad), "{bad}");
        }
    }
}
