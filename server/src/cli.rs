//! The command line: every store option as a flag and a `KEYSCOPE_*` variable, and
//! the checks that turn them into `keyscope_core::Options` (a bad one exits 2).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::error::ErrorKind as ClapErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use keyscope_core::{Alg, Argon2Params, Catalog, Options};
use zeroize::Zeroizing;

const AFTER_HELP: &str = "\
Secrets are never flag values (any user of the machine can read a command line):
  key-encryption key  KEYSCOPE_KEY_ENCRYPTION_KEY (base64 of 32 bytes) or --key-encryption-key-file
  HS256 signing keys  KEYSCOPE_SIGNING_KEYS (kid:base64,...) or --signing-keys-file (one kid:base64 a line)
  database password   inside the URL, from KEYSCOPE_DB or --db-file only

Without --issuer, a loopback listener is its own issuer (http://HOST:PORT, or https:// with
TLS); any other listen address needs --issuer. Once it accepts connections the server prints
one line `listening on http://HOST:PORT` to stdout; logs (one line a request) go to stderr.
GET /metrics is Prometheus text. SIGTERM or SIGINT: stop accepting, finish what is in flight
(up to 10 s), close the store, exit 0.

Examples:
  keyscope-server --db keys.db --listen 127.0.0.1:8080
  KEYSCOPE_DB=postgresql://keyscope:PASSWORD@db/keys keyscope-server --listen 0.0.0.0:8443 \\
      --issuer https://auth.example.com --tls-cert cert.pem --tls-key key.pem --trusted-proxy 10.0.0.0/8";

