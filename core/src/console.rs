//! The key console (docs/console.md): a browser page at `<issuer path>/admin/` that
//! manages API keys through the Key Admin API, in the words of Cisco Secure Access's
//! Admin > API Keys page. Plain HTML, CSS and JavaScript compiled in; no build step,
//! nothing fetched from another origin, served under a strict Content-Security-Policy.

use crate::http::HttpResponse;

/// The policy every asset is served with: scripts, styles and requests from this
/// origin only, no inline code, no framing, no form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../console/index.html");

/// The assets: file name, media type, text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", INDEX_HTML),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    (
        "expired.svg",
        "image/svg+xml",
        include_str!("../console/expired.svg"),
    ),
    (
        "expiring.svg",
        "image/svg+xml",
        include_str!("../console/expiring.svg"),
    ),
    (
        "keyscope.svg",
        "image/svg+xml",
        include_str!("../console/keyscope.svg"),
    ),
];

/// True when `rel` (a path below the issuer's path, without the query) is the
/// console's: `/admin/` or `/admin/<file>`, never the Key Admin API under `/admin/v2`.
pub(crate) fn is_console_path(rel: &str) -> bool {
    rel.strip_prefix("/admin/")
        .is_some_and(|file| !file.contains('/') && file != "v2")
}

fn secured(mut r: HttpResponse) -> HttpResponse {
    for (name, value) in [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ] {
        r.headers.push((name.into(), value.into()));
    }
    r
}

fn text(status: u16, content_type: &str, cache: &str, body: &str) -> HttpResponse {
    secured(HttpResponse {
        status,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("Cache-Control".into(), cache.into()),
        ],
        body: body.to_owned(),
    })
}

/// Answers a request for `rel`, a console path (see [`is_console_path`]): the asset
/// for `GET`, 404 for an unknown file, 405 with `Allow: GET` for any other method.
pub(crate) fn serve(method: &str, rel: &str) -> HttpResponse {
    let file = match rel.strip_prefix("/admin/") {
        Some("") => "index.html",
        Some(f) => f,
        None => "",
    };
    let asset = ASSETS.iter().find(|(name, _, _)| *name == file);
    if method != "GET" {
        let mut r = text(
            405,
            "text/plain; charset=utf-8",
            "no-store",
            "method not allowed\n",
        );
        r.headers.push(("Allow".into(), "GET".into()));
        return r;
    }
    match asset {
        // The page itself is never cached: a signed-out browser shows nothing stale.
        Some((_, media, body)) if media.starts_with("text/html") => {
            text(200, media, "no-store", body)
        }
        Some((_, media, body)) => text(200, media, "no-cache", body),
        None => text(404, "text/plain; charset=utf-8", "no-store", "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_security_headers(r: &HttpResponse) {
        assert_eq!(
            r.header("Content-Security-Policy"),
            Some(CONTENT_SECURITY_POLICY)
        );
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"));
    }

    #[test]
    fn paths_of_the_console_are_not_the_apis() {
        for yes in ["/admin/", "/admin/console.js", "/admin/nothing"] {
            assert!(is_console_path(yes), "{yes}");
        }
        for no in [
            "/admin",
            "/admin/v2",
            "/admin/v2/",
            "/admin/v2/apiKeys",
            "/admin/a/b",
            "/auth/v2/token",
        ] {
            assert!(!is_console_path(no), "{no}");
        }
    }

    #[test]
    fn the_page_and_its_assets_are_served_with_a_strict_policy() {
        let page = serve("GET", "/admin/");
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(page.header("Cache-Control"), Some("no-store"));
        assert!(page.body.contains("<title>API Keys"));
        check_security_headers(&page);
        assert_eq!(serve("GET", "/admin/index.html").body, page.body);
        for (file, media) in [
            ("console.js", "text/javascript; charset=utf-8"),
            ("console.css", "text/css; charset=utf-8"),
            ("expired.svg", "image/svg+xml"),
            ("expiring.svg", "image/svg+xml"),
        ] {
            let r = serve("GET", &format!("/admin/{file}"));
            assert_eq!(r.status, 200, "{file}");
            assert_eq!(r.header("Content-Type"), Some(media), "{file}");
            assert!(!r.body.is_empty());
            check_security_headers(&r);
        }
        // Nothing inline: no script or style in the page, no style attributes.
        for inline in ["<script>", "<style", "style=", "onclick", "javascript:"] {
            assert!(!page.body.contains(inline), "{inline}");
        }
    }

    #[test]
    fn unknown_assets_are_404_and_other_methods_405() {
        let r = serve("GET", "/admin/secrets.txt");
        assert_eq!(r.status, 404);
        check_security_headers(&r);
        for method in ["POST", "PUT", "DELETE", "HEAD"] {
            for path in ["/admin/", "/admin/console.js", "/admin/missing"] {
                let r = serve(method, path);
                assert_eq!(r.status, 405, "{method} {path}");
                assert_eq!(r.header("Allow"), Some("GET"));
                check_security_headers(&r);
            }
        }
    }

    #[test]
    fn handle_http_serves_the_console_below_the_issuers_path() {
        let store = crate::KeyStore::open(
            ":memory:",
            crate::Options {
                issuer: "https://auth.example.com/t".into(),
                ..crate::Options::default()
            },
        )
        .unwrap();
        let get = |method: &str, path: &str| {
            store.handle_http(&crate::HttpRequest {
                method,
                path,
                headers: &[],
                body: b"",
                client_ip: Some("127.0.0.1"),
                now: None,
            })
        };
        let page = get("GET", "/t/admin/");
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(page.header("Cache-Control"), Some("no-store"));
        check_security_headers(&page);
        assert_eq!(get("GET", "/t/admin/?x=1").body, page.body);
        let js = get("GET", "/t/admin/console.js");
        assert_eq!(
            js.header("Content-Type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(get("GET", "/t/admin/nope.js").status, 404);
        let post = get("POST", "/t/admin/");
        assert_eq!((post.status, post.header("Allow")), (405, Some("GET")));
        // Outside the issuer's path there is no console; the Key Admin API is untouched.
        assert_eq!(get("GET", "/admin/").status, 404);
        let api = get("GET", "/t/admin/v2/apiKeys");
        assert_eq!(api.status, 401);
        assert!(api.header("Content-Security-Policy").is_none());
        assert_eq!(get("GET", "/t/admin/v2").status, 404);
    }
}
