//! Route patterns and the Prometheus counters kept for them. Labels are fixed texts
//! only (route patterns, status codes, outcome names): never a key id, a token or
//! anything else taken from a request.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The route patterns a request is counted and logged under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /auth/v2/token`
    Token,
    /// `POST /auth/v2/introspect`
    Introspect,
    /// `POST /auth/v2/revoke`
    Revoke,
    /// `GET /.well-known/jwks.json`
    Jwks,
    /// RFC 8414 metadata, under either of its paths.
    Metadata,
    /// `GET /healthz`
    Health,
    /// `/admin/v2/apiKeys`
    AdminKeys,
    /// `/admin/v2/apiKeys/{id}`
    AdminKey,
    /// `/admin/v2/apiKeys/{id}/refresh`
    AdminRefresh,
    /// `/admin/v2/catalog`
    AdminCatalog,
    /// Any other path under `/admin/v2`.
    AdminOther,
    /// `GET /metrics`, served by the server itself.
    Metrics,
    /// Anything else (404 from the store).
    Other,
}

impl Route {
    const ALL: [Route; 13] = [
        Route::Token,
        Route::Introspect,
        Route::Revoke,
        Route::Jwks,
        Route::Metadata,
        Route::Health,
        Route::AdminKeys,
        Route::AdminKey,
        Route::AdminRefresh,
        Route::AdminCatalog,
        Route::AdminOther,
        Route::Metrics,
        Route::Other,
    ];