/// keyscope's HTTP server: OAuth client-credentials tokens, discovery, the JWK Set,
/// introspection, revocation, health and the Key Admin API over one key store.
#[derive(Parser, Debug)]
#[command(name = "keyscope-server", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The store: an SQLite file path or a postgres:// URL. A URL with a password is
    /// only accepted from the environment (KEYSCOPE_DB) or --db-file.
    #[arg(
        long,
        env = "KEYSCOPE_DB",
        value_name = "PATH|URL",
        hide_env_values = true
    )]
    pub db: Option<String>,

    /// A file holding the store's location (an SQLite path or a postgres:// URL,
    /// password included) on its first line.
    #[arg(
        long,
        env = "KEYSCOPE_DB_FILE",
        value_name = "PATH",
        conflicts_with = "db"
    )]
    pub db_file: Option<PathBuf>,

    /// The address to listen on; port 0 takes a free port.
    #[arg(
        long,
        env = "KEYSCOPE_LISTEN",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,

    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(
        long,
        env = "KEYSCOPE_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "KEYSCOPE_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// The `iss` claim and base URL (https://, or http:// on loopback). Default on a
    /// loopback listener: http://HOST:PORT of the bound address; required elsewhere.
    #[arg(long, env = "KEYSCOPE_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,

    /// The `aud` claim written and required (default: the issuer).
    #[arg(long, env = "KEYSCOPE_AUDIENCE", value_name = "TEXT")]
    pub audience: Option<String>,

    /// Access-token lifetime in seconds, 60 to 86400 (default 3600).
    #[arg(long, env = "KEYSCOPE_TOKEN_TTL", value_name = "SECONDS")]
    pub token_ttl: Option<i64>,

    /// Clock skew tolerated on exp/iat in seconds, 0 to 60 (default 0).
    #[arg(long, env = "KEYSCOPE_LEEWAY", value_name = "SECONDS")]
    pub leeway: Option<i64>,

    /// Accept networks that are not globally reachable in keys.
    #[arg(long, env = "KEYSCOPE_ALLOW_PRIVATE_NETWORKS")]
    pub allow_private_networks: bool,

    /// Argon2id cost of new hashes, JSON: {"memory_kib":19456,"iterations":2,"parallelism":1}
    /// (missing fields keep their defaults).
    #[arg(long, env = "KEYSCOPE_ARGON2", value_name = "JSON")]
    pub argon2: Option<String>,

    /// Prefix of generated secrets, [a-z0-9]{2,8} (default kss).
    #[arg(long, env = "KEYSCOPE_SECRET_PREFIX", value_name = "PREFIX")]
    pub secret_prefix: Option<String>,

    /// Failed secret checks per key per minute before rate_limited (default 20).
    #[arg(
        long,
        env = "KEYSCOPE_MAX_FAILED_EXCHANGES_PER_MINUTE",
        value_name = "N"
    )]
    pub max_failed_exchanges_per_minute: Option<u32>,

    /// Seconds another handle's change may take to reach this one, 0 to 60 (default 1).
    #[arg(long, env = "KEYSCOPE_REVOCATION_STALENESS", value_name = "SECONDS")]
    pub revocation_staleness: Option<f64>,

    /// An address or CIDR whose X-Forwarded-For is believed; repeat it, or separate
    /// with commas (KEYSCOPE_TRUSTED_PROXIES).
    #[arg(
        long = "trusted-proxy",
        env = "KEYSCOPE_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,

    /// Seconds authorize keeps answering from memory when the store cannot be read,
    /// 0 to 3600 (default 30).
    #[arg(long, env = "KEYSCOPE_OFFLINE_GRACE", value_name = "SECONDS")]
    pub offline_grace: Option<f64>,

    /// Check grants against a catalog: `secure_access` (built in) or a JSON file
    /// {"scopes": {"<scope>": {"<resource>": "read"|"write"}}}.
    #[arg(long, env = "KEYSCOPE_CATALOG", value_name = "NAME|PATH")]
    pub catalog: Option<String>,

    /// Algorithm of the signing keys the store generates: ES256 (default), EdDSA,
    /// RS256 or HS256.
    #[arg(long, env = "KEYSCOPE_TOKEN_ALG", value_name = "ALG")]
    pub token_alg: Option<String>,

    /// How long a call waits for a lock or a connection, in seconds (default 5).
    #[arg(long, env = "KEYSCOPE_BUSY_TIMEOUT", value_name = "SECONDS")]
    pub busy_timeout: Option<f64>,

    /// PostgreSQL: the schema holding keyscope's tables (default keyscope).
    #[arg(long, env = "KEYSCOPE_SCHEMA", value_name = "NAME")]
    pub schema: Option<String>,

    /// PostgreSQL: connections in the pool, 1 to 64 (default 4).
    #[arg(long, env = "KEYSCOPE_POOL_SIZE", value_name = "N")]
    pub pool_size: Option<u32>,

    /// PostgreSQL: follow changes by LISTEN/NOTIFY as well as by polling (default on;
    /// off for poolers that break LISTEN).
    #[arg(long, env = "KEYSCOPE_LISTEN_NOTIFY", value_name = "on|off", value_parser = on_off)]
    pub listen_notify: Option<bool>,

    /// A file with the key-encryption key (base64 of 32 bytes) that seals the store's
    /// private signing keys; default KEYSCOPE_KEY_ENCRYPTION_KEY.
    #[arg(long, env = "KEYSCOPE_KEY_ENCRYPTION_KEY_FILE", value_name = "PATH")]
    pub key_encryption_key_file: Option<PathBuf>,

    /// A file of HS256 signing keys, `kid:base64` one a line (the first signs); default
    /// KEYSCOPE_SIGNING_KEYS, else the store's own keys.
    #[arg(long, env = "KEYSCOPE_SIGNING_KEYS_FILE", value_name = "PATH")]
    pub signing_keys_file: Option<PathBuf>,

    /// Seconds a client has to send a request's headers, and then its body; also the
    /// TLS handshake's limit and the idle time of a kept-alive connection.
    #[arg(
        long,
        env = "KEYSCOPE_REQUEST_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 10.0
    )]
    pub request_timeout: f64,

    /// Threads calling the store for requests that may run Argon2 (default: one per
    /// core); GET and HEAD get four times as many.
    #[arg(long, env = "KEYSCOPE_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Requests that may wait for a worker (in each of the two pools) before the
    /// server answers 503 with Retry-After: 1.
    #[arg(
        long,
        env = "KEYSCOPE_MAX_QUEUE",
        value_name = "N",
        default_value_t = 64
    )]
    pub max_queue: usize,

    /// Open connections at most; more wait to be accepted.
    #[arg(
        long,
        env = "KEYSCOPE_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 4096
    )]
    pub max_connections: usize,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err("must be on or off".into()),
    }
}

/// Everything `main` needs, checked.
pub struct Config {
    /// The store's location (may hold a password: never print it).
    pub location: Zeroizing<String>,
    /// The listen address, resolved.
    pub listen: SocketAddr,
    /// Certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The store's options; `issuer` is `None` until the listener is bound.
    pub options: Options,
    /// The issuer given, if any.
    pub issuer: Option<String>,
    /// See [`Cli::request_timeout`].
    pub request_timeout: Duration,
    /// See [`Cli::max_queue`].
    pub max_queue: usize,
    /// See [`Cli::max_connections`].
    pub max_connections: usize,
    /// See [`Cli::workers`].
    pub workers: usize,
}

/// Exits 2 with clap's error format.
pub fn fail(message: impl std::fmt::Display) -> ! {
    Cli::command()
        .error(ClapErrorKind::ValueValidation, message)
        .exit()
}

