//! The built `keyscope-server` binary, run as a process: readiness, its own issuer,
//! an OAuth client-credentials exchange by the `oauth2` crate with the token verified
//! by `jsonwebtoken` against the served JWK Set, the limits, metrics, the request log
//! and SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyscope_core::{KeyStore, NewKey, Options};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

const BIN: &str = env!("CARGO_BIN_EXE_keyscope-server");
const FORM: &str = "application/x-www-form-urlencoded";

/// A running server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    base: String,
    stderr: Arc<Mutex<String>>,
    /// What the stdout reader says once stdout closes.
    stdout_end: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        Self::start_env(Some(db), extra, &[])
    }

    /// Without `db`, the environment must name the store (`KEYSCOPE_DB`).
    fn start_env(db: Option<&Path>, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        if let Some(db) = db {
            cmd.arg("--db").arg(db);
        }
        cmd.args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("KEYSCOPE_SIGNING_KEYS")
            .env_remove("KEYSCOPE_KEY_ENCRYPTION_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the server starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Anything else on stdout would be a bug: it is counted.
            let extra = lines.map_while(Result::ok).count();
            let _ = tx.send(format!("{extra} more lines"));
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no readiness line; stderr: {}",
                    stderr.lock().unwrap().as_str()
                );
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("readiness line: {line:?}"))
            .to_owned();
        let addr: SocketAddr = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .unwrap()
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            base,
            stderr,
            stdout_end: rx,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log once the request lines sent so far are written (the server writes
    /// them in batches every 10 ms): the log of the `GET /metrics` asked for here.
    fn log(&self) -> String {
        let _ = get(self.addr, "/metrics");
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.stderr();
            if log.contains("GET /metrics ") || Instant::now() > until {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0);
    }

    fn wait(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    (dir, path)
}

/// Creates a key in the SQLite file with the library itself, then closes it.
fn create_key(db: &Path, name: &str, grants: &[&str]) -> (String, String) {
    let store = KeyStore::open(db.to_str().unwrap(), Options::default()).unwrap();
    let (key, secret) = store
        .create_key(NewKey {
            name: name.into(),
            grants: grants.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        })
        .unwrap();
    store.close();
    (key.id, secret.expose().to_owned())
}

/// One request on its own connection; the whole answer as text.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let answer = raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status_of(&answer), body)
}

fn agent() -> oauth2::ureq::Agent {
    oauth2::ureq::AgentBuilder::new().redirects(0).build()
}

