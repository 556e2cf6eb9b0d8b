//! # keyscope-server
//!
//! A standalone HTTP(S) server over one keyscope store (an SQLite file or a PostgreSQL
//! database): every route of `KeyStore::handle_http` — the OAuth client-credentials
//! token endpoint `POST /auth/v2/token`, RFC 8414 metadata
//! `GET /.well-known/oauth-authorization-server`, the JWK Set
//! `GET /.well-known/jwks.json`, introspection `POST /auth/v2/introspect`, revocation
//! `POST /auth/v2/revoke`, `GET /healthz` and the Key Admin API under `/admin/v2/` —
//! plus `GET /metrics` (Prometheus text) served by the server itself.
//!
//! ```text
//! keyscope-server --db keys.db --listen 127.0.0.1:8080
//! KEYSCOPE_DB="postgresql://keyscope:PASSWORD@db/keys" keyscope-server \
//!     --listen 0.0.0.0:8443 --issuer https://auth.example.com \
//!     --tls-cert cert.pem --tls-key key.pem --trusted-proxy 10.0.0.0/8
//! ```
//!
//! * **Options.** Every store option is a flag and a `KEYSCOPE_*` variable
//!   (`--token-ttl` / `KEYSCOPE_TOKEN_TTL`, …; `keyscope-server --help` lists them).
//!   A flag or variable that is wrong exits 2 with a message naming it.
//! * **Secrets never come from a flag value** (a command line is visible to every
//!   user): the key-encryption key from `KEYSCOPE_KEY_ENCRYPTION_KEY` or
//!   `--key-encryption-key-file`; HS256 signing keys from `KEYSCOPE_SIGNING_KEYS` or
//!   `--signing-keys-file` (`kid:base64` lines); a database password only inside the
//!   URL, from `KEYSCOPE_DB` or `--db-file` (`--db` refuses a URL with a password).
//! * **Issuer.** Without `--issuer`, a loopback listener is its own issuer,
//!   `http://HOST:PORT` of the bound address (`https://` with TLS); on any other
//!   address `--issuer` is required.
//! * **Readiness.** `--listen 127.0.0.1:0` takes a free port. Once the server accepts
//!   connections it prints one line, `listening on http://HOST:PORT` (or `https://`),
//!   to stdout. Logs go to stderr: one line a request (time, method, route pattern,
//!   status, duration, client address) and never a path, header, body, secret or
//!   token.
//! * **Client address.** The TCP peer; `X-Forwarded-For` counts only from
//!   `--trusted-proxy` addresses (the store applies it).
//! * **Limits.** Request head 16 KiB (431), body 64 KiB (413, from `Content-Length`
//!   or while reading), `--request-timeout` (10 s) for the head and then as much
//!   for the body (a stalled head is dropped, a stalled body answered 408).
//! * **Workers.** `handle_http` may run Argon2 (~12 ms), so it never runs on the
//!   threads that serve connections: requests with any method but GET and HEAD go to
//!   a pool of one thread per core (at most one call per core at a time); GET and HEAD
//!   (metadata, JWK Set, health and the Key Admin API's reads, which take a Bearer
//!   token, never a secret, so never run Argon2, but may wait on the database) go to
//!   a pool of four threads per core. Each pool queues up to `--max-queue` (64)
//!   requests; past that the answer is 503 with `Retry-After: 1`. Bodies too long to
//!   read are answered (413) without a pool: the store's size check comes before any
//!   work. `GET /metrics` is the server's own.
//! * **Metrics.** `GET /metrics`: `keyscope_http_requests_total{route,status}`,
//!   `keyscope_token_exchanges_total{outcome,status}`,
//!   `keyscope_http_request_duration_seconds{route}` (histogram), requests in flight,
//!   open connections, 503s for a full queue and dropped log lines. Routes are
//!   patterns (`/admin/v2/apiKeys/{id}`), never a key id.
//! * **Shutdown.** SIGTERM or SIGINT: stop accepting, let in-flight requests finish for
//!   up to 10 s, close the store, exit 0.
//! * **TLS.** `--tls-cert` and `--tls-key` (PEM) serve HTTPS with rustls.

mod cli;
mod log;
mod metrics;
mod pool;
mod server;
mod tls;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use keyscope_core::{ErrorKind, KeyStore};

use crate::cli::{Config, fail, flag_of};
use crate::metrics::Metrics;
use crate::server::{Server, Settings};

/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() {
    let config = Config::from_env();
    let tls = config
        .tls
        .as_ref()
        .map(|(cert, key)| tls::acceptor(cert, key).unwrap_or_else(|e| fail(e)));
    let workers = config.workers;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keyscope-server")
        .build()
        .unwrap_or_else(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1)
        });
    let metrics = Arc::new(Metrics::default());
    let log = log::Log::start(Arc::clone(&metrics));

    let code = runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", config.listen);
                return 1;
            }
        };
        let bound = listener
            .local_addr()
            .expect("a bound socket has an address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut options = config.options.clone();
        options.issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}"));
        let location = config.location.clone();
        let opened = tokio::task::spawn_blocking(move || KeyStore::open(&location, options)).await;
        let store = match opened {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == ErrorKind::InvalidInput => match e.field() {
                Some(field) => fail(format!("{e} (set by {})", flag_of(field))),
                None => fail(e),
            },
            Ok(Err(e)) => {
                eprintln!("error: cannot open the store: {e}");
                return 1;
            }
            Err(_) => {
                eprintln!("error: opening the store failed");
                return 1;
            }
        };
        let stop = match stop_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot watch SIGTERM/SIGINT: {e}");
                return 1;
            }
        };
        let server = match Server::new(
            store.clone(),
            Arc::clone(&metrics),
            log.clone(),
            Settings {
                workers,
                max_queue: config.max_queue,
                request_timeout: config.request_timeout,
            },
        ) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("error: cannot start the worker threads: {e}");
                return 1;
            }
        };
        log.event(format_args!(
            "keyscope-server {} serving {} as issuer {} ({workers} workers)",
            env!("CARGO_PKG_VERSION"),
            if config.location.contains("://") {
                "a PostgreSQL store"
            } else {
                "an SQLite store"
            },
            store.options().issuer,
        ));
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {scheme}://{bound}");
            let _ = out.flush();
        }
        server::run(
            server,
            listener,
            tls,
            config.max_connections,
            stop,
            SHUTDOWN_GRACE,
        )
        .await;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        log.event("store closed; bye");
        0
    });
    // Requests cut after the grace period may still hold a blocking thread: do not
    // wait for them.
    runtime.shutdown_timeout(Duration::from_millis(500));
    log.flush();
    std::process::exit(code);
}

/// Resolves on the first SIGTERM or SIGINT.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