fn read_secret_file(path: &Path, flag: &str) -> Zeroizing<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            warn_if_readable_by_others(path, flag);
            Zeroizing::new(text)
        }
        Err(e) => fail(format!("{flag} {}: {e}", path.display())),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, flag: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: {flag} {} can be read by other users (chmod 600 it)",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path, _: &str) {}

/// Whether a postgres URL carries a password (in the user info or as a parameter).
fn url_has_password(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("postgres://")
        .or_else(|| lower.strip_prefix("postgresql://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let in_userinfo = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let in_query = rest
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("password=")));
    in_userinfo || in_query
}

fn seconds(value: f64, flag: &str) -> f64 {
    if !value.is_finite() || value < 0.0 {
        fail(format!("{flag}: {value} must be a number of seconds ≥ 0"));
    }
    value
}

/// The flag (or variable) that sets core option `field`, for error messages.
pub fn flag_of(field: &str) -> String {
    let head = field.split(['.', '[']).next().unwrap_or(field);
    match head {
        "trusted_proxies" => "--trusted-proxy".into(),
        "listen" => "--listen-notify".into(),
        "signing_keys" => "--signing-keys-file / KEYSCOPE_SIGNING_KEYS".into(),
        "key_encryption_key" | "KEYSCOPE_KEY_ENCRYPTION_KEY" => {
            "--key-encryption-key-file / KEYSCOPE_KEY_ENCRYPTION_KEY".into()
        }
        h if h.starts_with("KEYSCOPE_") => h.into(),
        h => format!("--{}", h.replace('_', "-")),
    }
}

impl Config {
    /// Parses the command line and the environment; exits 2 on anything wrong.
    pub fn from_env() -> Config {
        let matches = Cli::command().get_matches();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        Config::from_cli(cli, &matches)
    }