/// An agent that trusts `cert` (DER) only.
fn tls_agent(cert: &rustls_pki_types::CertificateDer<'static>) -> oauth2::ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    oauth2::ureq::AgentBuilder::new()
        .redirects(0)
        .tls_config(Arc::new(config))
        .build()
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn post_form(url: &str, auth: &str, form: &str) -> (u16, serde_json::Value) {
    let r = agent()
        .post(url)
        .set("Authorization", auth)
        .set("Content-Type", FORM)
        .send_string(form);
    let resp = match r {
        Ok(resp) => resp,
        Err(oauth2::ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = resp.status();
    (
        status,
        serde_json::from_str(&resp.into_string().unwrap()).unwrap(),
    )
}

#[test]
fn starts_on_a_free_port_and_is_its_own_issuer() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, &[]);
    let port = server.addr.port();
    assert_ne!(port, 0);
    assert_eq!(server.base, format!("http://127.0.0.1:{port}"));
    let (status, body) = get(server.addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = get(server.addr, "/.well-known/oauth-authorization-server");
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["issuer"], format!("http://127.0.0.1:{port}"));
    assert_eq!(
        doc["token_endpoint"],
        format!("http://127.0.0.1:{port}/auth/v2/token")
    );
    let (status, _) = get(server.addr, "/nope");
    assert_eq!(status, 404);
}

#[test]
fn an_oauth2_client_gets_a_token_that_verifies_against_the_jwk_set() {
    let (_dir, db) = temp_db();
    let (id, secret) = create_key(&db, "e2e", &["reports:read", "deployments:write"]);
    let server = Server::start(&db, &[]);

    // The client-credentials grant, by the oauth2 crate (client_secret_basic).
    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(secret.clone()))
        .set_token_uri(TokenUrl::new(server.url("/auth/v2/token")).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("reports:read".into()))
        .request(&agent())
        .expect("the token endpoint issues a token");
    let access = token.access_token().secret().clone();
    assert_eq!(
        token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["reports:read".to_owned()])
    );
    assert!(token.expires_in().is_some());

    // Verified by jsonwebtoken against the JWK Set the server publishes.
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(
        &agent()
            .get(&server.url("/.well-known/jwks.json"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the token's kid is in the JWK Set");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[&server.base]);
    validation.set_audience(&[&server.base]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&access, &key, &validation)
        .expect("the token verifies")
        .claims;
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "reports:read");

    // Another audience is refused.
    let mut other = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    other.set_audience(&["https://elsewhere.example.com"]);
    assert!(jsonwebtoken::decode::<serde_json::Value>(&access, &key, &other).is_err());

    // Introspection by the client itself, then revocation, then inactive.
    let auth = basic(&id, &secret);
    let (status, body) = post_form(
        &server.url("/auth/v2/introspect"),
        &auth,
        &format!("token={access}"),
    );
    assert_eq!((status, &body["active"]), (200, &serde_json::json!(true)));
    assert_eq!(body["client_id"], id.as_str());
    let (status, _) = post_form(
        &server.url("/auth/v2/revoke"),
        &auth,
        &format!("token={access}"),
    );
    assert_eq!(status, 200);
    let (_, body) = post_form(
        &server.url("/auth/v2/introspect"),
        &auth,
        &format!("token={access}"),
    );
    assert_eq!(body["active"], false);

    // A wrong secret is invalid_client, counted as such.
    let (status, body) = post_form(
        &server.url("/auth/v2/token"),
        &basic(&id, "kss_wrong"),
        "grant_type=client_credentials",
    );
    assert_eq!(
        (status, &body["error"]),
        (401, &serde_json::json!("invalid_client"))
    );

    // The store's keys live in the file: a library handle sees the key used.
    let store = KeyStore::open(db.to_str().unwrap(), Options::default()).unwrap();
    assert!(store.get_key(&id, None).unwrap().last_used_at.is_some());
    store.close();

    let (_, metrics) = get(server.addr, "/metrics");
    assert!(
        metrics.contains(r#"keyscope_token_exchanges_total{outcome="issued",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"keyscope_token_exchanges_total{outcome="invalid_client",status="401"} 1"#),
        "{metrics}"
    );

    // The log has a line a request, and no secret, token or key id.
    let log = server.log();
    assert!(log.contains("POST /auth/v2/token 200 "), "{log}");
    assert!(log.contains("POST /auth/v2/introspect 200 "), "{log}");
    for secretish in [&secret, &access, &id] {
        assert!(!log.contains(secretish.as_str()), "{log}");
    }
}

#[test]
fn bodies_heads_and_slow_clients_are_limited() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, &["--request-timeout", "1"]);
    let addr = server.addr;

    // A declared body over 64 KiB: 413 without reading it.
    let answer = raw(
        addr,
        b"POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 70000\r\n\r\n",
    );
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert!(answer.contains("request_too_large"), "{answer}");

    // A chunked body that grows past 64 KiB: 413 once it does.
    let mut req =
        b"POST /auth/v2/introspect HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..20 {
        req.extend_from_slice(format!("{:x}\r\n", 4096).as_bytes());
        req.extend_from_slice(&[b'a'; 4096]);
        req.extend_from_slice(b"\r\n");
    }
    let answer = raw(addr, &req);
    assert_eq!(status_of(&answer), 413, "{answer}");

    // The Key Admin API answers 413 in its own format.
    let answer = raw(
        addr,
        b"POST /admin/v2/apiKeys HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n",
    );
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert!(answer.contains(r#""message":"error""#), "{answer}");

    // Headers over 16 KiB.
    let big = "x".repeat(17 * 1024);
    let answer = raw(
        addr,
        format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    );
    assert!(
        matches!(status_of(&answer), 431 | 400),
        "{}",
        &answer[..80.min(answer.len())]
    );

    // A client that sends half a head and stalls is closed after the timeout, while
    // other requests are served meanwhile.
    let started = Instant::now();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nContent-Ty")
        .unwrap();
    let mut slow_body = TcpStream::connect(addr).unwrap();
    slow_body
        .write_all(
            b"POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\ngrant_type=",
        )
        .unwrap();
    for _ in 0..5 {
        assert_eq!(get(addr, "/healthz").0, 200);
    }
    assert!(started.elapsed() < Duration::from_millis(900));
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let n = slow.read_to_end(&mut rest).unwrap_or(0);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    let text = String::from_utf8_lossy(&rest[..n]);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // A stalled body is answered 408 and closed.
    slow_body
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = slow_body.read_to_string(&mut answer);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
    assert_eq!(get(addr, "/healthz").0, 200);

    // A client that leaves in the middle of its body is no longer in flight (only the
    // metrics request itself is).
    let mut gone = TcpStream::connect(addr).unwrap();
    gone.write_all(b"POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(gone);
    std::thread::sleep(Duration::from_millis(200));
    let (_, metrics) = get(addr, "/metrics");
    assert!(
        metrics.contains("\nkeyscope_http_requests_in_flight 1\n"),
        "{metrics}"
    );
}

#[test]
fn metrics_count_route_patterns_never_key_ids() {
    let (_dir, db) = temp_db();
    let (admin_id, admin_secret) = create_key(&db, "admin", &["admin.apikeys:write"]);
    let (other_id, _) = create_key(&db, "other", &["reports:read"]);
    let server = Server::start(&db, &[]);
    let (status, body) = post_form(
        &server.url("/auth/v2/token"),
        &basic(&admin_id, &admin_secret),
        "grant_type=client_credentials",
    );
    assert_eq!(status, 200, "{body}");
    let bearer = format!("Bearer {}", body["access_token"].as_str().unwrap());
    for path in [
        format!("/admin/v2/apiKeys/{other_id}"),
        "/admin/v2/apiKeys".to_owned(),
        "/admin/v2/apiKeys/nonexistent".to_owned(),
    ] {
        let r = agent()
            .get(&server.url(&path))
            .set("Authorization", &bearer)
            .call();
        let status = match r {
            Ok(r) => r.status(),
            Err(oauth2::ureq::Error::Status(s, _)) => s,
            Err(e) => panic!("{e}"),
        };
        assert!(status == 200 || status == 404, "{path}: {status}");
    }
    let (status, metrics) = get(server.addr, "/metrics");
    assert_eq!(status, 200);
    for line in [
        r#"keyscope_http_requests_total{route="/admin/v2/apiKeys/{id}",status="200"} 1"#,
        r#"keyscope_http_requests_total{route="/admin/v2/apiKeys/{id}",status="404"} 1"#,
        r#"keyscope_http_requests_total{route="/admin/v2/apiKeys",status="200"} 1"#,
        r#"keyscope_http_requests_total{route="/auth/v2/token",status="200"} 1"#,
        r#"keyscope_token_exchanges_total{outcome="issued",status="200"} 1"#,
        r#"keyscope_http_request_duration_seconds_count{route="/admin/v2/apiKeys/{id}"} 2"#,
        "# TYPE keyscope_http_request_duration_seconds histogram",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    for id in [&admin_id, &other_id] {
        assert!(!metrics.contains(id.as_str()));
    }
    assert!(!metrics.contains("nonexistent"));
    let log = server.log();
    assert!(log.contains("GET /admin/v2/apiKeys/{id} 200 "), "{log}");
    assert!(
        !log.contains(&other_id) && !log.contains("nonexistent"),
        "{log}"
    );
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let (_dir, db) = temp_db();
    let (id, secret) = create_key(&db, "inflight", &["reports:read"]);
    let mut server = Server::start(&db, &[]);
    let addr = server.addr;
    let body = "grant_type=client_credentials";
    let auth = basic(&id, &secret);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    // No new connections once it is shutting down.
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still accepting"
    );
    s.write_all(&body.as_bytes()[5..]).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(answer.contains("access_token"));
    let status = server.wait(Duration::from_secs(12));
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    let until = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("store closed") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10)); // the pipe is still being read
    }
    assert!(
        server.stderr().contains("store closed"),
        "{}",
        server.stderr()
    );
    assert_eq!(
        server
            .stdout_end
            .recv_timeout(Duration::from_secs(5))
            .unwrap(),
        "0 more lines",
        "stdout has the readiness line only"
    );
}