    /// The pattern, as logged and used as the `route` label.
    pub fn pattern(self) -> &'static str {
        match self {
            Route::Token => "/auth/v2/token",
            Route::Introspect => "/auth/v2/introspect",
            Route::Revoke => "/auth/v2/revoke",
            Route::Jwks => "/.well-known/jwks.json",
            Route::Metadata => "/.well-known/oauth-authorization-server",
            Route::Health => "/healthz",
            Route::AdminKeys => "/admin/v2/apiKeys",
            Route::AdminKey => "/admin/v2/apiKeys/{id}",
            Route::AdminRefresh => "/admin/v2/apiKeys/{id}/refresh",
            Route::AdminCatalog => "/admin/v2/catalog",
            Route::AdminOther => "/admin/v2/{other}",
            Route::Metrics => "/metrics",
            Route::Other => "{other}",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The route of `path` (query string ignored) for a store whose routes live under
    /// `base` (the issuer's path, `""` for none). Mirrors core's routing.
    pub fn of(path: &str, base: &str) -> Route {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if path == "/metrics" {
            return Route::Metrics;
        }
        let metadata = "/.well-known/oauth-authorization-server";
        if path.strip_prefix(metadata).is_some_and(|rest| rest == base)
            || path.strip_prefix(base).is_some_and(|rest| rest == metadata)
        {
            return Route::Metadata;
        }
        let Some(rel) = path.strip_prefix(base) else {
            return Route::Other;
        };
        match rel {
            "/auth/v2/token" => return Route::Token,
            "/auth/v2/introspect" => return Route::Introspect,
            "/auth/v2/revoke" => return Route::Revoke,
            "/.well-known/jwks.json" => return Route::Jwks,
            "/healthz" => return Route::Health,
            "/admin/v2/catalog" => return Route::AdminCatalog,
            "/admin/v2/apiKeys" => return Route::AdminKeys,
            _ => {}
        }
        if let Some(rest) = rel.strip_prefix("/admin/v2/apiKeys/") {
            return match rest.split_once('/') {
                None if !rest.is_empty() => Route::AdminKey,
                Some((id, "refresh")) if !id.is_empty() => Route::AdminRefresh,
                _ => Route::AdminOther,
            };
        }
        if rel == "/admin/v2" || rel.starts_with("/admin/v2/") {
            return Route::AdminOther;
        }
        Route::Other
    }
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Outcomes of the token endpoint: `issued`, or the OAuth error code it answered.
const OUTCOMES: [&str; 10] = [
    "issued",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "invalid_scope",
    "unauthorized_client",
    "unsupported_grant_type",
    "rate_limited",
    "server_error",
    "other",
];

struct RouteStats {
    /// Responses by status code 100–599.
    statuses: Vec<AtomicU64>,
    /// Non-cumulative counts per bucket; the last one is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn new() -> Self {
        RouteStats {
            statuses: (0..500).map(|_| AtomicU64::new(0)).collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

/// Every counter the server keeps.
pub struct Metrics {
    routes: Vec<RouteStats>,
    /// Token endpoint outcomes × status.
    exchanges: Vec<[AtomicU64; 500]>,
    /// Requests currently being served.
    pub in_flight: AtomicI64,
    /// Connections open now.
    pub connections: AtomicI64,
    /// Requests answered 503 because the worker queue was full.
    pub rejected_busy: AtomicU64,
    /// Log lines dropped because stderr could not keep up.
    pub log_dropped: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            routes: Route::ALL.iter().map(|_| RouteStats::new()).collect(),
            exchanges: OUTCOMES
                .iter()
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            in_flight: AtomicI64::new(0),
            connections: AtomicI64::new(0),
            rejected_busy: AtomicU64::new(0),
            log_dropped: AtomicU64::new(0),
        }
    }
}

fn status_index(status: u16) -> usize {
    usize::from(status.clamp(100, 599) - 100)
}

impl Metrics {
    /// Counts one answered request.
    pub fn record(&self, route: Route, status: u16, elapsed: Duration) {
        let r = &self.routes[route.index()];
        r.statuses[status_index(status)].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        r.buckets[bucket].fetch_add(1, Relaxed);
        r.sum_micros
            .fetch_add(elapsed.as_micros().min(u64::MAX as u128) as u64, Relaxed);
    }

    /// Counts one answer of the token endpoint; `error` is the `error` member of its
    /// body (only known codes become labels).
    pub fn record_exchange(&self, status: u16, error: Option<&str>) {
        let outcome = if status == 200 {
            0
        } else {
            error
                .and_then(|e| OUTCOMES[1..].iter().position(|o| *o == e).map(|i| i + 1))
                .unwrap_or(OUTCOMES.len() - 1)
        };
        self.exchanges[outcome][status_index(status)].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        out.push_str(
            "# HELP keyscope_http_requests_total HTTP requests answered, by route pattern and status.\n\
             # TYPE keyscope_http_requests_total counter\n",
        );
        for route in Route::ALL {
            let r = &self.routes[route.index()];
            for (i, c) in r.statuses.iter().enumerate() {
                let n = c.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "keyscope_http_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                        route.pattern(),
                        i + 100
                    );
                }
            }
        }
        out.push_str(
            "# HELP keyscope_token_exchanges_total Answers of the token endpoint, by outcome \
             (issued or the OAuth error) and status.\n\
             # TYPE keyscope_token_exchanges_total counter\n",
        );
        for (o, outcome) in OUTCOMES.iter().enumerate() {
            for (i, c) in self.exchanges[o].iter().enumerate() {
                let n = c.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "keyscope_token_exchanges_total{{outcome=\"{outcome}\",status=\"{}\"}} {n}",
                        i + 100
                    );
                }
            }
        }
        out.push_str(
            "# HELP keyscope_http_request_duration_seconds Time from the request's headers to \
             its answer, by route pattern.\n\
             # TYPE keyscope_http_request_duration_seconds histogram\n",
        );
        for route in Route::ALL {
            let r = &self.routes[route.index()];
            let counts: Vec<u64> = r.buckets.iter().map(|b| b.load(Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let p = route.pattern();
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(&counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "keyscope_http_request_duration_seconds_bucket{{route=\"{p}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "keyscope_http_request_duration_seconds_bucket{{route=\"{p}\",le=\"+Inf\"}} {total}"
            );
            let sum = r.sum_micros.load(Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "keyscope_http_request_duration_seconds_sum{{route=\"{p}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "keyscope_http_request_duration_seconds_count{{route=\"{p}\"}} {total}"
            );
        }
        let gauges = [
            (
                "keyscope_http_requests_in_flight",
                "gauge",
                "Requests being served now.",
                self.in_flight.load(Relaxed).to_string(),
            ),
            (
                "keyscope_http_connections_open",
                "gauge",
                "Client connections open now.",
                self.connections.load(Relaxed).to_string(),
            ),
            (
                "keyscope_http_requests_rejected_busy_total",
                "counter",
                "Requests answered 503 because every worker was busy and the queue full.",
                self.rejected_busy.load(Relaxed).to_string(),
            ),
            (
                "keyscope_log_lines_dropped_total",
                "counter",
                "Request log lines dropped because stderr did not keep up.",
                self.log_dropped.load(Relaxed).to_string(),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_patterns() {
        assert_eq!(Route::of("/auth/v2/token", ""), Route::Token);
        assert_eq!(Route::of("/auth/v2/token?x=1", ""), Route::Token);
        assert_eq!(Route::of("/admin/v2/apiKeys", ""), Route::AdminKeys);
        assert_eq!(Route::of("/admin/v2/apiKeys/abc", ""), Route::AdminKey);
        assert_eq!(
            Route::of("/admin/v2/apiKeys/abc/refresh", ""),
            Route::AdminRefresh
        );
        assert_eq!(Route::of("/admin/v2/apiKeys/abc/x", ""), Route::AdminOther);
        assert_eq!(Route::of("/admin/v2/apiKeys/", ""), Route::AdminOther);
        assert_eq!(Route::of("/admin/v2/catalog", ""), Route::AdminCatalog);
        assert_eq!(
            Route::of("/.well-known/oauth-authorization-server", ""),
            Route::Metadata
        );
        assert_eq!(
            Route::of("/.well-known/oauth-authorization-server/t", "/t"),
            Route::Metadata
        );
        assert_eq!(
            Route::of("/t/.well-known/oauth-authorization-server", "/t"),
            Route::Metadata
        );
        assert_eq!(Route::of("/t/auth/v2/token", "/t"), Route::Token);
        assert_eq!(Route::of("/auth/v2/token", "/t"), Route::Other);
        assert_eq!(Route::of("/metrics", "/t"), Route::Metrics);
        assert_eq!(Route::of("/kss_secret", ""), Route::Other);
    }

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record(Route::Token, 200, Duration::from_micros(700));
        m.record(Route::Token, 401, Duration::from_millis(20));
        m.record_exchange(200, None);
        m.record_exchange(401, Some("invalid_client"));
        m.record_exchange(400, Some("made up"));
        let text = m.render();
        assert!(
            text.contains(
                "keyscope_http_requests_total{route=\"/auth/v2/token\",status=\"200\"} 1"
            )
        );
        assert!(text.contains(
            "keyscope_http_request_duration_seconds_bucket{route=\"/auth/v2/token\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "keyscope_http_request_duration_seconds_bucket{route=\"/auth/v2/token\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains(
            "keyscope_token_exchanges_total{outcome=\"invalid_client\",status=\"401\"} 1"
        ));
        assert!(
            text.contains("keyscope_token_exchanges_total{outcome=\"other\",status=\"400\"} 1")
        );
        assert!(!text.contains("made up"));
    }
}