    fn from_cli(cli: Cli, matches: &ArgMatches) -> Config {
        let location = match (&cli.db, &cli.db_file) {
            (Some(db), None) => {
                if matches.value_source("db") == Some(ValueSource::CommandLine)
                    && url_has_password(db)
                {
                    fail(
                        "--db: a URL with a password is only read from KEYSCOPE_DB or --db-file \
                         (a command line is visible to every user of the machine)",
                    );
                }
                Zeroizing::new(db.clone())
            }
            (None, Some(path)) => {
                let text = read_secret_file(path, "--db-file");
                let first = text.lines().next().unwrap_or("").trim();
                if first.is_empty() {
                    fail(format!("--db-file {}: the file is empty", path.display()));
                }
                Zeroizing::new(first.to_owned())
            }
            (None, None) => fail("the store is required: --db PATH|URL, KEYSCOPE_DB or --db-file"),
            (Some(_), Some(_)) => fail("--db and --db-file go one at a time"),
        };

        let listen = match cli.listen.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(a)) => a,
            Ok(None) => fail(format!("--listen {}: no address", cli.listen)),
            Err(e) => fail(format!(
                "--listen {}: {e} (give HOST:PORT, e.g. 127.0.0.1:8080)",
                cli.listen
            )),
        };
        if cli.issuer.is_none() && !listen.ip().is_loopback() {
            fail(format!(
                "--issuer is required when listening on {listen}, which is not a loopback \
                 address (for example --issuer https://auth.example.com)"
            ));
        }

        let mut o = Options::default();
        if let Some(v) = cli.token_ttl {
            o.token_ttl = v;
        }
        o.audience = cli.audience.clone();
        if let Some(v) = cli.leeway {
            o.leeway = v;
        }
        o.allow_private_networks = cli.allow_private_networks;
        if let Some(json) = &cli.argon2 {
            o.argon2 = parse_argon2(json);
        }
        if let Some(v) = &cli.secret_prefix {
            o.secret_prefix = v.clone();
        }
        if let Some(v) = cli.max_failed_exchanges_per_minute {
            o.max_failed_exchanges_per_minute = v;
        }
        if let Some(v) = cli.revocation_staleness {
            o.revocation_staleness = seconds(v, "--revocation-staleness");
        }
        o.trusted_proxies = cli
            .trusted_proxies
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if let Some(v) = cli.offline_grace {
            o.offline_grace = seconds(v, "--offline-grace");
        }
        if let Some(c) = &cli.catalog {
            o.catalog = Some(parse_catalog(c));
        }
        if let Some(a) = &cli.token_alg {
            o.token_alg = Some(Alg::parse(a, "token_alg").unwrap_or_else(|e| {
                fail(format!("--token-alg: {e}"));
            }));
        }
        if let Some(v) = cli.busy_timeout {
            let ms = seconds(v, "--busy-timeout") * 1000.0;
            if ms > 600_000.0 {
                fail("--busy-timeout: must be at most 600 seconds");
            }
            o.store.busy_timeout_ms = ms.round() as u64;
        }
        o.store.schema = cli.schema.clone();
        o.store.pool_size = cli.pool_size;
        o.store.listen = cli.listen_notify;
        if let Some(path) = &cli.key_encryption_key_file {
            let text = read_secret_file(path, "--key-encryption-key-file");
            let t = text.trim();
            let bytes = STANDARD
                .decode(t)
                .or_else(|_| URL_SAFE_NO_PAD.decode(t))
                .unwrap_or_else(|_| {
                    fail(format!(
                        "--key-encryption-key-file {}: not base64 (of 32 bytes)",
                        path.display()
                    ))
                });
            o.key_encryption_key = Some(Zeroizing::new(bytes));
        }
        if let Some(path) = &cli.signing_keys_file {
            let text = read_secret_file(path, "--signing-keys-file");
            let body: Zeroizing<String> = Zeroizing::new(
                text.lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            o.signing_keys = keyscope_core::signing::parse_key_list(&body, "signing_keys")
                .unwrap_or_else(|e| {
                    fail(format!("--signing-keys-file {}: {e}", path.display()));
                });
        }
        if !(cli.request_timeout.is_finite() && (0.1..=3600.0).contains(&cli.request_timeout)) {
            fail("--request-timeout: must be 0.1 to 3600 seconds");
        }
        let workers = match cli.workers {
            Some(0) => fail("--workers: must be at least 1"),
            Some(n) if n > 1024 => fail("--workers: must be at most 1024"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        if cli.max_connections == 0 {
            fail("--max-connections: must be at least 1");
        }
        let tls = match (cli.tls_cert, cli.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        };
        Config {
            location,
            listen,
            tls,
            options: o,
            issuer: cli.issuer,
            request_timeout: Duration::from_secs_f64(cli.request_timeout),
            max_queue: cli.max_queue,
            max_connections: cli.max_connections,
            workers,
        }
    }
}

fn parse_argon2(json: &str) -> Argon2Params {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| fail(format!("--argon2: not JSON ({e})")));
    let Some(map) = value.as_object() else {
        fail("--argon2: must be an object {\"memory_kib\", \"iterations\", \"parallelism\"}");
    };
    let mut p = Argon2Params::default();
    for (k, v) in map {
        let n = v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_else(|| fail(format!("--argon2: {k} must be a whole number")));
        match k.as_str() {
            "memory_kib" => p.memory_kib = n,
            "iterations" => p.iterations = n,
            "parallelism" => p.parallelism = n,
            _ => fail(format!(
                "--argon2: {k:?} is not an Argon2 parameter (memory_kib, iterations, parallelism)"
            )),
        }
    }
    p
}

fn parse_catalog(value: &str) -> Catalog {
    if value == "secure_access" {
        return Catalog::secure_access().clone();
    }
    let text = std::fs::read_to_string(value).unwrap_or_else(|e| {
        fail(format!(
            "--catalog {value}: {e} (give secure_access or a JSON file)"
        ))
    });
    Catalog::from_json(&text).unwrap_or_else(|e| fail(format!("--catalog {value}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_found() {
        assert!(url_has_password("postgresql://u:p@h/db"));
        assert!(url_has_password("postgres://u:p@h:5432/db?sslmode=require"));
        assert!(url_has_password("postgres://u@h/db?password=x"));
        assert!(url_has_password(
            "postgres://u@h/db?sslmode=require&password=x"
        ));
        assert!(!url_has_password("postgres://u@h:5432/db"));
        assert!(!url_has_password("postgres://h/db"));
        assert!(!url_has_password("keys.db"));
        assert!(!url_has_password("/tmp/a:b@c.db"));
    }

    #[test]
    fn fields_name_their_flags() {
        assert_eq!(flag_of("token_ttl"), "--token-ttl");
        assert_eq!(flag_of("argon2.memory_kib"), "--argon2");
        assert_eq!(flag_of("trusted_proxies[0]"), "--trusted-proxy");
        assert_eq!(flag_of("listen"), "--listen-notify");
    }

    #[test]
    fn on_off_values() {
        assert_eq!(on_off("ON"), Ok(true));
        assert_eq!(on_off("off"), Ok(false));
        assert!(on_off("maybe").is_err());
    }

    #[test]
    fn the_command_is_consistent() {
        Cli::command().debug_assert();
    }
}