#[test]
fn sigint_on_an_idle_server_exits_0_at_once() {
    let (_dir, db) = temp_db();
    let mut server = Server::start(&db, &[]);
    assert_eq!(get(server.addr, "/healthz").0, 200);
    let t = Instant::now();
    server.signal(libc::SIGINT);
    assert_eq!(server.wait(Duration::from_secs(5)).code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(3));
}

fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("KEYSCOPE_DB");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    let (_dir, db) = temp_db();
    let db = db.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--db", db, "--listen", "0.0.0.0:0"],
            "--issuer is required",
        ),
        (vec!["--db", db, "--token-ttl", "5"], "--token-ttl"),
        (vec!["--db", db, "--argon2", "{\"memory\":1}"], "--argon2"),
        (
            vec!["--db", db, "--trusted-proxy", "10.0.0.1/8"],
            "--trusted-proxy",
        ),
        (vec!["--db", db, "--listen-notify", "maybe"], "on or off"),
        (vec!["--db", db, "--token-alg", "none"], "--token-alg"),
        (
            vec!["--db", db, "--catalog", "/no/such/file.json"],
            "--catalog",
        ),
        (vec!["--db", db, "--no-such-flag"], "--no-such-flag"),
        (
            vec!["--db", "postgresql://keyscope:hunter2@db/keys"],
            "KEYSCOPE_DB or --db-file",
        ),
        (vec![], "the store is required"),
    ];
    for (args, needle) in cases {
        let (code, stderr) = run_to_exit(&args, &[]);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    // From the environment too.
    let (code, stderr) = run_to_exit(&["--db", db], &[("KEYSCOPE_LEEWAY", "600")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--leeway"), "{stderr}");
}

#[test]
fn options_from_flags_environment_and_files_reach_the_store() {
    let (dir, db) = temp_db();
    let keys = dir.path().join("signing-keys");
    std::fs::write(
        &keys,
        "# HS256\nk1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
    )
    .unwrap();
    let db_file = dir.path().join("db-location");
    std::fs::write(&db_file, format!("{}\n", db.display())).unwrap();
    let (id, secret) = create_key(&db, "opts", &["reports:read"]);
    let mut cmd_args = vec![
        "--signing-keys-file".to_owned(),
        keys.display().to_string(),
        "--audience".to_owned(),
        "reports-api".to_owned(),
    ];
    cmd_args.extend(["--token-ttl".to_owned(), "120".to_owned()]);
    // --db-file instead of --db: start by hand.
    let mut child = Command::new(BIN)
        .args([
            "--db-file",
            db_file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(&cmd_args)
        .env_remove("KEYSCOPE_DB")
        .env("KEYSCOPE_LEEWAY", "5")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let (status, body) = post_form(
        &format!("{base}/auth/v2/token"),
        &basic(&id, &secret),
        "grant_type=client_credentials",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 120);
    let access = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some("k1"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["reports-api"]);
    validation.set_issuer(&[&base]);
    jsonwebtoken::decode::<serde_json::Value>(
        access,
        &jsonwebtoken::DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        &validation,
    )
    .expect("signed with the key from the file");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_full_queue_is_answered_503_with_retry_after() {
    let (_dir, db) = temp_db();
    // A key whose hash costs ~0.5 s to check: the one worker is busy that long.
    let store = KeyStore::open(
        db.to_str().unwrap(),
        Options {
            argon2: keyscope_core::Argon2Params {
                memory_kib: 64 * 1024,
                iterations: 8,
                parallelism: 1,
            },
            ..Options::default()
        },
    )
    .unwrap();
    let (key, secret) = store
        .create_key(NewKey {
            name: "slow".into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    store.close();
    let server = Server::start(&db, &["--workers", "1", "--max-queue", "1"]);
    let auth = basic(&key.id, secret.expose());
    let body = "grant_type=client_credentials";
    let request = format!(
        "POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let barrier = Arc::new(std::sync::Barrier::new(6));
    let started = Instant::now();
    let exchanges: Vec<_> = (0..5)
        .map(|_| {
            let (b, r, addr) = (Arc::clone(&barrier), request.clone(), server.addr);
            std::thread::spawn(move || {
                b.wait();
                raw(addr, r.as_bytes())
            })
        })
        .collect();
    barrier.wait();
    // GETs have threads of their own: health answers while the one worker hashes.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(get(server.addr, "/healthz").0, 200);
    let health_after = started.elapsed();
    let answers: Vec<String> = exchanges.into_iter().map(|h| h.join().unwrap()).collect();
    let all_after = started.elapsed();
    assert!(
        health_after * 2 < all_after,
        "health after {health_after:?}, the exchanges after {all_after:?}"
    );
    let statuses: Vec<u16> = answers.iter().map(|a| status_of(a)).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    let busy: Vec<&String> = answers.iter().filter(|a| status_of(a) == 503).collect();
    assert!(!busy.is_empty(), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    for a in &busy {
        assert!(a.to_ascii_lowercase().contains("retry-after: 1\r\n"), "{a}");
        assert!(a.contains("temporarily_unavailable"), "{a}");
    }
    let (_, metrics) = get(server.addr, "/metrics");
    assert!(
        metrics.contains(&format!(
            "keyscope_http_requests_rejected_busy_total {}",
            busy.len()
        )),
        "{metrics}"
    );
    // And it goes on serving.
    assert_eq!(get(server.addr, "/healthz").0, 200);
}

#[test]
fn serves_https_with_the_certificate_given() {
    let (dir, db) = temp_db();
    let (id, secret) = create_key(&db, "tls", &["reports:read"]);
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = server.addr.port();
    assert_eq!(server.base, format!("https://127.0.0.1:{port}"));
    let http = tls_agent(certified.cert.der());
    let health = http.get(&server.url("/healthz")).call().unwrap();
    assert_eq!(health.status(), 200);
    let doc: serde_json::Value = serde_json::from_str(
        &http
            .get(&server.url("/.well-known/oauth-authorization-server"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["issuer"], format!("https://127.0.0.1:{port}"));
    let token = BasicClient::new(ClientId::new(id))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(server.url("/auth/v2/token")).unwrap())
        .exchange_client_credentials()
        .request(&http)
        .expect("a token over TLS");
    assert!(!token.access_token().secret().is_empty());
    // Plain HTTP on the TLS port gets no HTTP answer; an untrusting client fails.
    let answer = raw(server.addr, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(agent().get(&server.url("/healthz")).call().is_err());
}

#[test]
fn bad_tls_files_exit_2() {
    let (dir, db) = temp_db();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let db = db.to_str().unwrap();
    let e = empty.to_str().unwrap();
    let (code, stderr) = run_to_exit(&["--db", db, "--tls-cert", e, "--tls-key", e], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
    let (code, stderr) = run_to_exit(&["--db", db, "--tls-cert", e], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

/// On the PostgreSQL server of the core suites when they run on it
/// (`KEYSCOPE_TEST_BACKEND=postgres`, `KEYSCOPE_TEST_DATABASE_URL`), in a schema of its
/// own, dropped afterwards.
#[test]
fn serves_a_postgresql_store_named_by_the_environment() {
    if std::env::var("KEYSCOPE_TEST_BACKEND").as_deref() != Ok("postgres") {
        return;
    }
    let url = std::env::var("KEYSCOPE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("kss_server_{}", std::process::id());
    struct DropSchema<'a>(&'a str, &'a str);
    impl Drop for DropSchema<'_> {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(self.0, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.1));
            }
        }
    }
    let _cleanup = DropSchema(&url, &schema);
    let mut options = Options::default();
    options.store.schema = Some(schema.clone());
    let store = KeyStore::open(&url, options).expect("the PostgreSQL server answers");
    let (key, secret) = store
        .create_key(NewKey {
            name: "pg".into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    store.close();
    let mut server = Server::start_env(
        None,
        &[
            "--schema",
            &schema,
            "--pool-size",
            "2",
            "--listen-notify",
            "off",
        ],
        &[("KEYSCOPE_DB", &url)],
    );
    assert_eq!(get(server.addr, "/healthz").0, 200);
    let token = BasicClient::new(ClientId::new(key.id.clone()))
        .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
        .set_token_uri(TokenUrl::new(server.url("/auth/v2/token")).unwrap())
        .exchange_client_credentials()
        .request(&agent())
        .expect("a token from the PostgreSQL store");
    let (status, body) = post_form(
        &server.url("/auth/v2/introspect"),
        &basic(&key.id, secret.expose()),
        &format!("token={}", token.access_token().secret()),
    );
    assert_eq!((status, &body["active"]), (200, &serde_json::json!(true)));
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(Duration::from_secs(12)).code(), Some(0));
}

#[test]
fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
    let (_dir, db) = temp_db();
    let store = KeyStore::open(db.to_str().unwrap(), Options::default()).unwrap();
    let (key, secret) = store
        .create_key(NewKey {
            name: "office".into(),
            grants: vec!["reports:read".into()],
            networks: vec!["64.100.10.0/24".into()],
            ..Default::default()
        })
        .unwrap();
    store.close();
    let auth = basic(&key.id, secret.expose());
    let body = "grant_type=client_credentials";
    let exchange = |addr: SocketAddr, forwarded: Option<&str>| {
        let xff = forwarded.map_or(String::new(), |f| format!("X-Forwarded-For: {f}\r\n"));
        status_of(&raw(
            addr,
            format!(
                "POST /auth/v2/token HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nContent-Type: {FORM}\r\n{xff}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        ))
    };
    // No trusted proxy: X-Forwarded-For is ignored, the peer 127.0.0.1 is refused.
    let direct = Server::start(&db, &[]);
    assert_eq!(exchange(direct.addr, Some("64.100.10.7")), 401);
    let log = direct.log();
    assert!(log.contains("POST /auth/v2/token 401 "), "{log}");
    assert!(!log.contains("64.100.10.7"), "{log}");
    drop(direct);
    // Behind a trusted proxy on loopback: the forwarded address is the client.
    let proxied = Server::start_env(
        None,
        &["--db", db.to_str().unwrap()],
        &[("KEYSCOPE_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")],
    );
    assert_eq!(exchange(proxied.addr, Some("64.100.10.7")), 200);
    assert_eq!(exchange(proxied.addr, Some("64.100.11.1")), 401);
    assert_eq!(exchange(proxied.addr, None), 401);
    let log = proxied.log();
    assert!(
        log.contains("POST /auth/v2/token 200 ")
            && log.contains("client=64.100.10.7 peer=127.0.0.1"),
        "{log}"
    );
}
