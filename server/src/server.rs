//! Connections and requests: HTTP/1.1 (hyper) over TCP or TLS, the limits, the worker
//! pools that call `KeyStore::handle_http`, metrics and the request log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use keyscope_core::endpoints::MAX_BODY_BYTES;
use keyscope_core::{HttpRequest, KeyStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::log::Log;
use crate::metrics::{Metrics, Route};
use crate::pool::Pool;

/// The request head (request line and headers) may be this long at most; longer is
/// answered 431 by hyper.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A body of `MAX_BODY_BYTES + 1` zeros: handed to the store in place of a body that
/// was too long to read, so it answers as for any longer body (413 on its routes, in
/// each route's format; 404/405 before that).
static TOO_LONG: [u8; MAX_BODY_BYTES + 1] = [0; MAX_BODY_BYTES + 1];

/// What every connection shares.
pub struct Server {
    store: KeyStore,
    /// The issuer's path (`""` when the routes live at `/`).
    base: String,
    metrics: Arc<Metrics>,
    log: Log,
    /// POST, PATCH, DELETE, …: may run Argon2; one thread per core.
    heavy: Pool,
    /// GET and HEAD: never run Argon2 (metadata, JWK Set, health, and the Key Admin
    /// API's reads, which take a Bearer token); they may still wait on the database,
    /// so they run on threads of their own too, four per core.
    light: Pool,
    request_timeout: Duration,
    log_resolved_client: bool,
}

/// Settings of [`Server::new`].
pub struct Settings {
    /// Calls of the heavy lane at once (the cores).
    pub workers: usize,
    /// Requests that may wait in each lane before 503.
    pub max_queue: usize,
    /// Time for a request's headers, then for its body.
    pub request_timeout: Duration,
}

fn plain(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

fn closing(mut r: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn enter(m: &'a Metrics) -> Self {
        m.in_flight.fetch_add(1, Relaxed);
        InFlight(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// What a request came to.
struct Answer {
    response: Response<Full<Bytes>>,
    /// The store answered (so the body is the store's).
    from_store: bool,
    /// The `error` member of a token-endpoint error body.
    oauth_error: Option<String>,
    /// The client as the store resolved it (trusted proxies), for the log.
    client: Option<String>,
}

impl Answer {
    fn server(response: Response<Full<Bytes>>) -> Answer {
        Answer {
            response,
            from_store: false,
            oauth_error: None,
            client: None,
        }
    }
}

impl Server {
    /// A server over `store`.
    pub fn new(
        store: KeyStore,
        metrics: Arc<Metrics>,
        log: Log,
        s: Settings,
    ) -> std::io::Result<Server> {
        let base = keyscope_core::endpoints::issuer_base_path(&store.options().issuer)
            .unwrap_or("")
            .to_owned();
        let log_resolved_client = !store.options().trusted_proxies.is_empty();
        Ok(Server {
            store,
            base,
            metrics,
            log,
            heavy: Pool::new("handle-http", s.workers.max(1), s.max_queue)?,
            light: Pool::new("handle-get", s.workers.max(1) * 4, s.max_queue)?,
            request_timeout: s.request_timeout,
            log_resolved_client,
        })
    }

    async fn serve(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let start = Instant::now();
        // Counted down even when the client goes away and this future is dropped.
        let _in_flight = InFlight::enter(&self.metrics);
        let path = req.uri().path();
        let route = Route::of(path, &self.base);
        let method = req.method().clone();
        let answer = if route == Route::Metrics && method == Method::GET {
            let mut r = plain(200, "");
            *r.body_mut() = Full::new(Bytes::from(self.metrics.render()));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Answer::server(r)
        } else {
            self.answer(req, route, peer, start).await
        };
        let status = answer.response.status().as_u16();
        let elapsed = start.elapsed();
        self.metrics.record(route, status, elapsed);
        if route == Route::Token && answer.from_store {
            self.metrics
                .record_exchange(status, answer.oauth_error.as_deref());
        }
        let peer_ip = peer.ip().to_string();
        let client = match answer.client {
            Some(c) if c != peer_ip => format!("{c} peer={peer_ip}"),
            _ => peer_ip,
        };
        self.log
            .request(method.as_str(), route, status, elapsed, &client);
        answer.response
    }

    async fn answer(
        self: &Arc<Self>,
        req: Request<Incoming>,
        route: Route,
        peer: SocketAddr,
        start: Instant,
    ) -> Answer {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            None
        } else {
            let read = Limited::new(body, MAX_BODY_BYTES).collect();
            match tokio::time::timeout_at((start + self.request_timeout).into(), read).await {
                Ok(Ok(collected)) => Some(collected.to_bytes()),
                Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => None,
                Ok(Err(_)) => {
                    return Answer::server(closing(plain(
                        400,
                        r#"{"error":"invalid_request","error_description":"the body could not be read"}"#,
                    )));
                }
                Err(_) => {
                    return Answer::server(closing(plain(
                        408,
                        r#"{"error":"request_timeout","error_description":"the request took too long to arrive"}"#,
                    )));
                }
            }
        };
        let peer_ip = peer.ip().to_string();
        let Some(body) = body else {
            // Too long: the store answers without reading it (no Argon2, no I/O before
            // its size check), right here.
            let r = self.call(&parts, &TOO_LONG, &peer_ip);
            let mut a = self.to_answer(r, route, &parts, &peer_ip);
            a.response = closing(a.response);
            return a;
        };
        let lane = if parts.method == Method::GET || parts.method == Method::HEAD {
            &self.light
        } else {
            &self.heavy
        };
        let server = Arc::clone(self);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = lane.submit(move || {
            let r = server.call(&parts, &body, &peer_ip);
            let _ = tx.send(server.to_answer(r, route, &parts, &peer_ip));
        });
        if !queued {
            self.metrics.rejected_busy.fetch_add(1, Relaxed);
            let mut r = plain(
                503,
                r#"{"error":"temporarily_unavailable","error_description":"the server is busy; retry"}"#,
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Answer::server(r);
        }
        match rx.await {
            Ok(a) => a,
            Err(_) => Answer::server(plain(
                500,
                r#"{"error":"server_error","error_description":"the authorization server failed"}"#,
            )),
        }
    }

    fn call(
        &self,
        parts: &hyper::http::request::Parts,
        body: &[u8],
        peer_ip: &str,
    ) -> keyscope_core::http::HttpResponse {
        let headers: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect();
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path(), |p| p.as_str());
        self.store.handle_http(&HttpRequest {
            method: parts.method.as_str(),
            path,
            headers: &headers,
            body,
            client_ip: Some(peer_ip),
            now: None,
        })
    }

    fn to_answer(
        &self,
        r: keyscope_core::http::HttpResponse,
        route: Route,
        parts: &hyper::http::request::Parts,
        peer_ip: &str,
    ) -> Answer {
        let oauth_error = (route == Route::Token && r.status != 200)
            .then(|| {
                serde_json::from_str::<serde_json::Value>(&r.body)
                    .ok()?
                    .get("error")?
                    .as_str()
                    .map(str::to_owned)
            })
            .flatten();
        let client = self.log_resolved_client.then(|| {
            let forwarded: Vec<&str> = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            self.store
                .client_address(peer_ip, &forwarded)
                .map_or_else(|| "-".to_owned(), |ip| ip.to_string())
        });
        let mut response = Response::new(Full::new(Bytes::from(r.body)));
        *response.status_mut() = hyper::StatusCode::from_u16(r.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in &r.headers {
            if let (Ok(n), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        Answer {
            response,
            from_store: true,
            oauth_error,
            client,
        }
    }
}

/// Accepts connections until `stop` resolves, then lets the open ones finish for up
/// to `grace`.
pub async fn run(
    server: Arc<Server>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    max_connections: usize,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("never closed"),
            () = &mut stop => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, go on.
                    server.log.event(format_args!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        let server = Arc::clone(&server);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            server.metrics.connections.fetch_add(1, Relaxed);
            match tls {
                None => connection(&server, TokioIo::new(tcp), peer, watcher).await,
                Some(acceptor) => {
                    // A failed or stalled handshake is dropped.
                    let handshake =
                        tokio::time::timeout(server.request_timeout, acceptor.accept(tcp));
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(&server, TokioIo::new(stream), peer, watcher).await
                    }
                }
            }
            server.metrics.connections.fetch_sub(1, Relaxed);
            drop(slot);
        });
    }
    drop(listener);
    server.log.event(format_args!(
        "shutting down: no new connections; {} open",
        graceful.count()
    ));
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        server
            .log
            .event("shutdown: connections still open after the grace period are cut");
    }
}

async fn connection<I>(server: &Arc<Server>, io: TokioIo<I>, peer: SocketAddr, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let s = Arc::clone(server);
    let service = service_fn(move |req| {
        let s = Arc::clone(&s);
        async move { Ok::<_, Infallible>(s.serve(req, peer).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(server.request_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(2 * MAX_HEAD_BYTES)
        .max_headers(100)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    // Errors here are the client's (a reset, a malformed or timed-out request head):
    // hyper already answered what could be answered.
    let _ = watcher.watch(conn).await;
}
